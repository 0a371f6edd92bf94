"""What retrieval says about a message, and reading a customer's answer to a clarification.
Pure functions.

Retrieval knows, calibrated per bot (`offline.min_score`), when the knowledge matches a
message: well enough to answer, plausibly (some snippets are close, none is clear), not at
all, or closer to the bot's hand-off examples than to any snippet. When unsure, a bot asks
("Did you mean: (1) Opening hours, (2) Booking a repair - or shall I get a person?") instead
of guessing or giving up; the customer's next message may pick an option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from . import textnorm
from .decision import Option
from .person import asks_for_person
from .retrieval.base import Candidate
from .retrieval.lexical import terms
from .retrieval.spelling import distance

__all__ = [
    "NEARBY",
    "NONE_MEANT",
    "PERSON",
    "Evidence",
    "Verdict",
    "asked_again_text",
    "clarification_text",
    "continued",
    "declines_options",
    "judge_retrieval",
    "missed_option",
    "points_without_naming",
    "read_pick",
    "read_several",
    "says_too_little",
    "says_which_not",
    "which_ones_text",
]

#: How many snippets a clarification offers at most.
MAX_OPTIONS = 3
# A clarification also offers snippets this far below `clarify_score`: the right one is often
# the runner-up just under the floor. Chosen on train rows that no few-shot banking bot holds
# (the bots of bench/few_shot.py): at k = 5 with a band of 0.05, gaps of 0.10 and 0.15
# resolved 1.2 and 1.7 points more of in-scope questions by clarifying; 0.10, as every option
# shown is one more for the customer to read. On valid.jsonl: 0.748 to 0.758. Hand-offs do not
# move: the bot clarifies in the same cases as before, with more to choose from.
NEARBY = 0.10


class Evidence(StrEnum):
    MATCH = "match"  # the best snippet matches well enough to answer
    UNSURE = "unsure"  # some snippets are plausible, none clearly
    NO_MATCH = "no_match"  # nothing in the knowledge is close
    HANDOFF_EXAMPLE = "handoff_example"  # closer to a hand-off example than to any snippet


@dataclass(frozen=True)
class Verdict:
    evidence: Evidence
    options: tuple[Candidate, ...]  # with UNSURE: the plausible snippets, best first
    detail: str  # for logs and agents


def judge_retrieval(
    candidates: Sequence[Candidate], handoff_match: float, min_score: float, clarify_score: float
) -> Verdict:
    """How well the knowledge matches a message. The best match answers when the evidence
    reaches `min_score` and it clearly leads the runner-up; from `clarify_score` up the
    bot is unsure, offering the plausible snippets; below, nothing matches."""
    ranked = sorted(candidates, key=lambda c: c.match, reverse=True)
    best = ranked[0] if ranked else None
    best_match = best.match if best else 0.0
    level = max((c.evidence for c in ranked), default=0.0)
    if handoff_match > 0 and handoff_match >= best_match:
        if handoff_match >= clarify_score:
            detail = f"the message resembles a hand-off example (match {handoff_match:.2f})"
            return Verdict(Evidence.HANDOFF_EXAMPLE, (), detail)
        # Nearer a hand-off example than any snippet, but near neither ("what trees change
        # colour in autumn"): handed off all the same, as a question nothing answers, so that
        # agents and the gaps report see it for what it is.
        found = f"best match {best.snippet.id} at {level:.2f}, " if best else ""
        detail = (
            f"no FAQ entry matches this message well enough ({found}hand-off examples at "
            f"{handoff_match:.2f}; needs {clarify_score:.2f})"
        )
        return Verdict(Evidence.NO_MATCH, (), detail)
    if best is None or level < clarify_score:
        found = f"best match {best.snippet.id} at {level:.2f}" if best else "no snippet shares a word with it"
        needs = (
            f"{min_score:.2f}"
            if clarify_score >= min_score
            else f"{min_score:.2f} to answer, {clarify_score:.2f} to ask"
        )
        detail = f"no FAQ entry matches this message well enough ({found}; needs {needs})"
        return Verdict(Evidence.NO_MATCH, (), detail)
    if level >= min_score and best.clear:
        return Verdict(Evidence.MATCH, (best,), f"{best.snippet.id} matches at {level:.2f}")
    options = tuple(c for c in ranked if c is best or c.evidence >= clarify_score - NEARBY)[:MAX_OPTIONS]
    shown = ", ".join(f"{c.snippet.id} {c.evidence:.2f}" for c in options)
    why = f"answers from {min_score:.2f}" if level < min_score else "the best does not lead the others clearly"
    return Verdict(Evidence.UNSURE, options, f"unsure between {shown} ({why})")


def says_too_little(text: str) -> bool:
    """Whether a message asks something with at most one word that says what it is about
    ("and for how long?": "long"): after a question, it is a follow-up that cannot stand on
    its own ("do you have oat milk" can). "no" asks nothing: after an answer it may mean
    "that's not it". An acknowledgement before it says nothing of the topic either: "ok and
    what temperature?" after the brewing answer."""
    return bool(_ASKS.search(text)) and len(terms(_ACKNOWLEDGED.sub(" ", text))) <= 1


_ACKNOWLEDGED = re.compile(r"(?<!\w)(?:ok(?:ay)?|cool|great|thanks|thank you|thx|alright)(?!\w)", re.IGNORECASE)


_ASKS = re.compile(
    r"\?|(?<!\w)(?:what|when|where|which|who|whom|whose|why|how|can|could|is|are|do|does|did|will|would|should)(?!\w)",
    re.IGNORECASE,
)


def continued(follow_up: Verdict, own: Verdict) -> Verdict:
    """A message too short to stand on its own ("and for how long?", "how much is it"), that
    matches nothing alone but matches with the question before it: the bot asks whether it
    goes on with that question's topic, offering also what the message alone comes near
    (after "do you ship to Ireland?", "how much is it" may be about delivery prices). Never an
    answer: what the two words point at alone may be the customer's new topic."""
    options = [follow_up.options[0]]
    options += [c for c in own.options if c.snippet != follow_up.options[0].snippet]
    shown = ", ".join(c.snippet.id for c in options[:MAX_OPTIONS])
    return Verdict(Evidence.UNSURE, tuple(options[:MAX_OPTIONS]), f"a follow-up, unsure between {shown}")


def clarification_text(options: Sequence[Option]) -> str:
    """The question a clarification asks (one option is asked about by name: "yes" picks it)."""
    if len(options) == 1:
        return f'I\'m not sure I understood. Did you mean "{options[0].title}"? Say yes, or shall I get a person?'
    listed = ", ".join(f"({number}) {option.title}" for number, option in enumerate(options, 1))
    return f"I'm not sure I understood. Did you mean: {listed}? Or shall I get a person?"


def missed_option(text: str, options: Sequence[Option]) -> int | None:
    """The number the customer answered a clarification with when no option has it ("2" or
    "the second" to a question with one option), else None."""
    number = _number(_said(text), len(options))
    return number if number is not None and number > len(options) else None


def asked_again_text(options: Sequence[Option]) -> str:
    """The clarification once more, after a number it did not offer."""
    if len(options) == 1:
        return f'There is only one option: "{options[0].title}". Say yes, or shall I get a person?'
    listed = ", ".join(f"({number}) {option.title}" for number, option in enumerate(options, 1))
    return f"Please choose 1 to {len(options)}: {listed}. Or shall I get a person?"


class _Answer(StrEnum):
    PERSON = "person"
    NONE = "none"


#: read_pick's answer when the customer would rather have a person.
PERSON = _Answer.PERSON
#: read_pick's answer when none of the options is what the customer meant ("no", "neither").
NONE_MEANT = _Answer.NONE
_AGREE = r"yes|yeah|yep|yup|sure|ok|okay"
_PLEASE = r"(?:,?\s*(?:please|pls|plz|thanks|thank you|thx))?[.!]*"
# "yes, ...", "ok ..." before a pick.
_AGREED = rf"(?:(?:{_AGREE})[,.!]?\s+)?"
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
# "2", "(2)", "option 2", "#2", "yes 2", "2 please", "two", "option two" (not "no one").
_NUMBER = re.compile(
    rf"^{_AGREED}(?:(?:(?:option|number|no\.?|#)\s*)?\(?([1-9])\)?"
    rf"|(?:(?:option|number)\s+)?({'|'.join(_NUMBER_WORDS)})){_PLEASE}$"
)
# A keycap digit ("2️⃣") is the digit, a variation selector and the keycap mark.
_KEYCAP = str.maketrans("", "", "\ufe0f\u20e3")
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "last": -1}
# Ordinals one slip away ("secnod", "thrid") are read as meant; not "last", whose neighbours
# ("fast", "list", "lost") are words of their own.
_SPELLED_ORDINALS = {"first": 1, "second": 2, "third": 3}
_MISSPELT_FROM = 5  # letters
# "both", "all of them", "1 and 2", "1, 2 and 3": the answers of several options.
_EVERY = re.compile(rf"^{_AGREED}(both|all)(?:\s+of\s+(?:them|those|these|the above))?{_PLEASE}$")
_SEVERAL = re.compile(rf"^{_AGREED}([1-9](?:\s*(?:,|and|&)\s*[1-9])+){_PLEASE}$")
# Yes to "shall I get a person?".
_YES_TO_PERSON = re.compile(rf"^(?:{_AGREE}|please do|go ahead)(?:,?\s+please)?[.!]*$")
# None of the options: "no", "neither", "nope, something else" ("no thanks" is a goodbye).
_OTHER = r"neither(?: one| of (?:them|those|these))?|none(?: of (?:them|those|these|the above))?|not (?:that|those|these|it|really|quite)(?: one)?|something else|wrong(?: one)?"
_NO = re.compile(r"^(?:no|nope|nah)\b[,.!]*\s*")
_NONE_OF_THEM = re.compile(rf"^(?:(?:no|nope|nah)(?:[,.!]*\s*(?:{_OTHER}))?|{_OTHER})[.!]*$")
_WORD = re.compile(r"[a-z0-9]+")
_POINTING = re.compile(rf"^{_AGREED}(?:that|this|the)\s+one{_PLEASE}$")
# Yes to the one option offered ("Did you mean ...? Say yes"), however it is said: "cool" or
# "ok thanks" there asks for the answer, and small talk's "Great! Anything else?" would leave
# the customer without it.
_YES = re.compile(
    rf"^(?:{_AGREE}|correct|right|exactly|cool|great|perfect|fine|alright|sounds good|that'?s (?:it|right|the one)"
    r"|(?:yes,? )?(?:that|this) one)(?:[,!.]?\s*(?:please|thanks|thank you|thx|cheers))?[.!]*$"
)
_FILLER = frozenset(
    [
        "the",
        "a",
        "an",
        "one",
        "option",
        "i",
        "mean",
        "meant",
        "it",
        "is",
        "its",
        "about",
        "please",
        "yes",
        "that",
        "this",
        "number",
        # Said with the pick, not of its topic: "i want to cancel", "i'd like to pause it".
        "want",
        "wanna",
        "like",
        "need",
        "just",
        "d",
    ]
)


def read_pick(text: str, options: Sequence[Option], option_id: str | None = None) -> Option | _Answer | None:
    """Which offered option the customer's answer picks (by id, number, ordinal or the
    title's words), PERSON when they would rather have a person, NONE_MEANT when none of
    the options is what they meant, or None: a new question."""
    if option_id is not None:
        return next((o for o in options if o.id == option_id), None)
    said = _said(text)
    if len(options) == 1 and _YES.match(said):
        return options[0]
    number = _number(said, len(options))
    if number is not None and 1 <= number <= len(options):
        return options[number - 1]
    if asks_for_person(_NO.sub("", said)) or _YES_TO_PERSON.match(said):  # "no, a person please"
        return PERSON
    if declines_options(said):
        return NONE_MEANT
    return _by_title(said, options)


def declines_options(text: str) -> bool:
    """Whether an answer to a clarification says none of its options was meant ("no",
    "neither", "not that one")."""
    return bool(_NONE_OF_THEM.match(_said(text)))


def points_without_naming(text: str, options: Sequence[Option]) -> bool:
    """Whether an answer points at one of several options without saying which ("that
    one" to three; to one option it is a yes)."""
    return len(options) > 1 and bool(_POINTING.match(_said(text)))


def says_which_not(text: str, options: Sequence[Option]) -> bool:
    """Whether an answer picks several options without saying which: "both" to three."""
    every = _EVERY.match(_said(text))
    return every is not None and every.group(1) == "both" and len(options) > 2


def which_ones_text(options: Sequence[Option]) -> str:
    """The clarification once more, after "both" to more than two options."""
    listed = ", ".join(f"({number}) {option.title}" for number, option in enumerate(options, 1))
    return f'Which ones? Say their numbers, as in "1 and 2": {listed}. Or shall I get a person?'


def read_several(text: str, options: Sequence[Option]) -> tuple[Option, ...]:
    """The options an answer picks together ("both" to two options, "all of them", "1 and
    3"), in the order offered; empty when it does not pick several."""
    said = _said(text)
    every = _EVERY.match(said)
    if every:  # "both" of three options says not which two
        return tuple(options) if len(options) == 2 or (len(options) > 2 and every.group(1) == "all") else ()
    listed = _SEVERAL.match(said)
    if not listed:
        return ()
    numbers = {int(n) for n in re.findall(r"[1-9]", listed.group(1))}
    if len(numbers) < 2 or max(numbers) > len(options):
        return ()
    return tuple(option for number, option in enumerate(options, 1) if number in numbers)


def _said(text: str) -> str:
    return textnorm.fold(text).strip()


def _number(said: str, count: int) -> int | None:
    """The option number an answer names, by digit or by ordinal ("the second one"; "the
    last one" is `count`), whether or not there is such an option."""
    number = _NUMBER.match(said.translate(_KEYCAP))
    if number:
        return int(number.group(1)) if number.group(1) else _NUMBER_WORDS[number.group(2)]
    words = [w for w in _WORD.findall(said) if w not in _FILLER]
    if len(words) == 1 and words[0] in _ORDINALS:
        position = _ORDINALS[words[0]]
        return position if position > 0 else count
    if len(words) == 1 and len(words[0]) >= _MISSPELT_FROM:  # "the secnod one", "frist"
        return next((n for word, n in _SPELLED_ORDINALS.items() if distance(words[0], word) == 1), None)
    return None


def _by_title(said: str, options: Sequence[Option]) -> Option | None:
    """The one option whose title the answer echoes (most of the title's terms, or all of
    the answer's), word forms aside: "cancel" echoes "Cancelling a subscription"."""
    words = set(terms(" ".join(w for w in _WORD.findall(said) if w not in _FILLER)))
    if not words:
        return None
    fits = []
    for option in options:
        title = set(terms(textnorm.fold(option.title)))
        shared = {word for word in words if any(_same_word(word, other) for other in title)}
        echoed = {other for other in title if any(_same_word(word, other) for word in words)}
        if title and (len(echoed) * 2 > len(title) or (shared and shared == words)):
            fits.append(option)
    return fits[0] if len(fits) == 1 else None


def _same_word(a: str, b: str) -> bool:
    """The same word in another form, as far as the terms' light stemming leaves it:
    "cancel" and "cancell" (cancelling), "pause" and "paus" (pausing)."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))
