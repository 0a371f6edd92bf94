"""Small talk: greetings, thanks, goodbyes, "ok", "are you a bot?". Pure functions.

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
from enum import StrEnum
from typing import TYPE_CHECKING

from . import textnorm
from .config import SmallTalkSettings

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


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    ACKNOWLEDGEMENT = "acknowledgement"
    BOT_QUESTION = "bot_question"


_THANKS_WORDS = (
    "thanks",
    "thank you",
    "many thanks",
    "thanks so much",
    "thank you so much",
    "thanks very much",
    "thank you very much",
)
# Praise of an answer, however it is put: "that's really helpful", "oh lovely", "you've been a
# great help". Said of the answer's use, it is thanks; of the answer, an acknowledgement.
_PRAISE_LEADS = (
    "", "oh", "ah", "ahh", "wow", "that's", "thats", "that is", "this is", "that was", "oh that's", "ah that's",
    "wow that's", "that sounds", "sounds", "you're", "youre", "you are", "you've been", "youve been", "you have been",
)  # fmt: skip
_DEGREES = ("", "so", "really", "very", "super", "incredibly", "extremely", "most")
_USEFUL = ("helpful", "useful", "kind", "a great help", "a big help", "a huge help", "great help", "a star")
_GOOD = (
    "great", "brilliant", "perfect", "awesome", "lovely", "amazing", "excellent", "fantastic", "wonderful", "fab",
    "fabulous", "superb", "good", "cool", "nice", "ace", "grand", "super", "fine", "spot on", "handy", "clear",
)  # fmt: skip


def _praise(words: tuple[str, ...]) -> tuple[str, ...]:
    """Each word said of the answer ("that's really helpful"); never the bare word: "helpful?"
    and "clear?" ask something (the bare words that acknowledge, "great", are listed as such)."""
    return tuple(
        " ".join(w for w in (lead, degree, word) if w)
        for lead in _PRAISE_LEADS
        for degree in _DEGREES
        for word in words
        if lead or degree
    )


# Who the bot might be taken for: "are you an actual person?", "am I talking to a computer?".
_WHAT_BOT = tuple(
    f"{article} {real}{who}"
    for real in ("", "real ", "actual ")
    for who in ("human", "person", "bot", "robot", "chat bot", "chatbot", "computer", "machine", "ai", "human being")
    for article in (("an",) if (real or who)[0] in "aeiou" else ("a",))
)
_PHRASES: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.GREETING: (
        "hi",
        "hii",
        "hiya",
        "hello",
        "hallo",
        "hey",
        "heya",
        "howdy",
        "yo",
        "greetings",
        "good morning",
        "good afternoon",
        "good evening",
        "morning",
        "evening",
        "hi there",
        "hello there",
        "hey there",
        "hi team",
        "hello team",
        "hey team",
        "hi all",
        "hello all",
        "dear support",
        "dear team",
        "how are you",
        "how are you doing",
        "how's it going",
        "hows it going",
        "good day",
        "hola",
        "hey hey",
        "how are you today",
        "how are things",
        "how r u",
        "hru",
        # Wishing the team well before the question ("hello, hope you're well").
        "hope you're well",
        "hope you are well",
        "hope you're doing well",
        "hope you are doing well",
        "hope all is well",
        "i hope you're well",
        "i hope you are well",
        *(
            f"{hope} {having} a {good} day"
            for hope in ("hope you're", "hope you are", "i hope you're", "i hope you are")
            for having in ("having",)
            for good in ("good", "great", "nice", "lovely")
        ),
        "hope your day is going well",
    ),
    SmallTalk.THANKS: (
        "thanks",
        "thank you",
        "thankyou",
        "thx",
        "ty",
        "tysm",
        "cheers",
        "many thanks",
        "thanks a lot",
        "thank you so much",
        "thanks so much",
        "thanks very much",
        "thank you very much",
        "much appreciated",
        "appreciate it",
        "thanks for your help",
        "thank you for your help",
        "thanks for the help",
        "great thanks",
        "perfect thanks",
        "ok thanks",
        "okay thanks",
        "ok thank you",
        "okay thank you",
        "awesome thanks",
        "thank u",
        "thanx",
        "thnx",
        "ta",
        "thanks a bunch",
        "thanks a million",
        "that helped",
        "that helps",
        "that was helpful",
        "that's helpful",
        "thats helpful",
        "very helpful",
        "really helpful",
        *_praise(_USEFUL),
        "cheers for that",
        *(
            f"{thanks} for {what}"
            for thanks in (*_THANKS_WORDS, "cheers")
            for what in (
                "that",
                "this",
                "sorting that",
                "sorting it",
                "sorting this",
                "sorting it out",
                "your patience",
                "helping",
            )
        ),
        "super helpful",
        "you're a star",
        "youre a star",
        "you're the best",
        "youre the best",
        "legend",
        "thanks heaps",
        "thank you kindly",
        "thanks anyway",
        "thanks though",
        "appreciated",
        "much obliged",
        *(
            f"{thanks} for {whose} {what}"
            for thanks in _THANKS_WORDS
            for whose in ("the", "your", "all the", "all your")
            for what in (
                "help",
                "reply",
                "quick reply",
                "response",
                "quick response",
                "answer",
                "info",
                "information",
                "time",
                "support",
            )
        ),
        *(f"{thanks} for getting back to me" for thanks in _THANKS_WORDS),
    ),
    SmallTalk.GOODBYE: (
        "bye",
        "goodbye",
        "good bye",
        "bye bye",
        "see you",
        "see ya",
        "cya",
        "have a nice day",
        "have a good day",
        "have a great day",
        "take care",
        "that's all",
        "thats all",
        "that is all",
        "nothing else",
        "no thanks",
        "no thank you",
        "all good",
        "i'm done",
        "im done",
        "you too",
        "same to you",
        "bye for now",
        "ttyl",
        "talk later",
        "speak soon",
        "have a good one",
        *(
            f"have a {how} {when}"
            for how in ("nice", "good", "great", "lovely")
            for when in ("weekend", "evening", "night", "afternoon")
        ),
        "have a lovely day",
        "see you soon",
        "see you later",
        "catch you later",
        "later",
        "laters",
        "bye now",
        "bye bye now",
        "that's everything for now",
        "thats everything for now",
        "that's all for now",
        "thats all for now",
        "that's all i needed",
        "thats all i needed",
        "that's all i need",
        "that's everything",
        "thats everything",
        "that's it",
        "thats it",
        # "No" to "anything else?" said without being asked (after it, declines() takes it).
        *(
            f"{no} {done}"
            for no in ("no", "nope", "nah")
            for done in (
                "that's all",
                "thats all",
                "that's everything",
                "thats everything",
                "that's it",
                "thats it",
                "i'm good",
                "im good",
                "all good",
            )
        ),
    ),
    SmallTalk.ACKNOWLEDGEMENT: (
        "yes",
        "yes please",
        "yeah",
        "ok",
        "okay",
        "k",
        "kk",
        "great",
        "cool",
        "perfect",
        "awesome",
        "nice",
        "got it",
        "alright",
        "all right",
        "sounds good",
        "ok great",
        "okay great",
        "ok cool",
        "great stuff",
        "fine",
        "understood",
        "i see",
        "makes sense",
        "sure",
        "yep",
        "yup",
        "noted",
        "brilliant",
        "lovely",
        "excellent",
        "good",
        "ok good",
        "that works",
        "that's great",
        "thats great",
        "that's perfect",
        "thats perfect",
        "that's fine",
        "thats fine",
        "will do",
        "no worries",
        "no problem",
        "np",
        "gotcha",
        "fair enough",
        "oh ok",
        "ah ok",
        "ah okay",
        "oh okay",
        "sweet",
        "amazing",
        "wonderful",
        "fantastic",
        "nice one",
        "brill",
        "brilliant stuff",
        "ace",
        "grand",
        "super",
        "okie dokie",
        "okey dokey",
        "okey",
        "okie",
        *_praise(_GOOD),
        *(f"{ok} then" for ok in ("ok", "okay", "alright", "all right", "right")),
        "righto",
        "right oh",
        "sure thing",
        "that makes sense",
        "ok that makes sense",
        "okay that makes sense",
        "fair",
        "okay then",
        "right",
        "wow",
        "oh wow",
        "good to know",
        "great to hear",
        "glad to hear it",
        # Laughter goes with what it is said beside ("lol ok bye" is a goodbye); alone, it
        # acknowledges.
        "lol",
        "haha",
        "hahaha",
        "hehe",
        "lmao",
    ),
    SmallTalk.BOT_QUESTION: (
        "are you a bot",
        "are you a robot",
        "are you real",
        "are you an ai",
        "are you ai",
        "is this a bot",
        "am i talking to a bot",
        "am i talking to a robot",
        "am i chatting with a bot",
        "is this automated",
        "who are you",
        "what are you",
        # Asking whether a person is there is asking what the bot is: it says so and offers
        # one ("I want a human" is a request for a person, handed off: person.py).
        *(
            f"{asking} {person}"
            for asking in ("are you", "is this", "am i talking to", "am i chatting with")
            for person in ("a human", "a person", "a real person")
        ),
        "are you human",
        "are you a real human",
        "are you a chatbot",
        "are you a machine",
        "are you automated",
        "is this a chatbot",
        "is this ai",
        "is this an ai",
        "am i talking to a machine",
        "am i talking to an ai",
        "are you a bot or a human",
        "are you a bot or a real person",
        "are you human or a bot",
        "are you a human or a bot",
        "are you a real person or a bot",
        "is this a bot or a real person",
        "is this a real person or a bot",
        "is this a real human",
        "is this a human",
        "is this a person",
        "are you a person or a bot",
        "you're a bot",
        "youre a bot",
        "you're a robot",
        "youre a robot",
        "you're a bot aren't you",
        "you're a robot aren't you",
        "youre a robot arent you",
        "is this a robot",
        "what's your name",
        "whats your name",
        "what is your name",
        *(f"are you {who}" for who in _WHAT_BOT),
        *(f"is this {who}" for who in _WHAT_BOT),
        *(
            f"am i {verb} {prep} {who}"
            for verb in ("talking", "speaking", "chatting")
            for prep in ("to", "with")
            for who in _WHAT_BOT
        ),
        *(f"is this {who} i'm {verb} to" for verb in ("talking", "speaking") for who in _WHAT_BOT),
        *(f"is this {what} automated" for what in ("chat", "conversation", "service")),
        "is this an automated service",
        "is this an automated chat",
        "what are you a bot",
        "who am i talking to",
        "who am i speaking to",
        "who am i speaking with",
        "who am i chatting with",
        *(
            f"am i {verb} {prep} {who}"
            for verb in ("speaking", "talking", "chatting")
            for prep in ("to", "with")
            for who in (
                "a bot",
                "a robot",
                "a human",
                "a person",
                "a real person",
                "an ai",
                "a machine",
                "someone real",
            )
        ),
    ),
}
# Small talk by meaning, for the semantic engine: a message no phrase above recognises, and that
# no snippet or hand-off example comes close to, is compared with these ("thanks a ton" is near
# "thanks a lot", "are you a robot or a real human" near "are you a robot"). See MEANING_FLOOR.
EXAMPLES: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.GREETING: (
        "hi", "hello", "hey there", "good morning", "good afternoon", "good evening", "hi, how are you?",
        "how's your day going?", "hope you're doing well", "hope you are having a good day", "hello team",
        "hiya", "greetings", "hey, how's it going?", "is anyone there?",
    ),
    SmallTalk.THANKS: (
        "thanks", "thank you", "thanks a lot", "thank you so much", "many thanks", "cheers", "much appreciated",
        "thanks for your help", "that was really helpful", "that sorted it", "that fixed it, thanks",
        "appreciate the help", "you've been very helpful", "perfect, that's what I needed", "that worked, thank you",
        "great, thanks for the quick reply",
    ),
    SmallTalk.GOODBYE: (
        "bye", "goodbye", "see you", "talk soon", "good night", "have a nice day", "have a good weekend",
        "that's all, thanks", "no, that's everything", "take care", "bye for now", "catch you later",
    ),
    SmallTalk.ACKNOWLEDGEMENT: (
        "ok", "okay", "great", "cool", "got it", "sounds good", "perfect", "alright", "understood", "fine by me",
        "makes sense", "noted", "sure", "no worries", "lovely", "wow, that was fast", "nice one",
    ),
    SmallTalk.BOT_QUESTION: (
        "are you a bot?", "are you a real person?", "am I talking to a human?", "is this automated?",
        "are you a robot or a human?", "who am I talking to?", "is this an AI?", "are you a machine?",
        "is there a real person reading this?", "what's your name?",
    ),
}  # fmt: skip
#: How close a message must come to one of EXAMPLES (cosine of sentence vectors) to be small
#: talk by meaning: 0.05 above the closest of the 10,907 queries of banking77_oos train and
#: valid and faq_covid dev, 0.550 ("is auto top up a provided service?" to "is this
#: automated?"). Small talk the phrases missed came 0.61 to 0.88 (README, "Small talk").
MEANING_FLOOR = 0.60


def by_meaning(similarities: Sequence[float]) -> SmallTalk | None:
    """The kind of small talk a message is by meaning, from its cosine with each of
    `examples()` in order; None when none is close enough."""
    best = max(range(len(similarities)), key=similarities.__getitem__, default=None)
    if best is None or similarities[best] < MEANING_FLOOR:
        return None
    return examples()[best][1]


def examples() -> tuple[tuple[str, SmallTalk], ...]:
    """EXAMPLES as (text, kind) pairs, in a fixed order."""
    return tuple((text, kind) for kind, texts in EXAMPLES.items() for text in texts)


# Emoji and punctuation that mean the same as the words.
_SYMBOLS = {
    "👍": SmallTalk.ACKNOWLEDGEMENT,
    "🙏": SmallTalk.THANKS,
    "👋": SmallTalk.GREETING,
    "😊": SmallTalk.ACKNOWLEDGEMENT,
    "😂": SmallTalk.ACKNOWLEDGEMENT,
}
_SEPARATORS = r"[\s,.!?;:\-–—~)(]*"
# A long run of separators ("!!!!!!!!", a thousand spaces) says no more than one, and each
# pattern below would try it from every position of the run: seconds for a 2,000-character
# message. Folded to one before matching.
_LONG_RUN = re.compile(r"[\s,.!?;:\-–—~)(]{8,}")


# Who the small talk is said to ("hey guys", "cheers mate", "thanks again"): part of it.
_ADDRESS = (
    "mate",
    "guys",
    "folks",
    "all",
    "everyone",
    "friend",
    "buddy",
    "pal",
    "team",
    "there",
    "again",
    "so much",
    "to you",
    "to you too",
    "you too",
    "too",
)


# "hi there is a problem": "there" opens the question, it is not said to anyone.
_NOT_THERE_IS = r"(?!(?<=there)\s+(?:is|are|was|were|'s|s|has|have|had|seems?|appears?|will|would|might|may|must|should|could|can)(?!\w))"


def _alternation(phrases: tuple[str, ...]) -> str:
    """One group matching any of the phrases as whole words (the longest first: "thank you
    so much" before "thank you"), each perhaps followed by a term of address."""
    return rf"(?<!\w)(?:{_words_trie(phrases)})(?:{_GAP}(?:{_words_trie(_ADDRESS)}))?(?!\w){_NOT_THERE_IS}"


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


# Small talk only as a whole message: "what's up with the extra fee?" is a question, and
# "help me link my card" is worded as the bot's example questions are (taking "help me" off
# the front moved ten id-oos queries of banking77 valid, and handed off fewer of them).
_ALONE: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.GREETING: (
        "what's up",
        "whats up",
        "wassup",
        "sup",
        # Someone checking the chat is alive, or asking for help before saying with what.
        "anyone there",
        "is anyone there",
        "anybody there",
        "is anybody there",
        "anyone",
        "help",
        "help me",
        "help please",
        "please help",
        "please help me",
        "help me please",
        "i need help",
        "i need some help",
        "need help",
        "can you help me",
        "can you help",
        "can anyone help",
        "can anyone help me",
        "can someone help me",
    ),
    # The answer did what was needed: said as thanks, answered as thanks. Not taken off the end
    # of a message: "... and it doesn't look like it worked".
    SmallTalk.THANKS: (
        "that sorted it",
        "that's sorted it",
        "thats sorted it",
        "sorted",
        "all sorted",
        "all sorted now",
        "that fixed it",
        "that worked",
        "it worked",
        "that did it",
        "that did the trick",
        "problem solved",
        "that answers my question",
        "that answered my question",
        "that's what i needed",
        "thats what i needed",
        "that's exactly what i needed",
        "thats exactly what i needed",
        "just what i needed",
        "exactly what i needed",
    ),
}
_ALL = {kind: _alternation(phrases + _ALONE.get(kind, ())) for kind, phrases in _PHRASES.items()}
_OPENING = _alternation(_PHRASES[SmallTalk.GREETING])
_I = re.IGNORECASE
_WHOLE = {kind: re.compile(rf"^{_SEPARATORS}(?:(?:{pattern}){_SEPARATORS})+$", _I) for kind, pattern in _ALL.items()}
_LEADING = re.compile(rf"^{_SEPARATORS}(?:(?:{_OPENING})(?=[\s,.!?;:\-–—]|$){_SEPARATORS})+", _I)
# Thanks or an acknowledgement that ends a sentence of its own ("Thanks! And can I...",
# "Ok great. Also..."; the "and" or "also" then goes with _CONNECTIVES). Without the full
# stop, "thanks but where is my order" and "ok so how do I return it" are questions that
# merely start with such a word, and stay whole.
_CLOSED = "|".join(_ALL[kind] for kind in (SmallTalk.THANKS, SmallTalk.ACKNOWLEDGEMENT))
_LEADING_CLOSED = re.compile(rf"^{_SEPARATORS}(?:(?:{_CLOSED})\s*[.!]+\s*)+", _I)
_TRAILING = re.compile(rf"(?:{_SEPARATORS}(?:{_alternation(_PHRASES[SmallTalk.THANKS])}))+{_SEPARATORS}$", _I)
# Words that join a question to the conversation ("and how do I keep it fresh?", "oh, also:
# do you ship to Canada?") say nothing of its topic, and lower its match (0.51 to 0.47 for
# that first one, below the bot's clarification floor). Not "so" or "well": "so expensive".
_CONNECTIVES = re.compile(
    r"^(?:(?:and|also|plus|but|oh|ah|um+|uh+|btw|by the way|one more thing|another thing|quick question|"
    rf"another question|one more question)(?!\w){_SEPARATORS})+",
    _I,
)
# Greetings and thanks may stand together ("hi, thanks!"): the message is answered as the
# kind that asks most of the bot (_ORDER).
_ANY = re.compile(rf"^{_SEPARATORS}(?:(?:{'|'.join(_ALL.values())}){_SEPARATORS})+$", _I)
_ORDER = (SmallTalk.BOT_QUESTION, SmallTalk.GOODBYE, SmallTalk.THANKS, SmallTalk.GREETING, SmallTalk.ACKNOWLEDGEMENT)


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


@dataclass(frozen=True)
class Split:
    """A message taken apart: its small talk, and what it asks (empty when nothing)."""

    small_talk: SmallTalk | None
    question: str


def split_small_talk(text: str) -> Split:
    """What kind of small talk `text` is, if it is only that; else the question it asks,
    with a leading greeting and trailing thanks taken off."""
    cleaned = _folded(text)
    symbols = [kind for symbol, kind in _SYMBOLS.items() if symbol in cleaned]
    for symbol in _SYMBOLS:
        cleaned = cleaned.replace(symbol, " ")
    if not cleaned.strip(" ,.!?;:-–—~()") and symbols:
        return Split(symbols[0], "")
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
    it can do. Compared as stored: a conversation read back from the store holds cleaned text."""
    offers = (replies.greeting, replies.thanks, replies.acknowledgement)
    return last_reply is not None and textnorm.clean(last_reply) in {
        textnorm.clean(r.strip()) for r in offers if "?" in r
    }


# Chat shorthand in small talk ("r u a bot?", "thank u"), spelled out only to tell whether a
# message is small talk: a question keeps the customer's own words.
_SHORTHAND = {"u": "you", "r": "are", "ur": "your", "im": "i'm", "youre": "you're"}
_SHORTHAND_WORD = re.compile(rf"(?<![\w'])(?:{'|'.join(_SHORTHAND)})(?![\w'])", _I)


# Typos in small talk ("thnaks", "good mornign", "goodbey") mended to its own words, one edit
# away, only to tell whether a message is small talk; a short message only: small talk is.
_MENDED_UP_TO = 8  # words


def _mended(folded: str) -> str:
    if len(folded.split()) > _MENDED_UP_TO:
        return folded
    return _mender().respell(folded)


@functools.cache
def _mender() -> Respeller:
    from .retrieval.spelling import Respeller  # here: the retrieval package imports this module

    phrases = [p for kind in SmallTalk for p in (*_PHRASES.get(kind, ()), *_ALONE.get(kind, ()))]
    return Respeller(phrases, known=lambda word: False)  # any word of its own is one to mend towards


def _spelled_out(folded: str) -> str:
    return _SHORTHAND_WORD.sub(lambda match: _SHORTHAND[match.group().lower()], folded)


def _folded(text: str) -> str:
    return textnorm.clean(text).replace("’", "'").strip()
