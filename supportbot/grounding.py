"""Grounding: whether an answer stands on the snippets it cites. Pure functions.

A small model can cite the right snippet and still invent: a price the snippet does not
state, a number inverted, a card the snippet does not accept, a weather forecast behind a
refunds citation. Every check before this one passes such an answer. Three checks, cheap and
explainable, run on each answer before a customer sees it:

1. Facts. Every price, percentage, number, date, time, email address, phone number and URL
   in the reply must appear in the cited snippets or in the customer's own messages (an
   order number the customer gave may be repeated back). Compared in a normal form:
   "$12.00" matches "12", "1,000" matches "1000", "9am" matches "9:00", an email or a URL
   whatever its case, a phone number whatever its spacing. The numbers of a numbered list
   count too: of the 8 lists of steps a 1.5B model wrote in 266 answers, 7 were steps no
   snippet gives ("1. Log in to your account. 2. Go to the 'Top-ups' section...") and the
   8th stitched three snippets together.
2. Names (strict only). Every name the reply uses mid-sentence (a run of capitalised words:
   "American Express", "Monday", a menu called 'Settings') must appear in the cited snippets
   or in the bot's own words (its name and system prompt). The customer's words do not
   count: of 135 answers of the 1.5B model, the two that said "You can top up with American
   Express" (the snippet: Visa and Mastercard) took the name from the question. An acronym
   the customer used ("ATM", "ID") may be said back. Words that open a sentence are not
   names to it, nor a name after "Hi" or "Thanks" (the customer's own). On those answers it
   named 6 that its snippets do not back (also an invented Chemex rule, roast days stitched
   into an address answer, a menu path the snippet does not give) and no sound one; run live,
   9 first answers, 8 of them wrong or misleading ("any cash machine in Spain" was right). In a
   language that capitalises every noun (German) it would name most of them: `lenient` there.
3. Meaning. The reply must be close to the cited snippets: the retriever's closeness
   (sentence-vector cosine with the semantic engine, the share of the reply's content
   words found in the snippets with the lexical one) at least the engine's floor.

`strict` applies all three; `lenient` checks only the facts a customer acts on (prices,
percentages, emails, phone numbers, URLs) and only rejects replies that have nothing in
common with their snippets; `off` checks nothing. The floors were set on the answers of a
real 1.5B model (README, "A real model").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CLOSENESS_FLOOR",
    "GroundingMode",
    "check_grounding",
    "facts",
    "names",
    "unsupported_facts",
    "unsupported_names",
]

GroundingMode = Literal["strict", "lenient", "off"]

#: The least closeness an answer needs, by engine and mode.
CLOSENESS_FLOOR: dict[str, dict[str, float]] = {
    "semantic": {"strict": 0.3, "lenient": 0.15},
    "lexical": {"strict": 0.3, "lenient": 0.1},
}

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>()\"']+[^\s<>()\"'.,;:!?]")
_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_PHONE = re.compile(r"(?<![\w.,:])\+?\(?\d[\d ().-]{5,}\d(?![\w%])")
_TIME = re.compile(r"(?i)\b\d{1,2}(?::\d{2})?\s?(?:[ap]\.?m\b\.?)|\b\d{1,2}:\d{2}\b")
_MONEY = re.compile(r"(?i)[$€£¥]\s?\d[\d,.]*\d|[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b")
_PERCENT = re.compile(r"\b\d[\d,.]*\s?(?:%|percent\b)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
#: Fact kinds in the order they are taken out of the text (a URL holds numbers, a price is
#: one), and whether `lenient` checks them.
_KINDS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("URL", _URL, True),
    ("email address", _EMAIL, True),
    ("date", _DATE, False),
    ("time", _TIME, False),
    ("price", _MONEY, True),
    ("percentage", _PERCENT, True),
    ("phone number", _PHONE, True),
    ("number", _NUMBER, False),
)


@dataclass(frozen=True)
class Fact:
    kind: str
    text: str


def facts(text: str) -> list[Fact]:
    """The checkable facts of a text in reading order, each taken out once (a URL's digits
    are not numbers of their own)."""
    rest = text
    found: list[tuple[int, Fact]] = []
    for kind, pattern, _ in _KINDS:
        for match in [m for m in pattern.finditer(rest) if _counts(kind, m.group())]:
            found.append((match.start(), Fact(kind, match.group().strip())))
            # Blanked out at the same length, so that positions stay those of `text`.
            rest = rest[: match.start()] + " " * len(match.group()) + rest[match.end() :]
    return [fact for _, fact in sorted(found, key=lambda pair: pair[0])]


def _counts(kind: str, value: str) -> bool:
    # Fewer than 7 digits is a range ("5-10") or a short number: left to the number check.
    return kind != "phone number" or len(_digits(value)) >= 7


def _numbers(text: str) -> set[str]:
    """Every number of a text in a normal form: no thousands commas, no trailing zeros."""
    out = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw) else raw.replace(",", ".")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.add(value.lstrip("0") or "0")
    return out


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# A price is no percentage: "£2" does not stand on "a 2% fee" (seen from the 1.5B model).
_OTHER_UNIT = {"price": "percentage", "percentage": "price"}


def _supported(fact: Fact, sources: str, numbers: dict[str, set[str]], phones: set[str]) -> bool:
    if fact.kind in _OTHER_UNIT:
        return _numbers(fact.text) <= numbers[fact.kind] | (numbers["number"] - numbers[_OTHER_UNIT[fact.kind]])
    if fact.kind in ("URL", "email address"):
        return fact.text.lower().rstrip("/") in sources.lower()
    if fact.kind == "phone number":
        # "020 7946 0000" is "+44 20 7946 0000" without the country code, and the reverse.
        digits = _digits(fact.text).lstrip("0")
        return any(digits in known or digits.endswith(known) for known in phones)
    return _numbers(fact.text) <= numbers["number"]


def unsupported_facts(reply: str, snippets: Sequence[str], customer: Sequence[str], lenient: bool = False) -> list[str]:
    """The reply's facts that neither the snippets nor the customer's messages state,
    described for a repair request ("the price '$15'")."""
    sources = "\n".join([*snippets, *customer])
    stated = facts(sources)
    numbers = {kind: _numbers(" ".join(f.text for f in stated if f.kind == kind)) for kind in _OTHER_UNIT}
    numbers["number"] = _numbers(sources)
    phones = {_digits(m.group()).lstrip("0") for m in _PHONE.finditer(sources) if _counts("phone number", m.group())}
    checked = {kind for kind, _, in_lenient in _KINDS if in_lenient or not lenient}
    problems = [
        f"the {f.kind} {f.text!r}"
        for f in facts(reply)
        if f.kind in checked and not _supported(f, sources, numbers, phones)
    ]
    return list(dict.fromkeys(problems))


# A run of capitalised words; an apostrophe only inside a word ("McDonald's", not a quote).
_NAME_WORD = re.compile(r"[A-Za-z](?:[\w&-]|['’](?=\w))*")
# What ends a sentence, a clause that starts afresh, or a list item's number or bullet.
_OPENS = re.compile(r"(?:[.!?:;\n]|^)\s*(?:[-*•]\s*|\d+[.)]\s*)?[\"'“‘(]*$")
_NOT_NAMES = frozenset({"i", "i'm", "i've", "i'll", "i'd", "ok", "celsius", "fahrenheit"})
# "Hi Sarah", "Thanks, Sarah": the customer's own name.
_ADDRESSING = frozenset({"hi", "hello", "hey", "dear", "thanks", "thank", "welcome", "bye", "goodbye"})


def names(text: str) -> list[str]:
    """The names a text uses mid-sentence, in reading order: runs of capitalised words, each
    without a possessive 's."""
    found: list[str] = []
    run: list[str] = []
    end, previous = 0, ""
    for match in _NAME_WORD.finditer(text):
        word, between = match.group(), text[end : match.start()]
        if run and (not word[0].isupper() or between.strip()):
            found.append(" ".join(run))
            run = []
        # Searched from the previous word on: what opens a sentence lies between the two.
        opens = _OPENS.search(text, end, match.start()) is not None
        addressed = previous.lower() in _ADDRESSING and not between.strip(" ,")
        if word[0].isupper() and (run or not (opens or addressed or word.lower() in _NOT_NAMES or len(word) == 1)):
            run.append(re.sub(r"['’]s$", "", word))
        end, previous = match.end(), word
    if run:
        found.append(" ".join(run))
    return found


def unsupported_names(reply: str, sources: Sequence[str], customer: Sequence[str]) -> list[str]:
    """The reply's names that neither `sources` (the cited snippets, the bot's own words) nor,
    for an acronym, the customer's messages contain."""
    known = "\n".join(sources).lower()
    said = "\n".join(customer).lower()

    def contains(text: str, name: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", text) is not None

    problems = [
        f"the name {name!r}"
        for name in names(reply)
        if not contains(known, name) and not (name.isupper() and contains(said, name))
    ]
    return list(dict.fromkeys(problems))


def check_grounding(
    reply: str,
    snippets: Sequence[str],
    customer: Sequence[str],
    closeness: float,
    mode: GroundingMode,
    floor: float,
    own_words: Sequence[str] = (),
) -> list[str]:
    """What in `reply` its snippets do not support (empty: it stands). `closeness` is the
    retriever's measure of the reply against the snippets; `floor` the least it may be;
    `own_words` the bot's name and system prompt, where names may come from too."""
    if mode == "off":
        return []
    problems = unsupported_facts(reply, snippets, customer, lenient=mode == "lenient")
    if mode == "strict":
        problems += unsupported_names(reply, [*snippets, *own_words], customer)
    if closeness < floor:
        problems.append(f"the reply is not about what the cited snippets say (closeness {closeness:.2f})")
    return problems
