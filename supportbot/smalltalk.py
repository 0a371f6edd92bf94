"""Small talk: greetings, thanks, goodbyes, "ok", "are you a bot?", "hmm". Pure functions.

A customer who says "hi" or "thanks!" is not asking something the FAQ answers, and must not
be handed to a person for it. A message that is only small talk gets the bot's own short
reply, with no retrieval and no model. A message that carries a question after its
greeting ("hi, my tyre is flat, how much to fix it?") is answered as the question: the
greeting is taken off the front (and thanks off the end) before retrieval.

Recognition is deliberately narrow (whole phrases at the edges of the message, nothing in
the middle): "thanks but where is my order" is a question. Small talk in other words ("thanks
a ton") is caught later, by meaning, and only where nothing in the bot comes near the message:
the semantic engine compares it with EXAMPLES (by_meaning; the engine asks).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import textnorm
from .config import SmallTalkSettings
from .smalltalk_phrases import ADDRESS, ALONE, EXAMPLES, PHRASES, SYMBOLS, SmallTalk

if TYPE_CHECKING:
    from .retrieval.spelling import Respeller

__all__ = [
    "EXAMPLES",
    "MEANING_FLOOR",
    "SmallTalk",
    "Split",
    "by_meaning",
    "declines",
    "examples",
    "offered_more",
    "split_small_talk",
]


#: How close a message must come to one of EXAMPLES (cosine of sentence vectors) to be small
#: talk by meaning: 0.05 above the closest of the 10,907 queries of banking77_oos train and
#: valid and faq_covid dev, 0.550 ("is auto top up a provided service?" to "is this
#: automated?"). Small talk the phrases missed came 0.61 to 0.88 (README, "Small talk").
MEANING_FLOOR = 0.60


def by_meaning(similarities: Sequence[float], text: str) -> SmallTalk | None:
    """The kind of small talk `text` is by meaning, from its cosine with each of
    `examples()` in order; None when none is close enough, or when the message says "no"
    or "not" and the closest thanks or acknowledgement does not: sentence vectors hardly see
    a negation, and "that makes no sense" came 0.6 from "that makes sense" ("you're not a
    bot, are you?" asks what the bot is all the same)."""
    best = max(range(len(similarities)), key=similarities.__getitem__, default=None)
    if best is None or similarities[best] < MEANING_FLOOR:
        return None
    example, kind = examples()[best]
    flips = kind in (SmallTalk.THANKS, SmallTalk.ACKNOWLEDGEMENT)
    if flips and _NEGATION.search(text) and not _NEGATION.search(example):
        return None
    return kind


_NEGATION = re.compile(
    r"(?<![\w'])(?:no|not|never|nothing|none|nope|nah|cannot|\w+n't|dont|doesnt|didnt|cant|wont|isnt|wasnt|arent"
    r"|werent|havent|hasnt|hadnt|couldnt|wouldnt|shouldnt|aint)(?![\w'])",
    re.IGNORECASE,
)


@functools.cache
def examples() -> tuple[tuple[str, SmallTalk], ...]:
    """EXAMPLES as (text, kind) pairs, in a fixed order."""
    return tuple((text, kind) for kind, texts in EXAMPLES.items() for text in texts)


_SEPARATORS = r"[\s,.!?;:\-–—~)(]*"
# A long run of separators ("!!!!!!!!", a thousand spaces) says no more than one, and each
# pattern below would try it from every position of the run: seconds for a 2,000-character
# message. Folded to one before matching.
_LONG_RUN = re.compile(r"[\s,.!?;:\-–—~)(]{8,}")


# "hi there is a problem": "there" opens the question, it is not said to anyone.
_NOT_THERE_IS = r"(?!(?<=there)\s+(?:is|are|was|were|'s|s|has|have|had|seems?|appears?|will|would|might|may|must|should|could|can)(?!\w))"


def _alternation(phrases: tuple[str, ...]) -> str:
    """One group matching any of the phrases as whole words (the longest first: "thank you
    so much" before "thank you"), each perhaps followed by a term of address."""
    return rf"(?<!\w)(?:{_words_trie(phrases)})(?:{_GAP}(?:{_words_trie(ADDRESS)}))?(?!\w){_NOT_THERE_IS}"


# Between two words of a phrase: spaces, or a comma ("nope, all good"). Atomic: a run of spaces
# is taken whole, never split between the gap and its neighbours, which made a 2,000-character
# message of spaces cost seconds (every split of every run tried).
_GAP = r"(?>\s*,\s*|\s+)"
_Trie = dict[str, "_Trie"]  # word -> the words that may follow it ("" where a phrase ends)


def _words_trie(phrases: tuple[str, ...]) -> str:
    """The phrases as one pattern that shares their leading words ("thanks(?:\\s+(?:so\\s+much|
    for...))?"): a flat alternation of hundreds of phrases is tried branch by branch at every
    position of every message (47 µs a banking query for the trailing thanks, against 7)."""
    trie: _Trie = {}
    for phrase in phrases:
        node = trie
        for word in phrase.split():
            node = node.setdefault(word, {})
        node[""] = {}  # a phrase ends here

    def pattern(node: _Trie) -> str:
        branches = []
        for word in sorted((w for w in node if w), key=lambda w: (-len(w), w)):  # "hiya" before "hi"
            child = node[word]
            branch = re.escape(word)
            if any(child):  # words apart by spaces, or a comma: "nope, all good", "what are you, a bot"
                branch += rf"(?:{_GAP}(?:{pattern(child)})){'?' if '' in child else ''}"
            branches.append(branch)
        return "|".join(branches)

    return pattern(trie)


_ALL = {kind: _alternation(PHRASES.get(kind, ()) + ALONE.get(kind, ())) for kind in SmallTalk}
_OPENING = _alternation(PHRASES[SmallTalk.GREETING])
_I = re.IGNORECASE
_WHOLE = {kind: re.compile(rf"^{_SEPARATORS}(?:(?:{pattern}){_SEPARATORS})+$", _I) for kind, pattern in _ALL.items()}
_LEADING = re.compile(rf"^{_SEPARATORS}(?:(?:{_OPENING})(?=[\s,.!?;:\-–—]|$){_SEPARATORS})+", _I)
# Thanks or an acknowledgement that ends a sentence of its own ("Thanks! And can I...",
# "Ok great. Also..."; the "and" or "also" then goes with _CONNECTIVES). Without the full
# stop, "thanks but where is my order" and "ok so how do I return it" are questions that
# merely start with such a word, and stay whole.
_CLOSED = "|".join(_ALL[kind] for kind in (SmallTalk.THANKS, SmallTalk.ACKNOWLEDGEMENT))
_LEADING_CLOSED = re.compile(rf"^{_SEPARATORS}(?:(?:{_CLOSED})\s*[.!]+\s*)+", _I)
_TRAILING = re.compile(rf"(?:{_SEPARATORS}(?:{_alternation(PHRASES[SmallTalk.THANKS])}))+{_SEPARATORS}$", _I)
# Words that join a question to the conversation ("and how do I keep it fresh?", "oh, also:
# do you ship to Canada?") say nothing of its topic, and lower its match (0.51 to 0.47 for
# that first one, below the bot's clarification floor). Not "so" or "well": "so expensive".
_CONNECTIVES = re.compile(
    r"^(?:(?:and|also|plus|but|oh|ah|um+|uh+|hm+|erm+|btw|by the way|one more thing|another thing|quick question|"
    rf"another question|one more question)(?!\w){_SEPARATORS})+",
    _I,
)
# Greetings and thanks may stand together ("hi, thanks!"): the message is answered as the
# kind that asks most of the bot (_ORDER).
_ANY = re.compile(rf"^{_SEPARATORS}(?:(?:{'|'.join(_ALL.values())}){_SEPARATORS})+$", _I)
_ORDER = (
    SmallTalk.BOT_QUESTION, SmallTalk.GOODBYE, SmallTalk.THANKS, SmallTalk.GREETING, SmallTalk.ACKNOWLEDGEMENT,
    SmallTalk.HESITATION,
)  # fmt: skip


# Words that say nothing of a topic on their own: left over after small talk, they make no question.
_FILLER = frozenset(
    [
        "that",
        "that's",
        "thats",
        "this",
        "it",
        "it's",
        "its",
        "is",
        "was",
        "you",
        "you've",
        "youve",
        "you're",
        "youre",
        "been",
        "are",
        "now",
        "for",
        "then",
        "so",
        "really",
        "very",
        "just",
        "all",
        "again",
        "too",
        "well",
        "today",
        "oh",
        "ah",
        "ok",
        "okay",
        "and",
        "also",
        "a",
        "lot",
        "much",
        "indeed",
        "though",
    ]
)
_WORDS = re.compile(r"[a-z']+", _I)
_PUZZLED = re.compile(r"\?|\.\.|…")


@dataclass(frozen=True)
class Split:
    """A message taken apart: its small talk, and what it asks (empty when nothing)."""

    small_talk: SmallTalk | None
    question: str


@functools.lru_cache(maxsize=4096)
def split_small_talk(text: str) -> Split:
    """What kind of small talk `text` is, if it is only that; else the question it asks,
    with a leading greeting and trailing thanks taken off. Remembered: the engine asks again
    of the message before a follow-up."""
    cleaned = _folded(text)
    symbols = [kind for symbol, kind in SYMBOLS.items() if symbol in cleaned]
    for symbol in SYMBOLS:
        cleaned = cleaned.replace(symbol, " ")
    if not cleaned.strip(" ,.!?;:-–—~()"):
        if symbols:
            return Split(symbols[0], "")
        if _PUZZLED.search(cleaned):  # "?", "...": the customer is waiting, or lost
            return Split(SmallTalk.HESITATION, "")
    cleaned = _LONG_RUN.sub(lambda run: " " if any(c.isspace() for c in run.group()) else run.group()[0], cleaned)
    spelled = _spelled_out(cleaned)
    if _ANY.match(spelled) or (_ANY.match(spelled := _mended(spelled))):
        return Split(_kind(spelled), "")
    question = _TRAILING.sub("", _LEADING_CLOSED.sub("", _LEADING.sub("", cleaned))).strip()
    question = _CONNECTIVES.sub("", question) or question
    if question == cleaned:
        return Split(None, text)
    if set(_WORDS.findall(question)) <= _FILLER:
        # What is left once the small talk is off says nothing ("thanks, you've been ... very
        # helpful" left "you've been"): the message was small talk in words we do not list.
        return Split(_kind(spelled), "")
    return Split(None, question or text)


def _kind(folded: str) -> SmallTalk:
    """The kind of a message made only of small talk: the one that asks most of the bot."""
    for kind in _ORDER:
        if _WHOLE[kind].match(folded):
            return kind
    found = [kind for kind in _ORDER if re.search(rf"(?<!\w)(?:{_ALL[kind]})(?!\w)", folded, _I)]
    return found[0] if found else SmallTalk.ACKNOWLEDGEMENT


# "No" on its own is no small talk: after an answer it may mean "that's not it". After the
# bot's own "Is there anything else I can help with?" it is a goodbye (the engine asks this
# only then).
_NO = r"(?<!\w)(?:no|nope|nah|nothing|no more|not now|not really|that'?s it)(?!\w)"
_DECLINE = re.compile(
    rf"^{_SEPARATORS}(?:{_NO}{_SEPARATORS})+(?:(?:{_ALL[SmallTalk.THANKS]}|{_ALL[SmallTalk.GOODBYE]}){_SEPARATORS})*$",
    _I,
)


def declines(text: str) -> bool:
    """Whether `text` says no to "anything else?" ("no", "nope", "no that's it, thanks")."""
    return bool(_DECLINE.match(_folded(text)))


def offered_more(last_reply: str | None, replies: SmallTalkSettings) -> bool:
    """Whether the bot's last words were one of its small-talk replies that asks what else
    it can do, or the reply to a hesitation, which asks the customer to go on ("hmm", then
    "no": nothing more). Compared as stored: a conversation read back from the store holds
    cleaned text."""
    offers = [r for r in (replies.greeting, replies.thanks, replies.acknowledgement) if "?" in r]
    return last_reply is not None and textnorm.clean(last_reply) in {
        textnorm.clean(r.strip()) for r in (*offers, replies.hesitation)
    }


# Chat shorthand in small talk ("r u a bot?", "thank u"), spelled out only to tell whether a
# message is small talk: a question keeps the customer's own words.
_SHORTHAND = {"u": "you", "r": "are", "ur": "your", "im": "i'm", "youre": "you're"}
_SHORTHAND_WORD = re.compile(rf"(?<![\w'])(?:{'|'.join(_SHORTHAND)})(?![\w'])", _I)


# Typos in small talk ("thnaks", "good mornign", "goodbey") mended to its own words, one edit
# away, only to tell whether a message is small talk; a short message only: small talk is. A
# word the packaged encoder knows is no typo: "grind" and "brand" are not "grand" (where the
# model is not installed, every word one edit away is mended).
_MENDED_UP_TO = 8  # words


def _mended(folded: str) -> str:
    if len(folded.split()) > _MENDED_UP_TO:
        return folded
    return _mender().respell(folded)


@functools.cache
def _mender() -> Respeller:
    # Here: the retrieval package imports this module.
    from .retrieval.encoder import packaged_words
    from .retrieval.spelling import Respeller

    phrases = [p for kind in SmallTalk for p in (*PHRASES.get(kind, ()), *ALONE.get(kind, ()))]
    return Respeller(phrases, known=packaged_words().__contains__)


def _spelled_out(folded: str) -> str:
    return _SHORTHAND_WORD.sub(lambda match: _SHORTHAND[match.group().lower()], folded)


def _folded(text: str) -> str:
    return textnorm.clean(text).replace("’", "'").strip()
