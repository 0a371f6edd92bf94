"""The words of small talk: the phrases that recognise each kind, the terms of address that
may follow them, emoji, and the examples small talk is recognised by meaning with. Data only;
smalltalk.py matches messages against it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ADDRESS", "ALONE", "EXAMPLES", "PHRASES", "SYMBOLS", "SmallTalk"]


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    ACKNOWLEDGEMENT = "acknowledgement"
    BOT_QUESTION = "bot_question"
    HESITATION = "hesitation"


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
PHRASES: dict[SmallTalk, tuple[str, ...]] = {
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
        "are you a person or a bot",
        "you're a bot",
        "youre a bot",
        "you're a robot",
        "youre a robot",
        "you're a bot aren't you",
        "you're a robot aren't you",
        "youre a robot arent you",
        "what's your name",
        "whats your name",
        "what is your name",
        *(f"are you {who}" for who in _WHAT_BOT),
        *(f"is this {who}" for who in _WHAT_BOT),
        *(
            f"am i {verb} {prep} {who}"
            for verb in ("talking", "speaking", "chatting")
            for prep in ("to", "with")
            for who in (*_WHAT_BOT, "someone real")
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
    ),
}
# Small talk by meaning, for the semantic engine: a message no phrase above recognises, and that
# no snippet or hand-off example comes close to, is compared with these ("thanks a ton" is near
# "thanks a lot", "are you a robot or a real human" near "are you a robot"). See smalltalk.MEANING_FLOOR.
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
# Emoji and punctuation that mean the same as the words.
SYMBOLS = {
    "👍": SmallTalk.ACKNOWLEDGEMENT,
    "🙏": SmallTalk.THANKS,
    "👋": SmallTalk.GREETING,
    "😊": SmallTalk.ACKNOWLEDGEMENT,
    "😂": SmallTalk.ACKNOWLEDGEMENT,
}

# Who the small talk is said to ("hey guys", "cheers mate", "thanks again"): part of it.
ADDRESS = (
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


# Small talk only as a whole message: "what's up with the extra fee?" is a question, and
# "help me link my card" is worded as the bot's example questions are (taking "help me" off
# the front moved ten id-oos queries of banking77 valid, and handed off fewer of them).
ALONE: dict[SmallTalk, tuple[str, ...]] = {
    # A sound of doubt or thought ("hmm", "erm...") asks nothing the FAQ answers, and handed off
    # as no_match it ended the bot's part in the conversation. Whole message only: at the front
    # of a question it is set aside with the other openings (smalltalk._CONNECTIVES).
    SmallTalk.HESITATION: (
        "hm",
        "hmm",
        "hmmm",
        "hmmmm",
        "um",
        "umm",
        "ummm",
        "uh",
        "uhh",
        "uhm",
        "er",
        "erm",
        "errr",
        "huh",
        "eh",
        "mm",
        "mmm",
        # Lost, before the bot has answered anything (after an answer, "that makes no sense"
        # is not_helped, a hand-off): asked to say it in other words, or to ask for a person.
        "what",
        "wait what",
        "sorry",
        "pardon",
        "come again",
        "i don't understand",
        "i dont understand",
        "i don't get it",
        "i dont get it",
        "what do you mean",
        "what does that mean",
        "i'm confused",
        "im confused",
        "confused",
        "that makes no sense",
        "that doesn't make sense",
        "that doesnt make sense",
        "can you repeat that",
    ),
    SmallTalk.GREETING: (
        "what's up",
        "whats up",
        "wassup",
        "sup",
        # Someone checking the chat is alive, or asking for help before saying with what.
        "anyone there",
        "is anyone there",
        "are you there",
        "you there",
        "are you still there",
        "you still there",
        "still there",
        "is someone there",
        "is somebody there",
        "anybody home",
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
