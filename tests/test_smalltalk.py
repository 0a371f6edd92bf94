"""Small talk is answered by the bot, never handed off; a greeting with a question is the question."""

from __future__ import annotations

import pytest
from conftest import needs_model

from supportbot import Conversation, Engine
from supportbot.prompt import HistoryTurn
from supportbot.smalltalk import MEANING_FLOOR, SmallTalk, by_meaning, examples, split_small_talk
from supportbot.testing import ScriptedProvider

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", SmallTalk.GREETING),
        ("Hello there!", SmallTalk.GREETING),
        ("Good morning", SmallTalk.GREETING),
        ("thanks!", SmallTalk.THANKS),
        ("Thank you so much!!", SmallTalk.THANKS),
        ("hi, thanks!", SmallTalk.THANKS),
        ("ok great", SmallTalk.ACKNOWLEDGEMENT),
        ("👍", SmallTalk.ACKNOWLEDGEMENT),
        ("bye", SmallTalk.GOODBYE),
        ("thanks, that's all good", SmallTalk.GOODBYE),
        ("are you a bot?", SmallTalk.BOT_QUESTION),
        ("are you human?", SmallTalk.BOT_QUESTION),
        ("Am I talking to a real person??", SmallTalk.BOT_QUESTION),
        ("hi, are you a bot or a real person", SmallTalk.BOT_QUESTION),
        ("ｈｉ", SmallTalk.GREETING),
        ("yo whats up", SmallTalk.GREETING),
        ("hey guys", SmallTalk.GREETING),
        ("cheers mate, that helped", SmallTalk.THANKS),
        ("thanks again!", SmallTalk.THANKS),
        ("no worries", SmallTalk.ACKNOWLEDGEMENT),
        ("you too, bye", SmallTalk.GOODBYE),
        ("hello? anyone there?", SmallTalk.GREETING),
        ("Help!", SmallTalk.GREETING),
        # Laughter goes with what it is said beside.
        ("lol ok bye", SmallTalk.GOODBYE),
        ("haha thanks!", SmallTalk.THANKS),
        ("hehe ok cool", SmallTalk.ACKNOWLEDGEMENT),
        ("😂", SmallTalk.ACKNOWLEDGEMENT),
        # Saying the answer worked is thanks; wishing well, a greeting; "r u" is "are you".
        ("cheers, that sorted it", SmallTalk.THANKS),
        ("That worked, thanks!", SmallTalk.THANKS),
        ("great, thank you so much for your help!", SmallTalk.THANKS),
        ("hello, hope you're well", SmallTalk.GREETING),
        ("hi, how are you today?", SmallTalk.GREETING),
        ("have a lovely weekend", SmallTalk.GOODBYE),
        ("nope that's all", SmallTalk.GOODBYE),
        ("okie dokie", SmallTalk.ACKNOWLEDGEMENT),
        ("R U HUMAN?", SmallTalk.BOT_QUESTION),
        ("am i speaking to a bot?", SmallTalk.BOT_QUESTION),
        ("what's your name", SmallTalk.BOT_QUESTION),
        # Praise of the answer in any of its usual forms, and commas inside a phrase.
        ("thank you!! that's really helpful", SmallTalk.THANKS),
        ("you've been a big help, thank you", SmallTalk.THANKS),
        ("oh lovely, thank you", SmallTalk.THANKS),
        ("ahh perfect", SmallTalk.ACKNOWLEDGEMENT),
        ("nope, all good thanks", SmallTalk.GOODBYE),
        ("what are you, a bot?", SmallTalk.BOT_QUESTION),
        ("am i talking to a computer?", SmallTalk.BOT_QUESTION),
        # What is left once the small talk is off says nothing: the whole is small talk.
        ("hi, is it?", SmallTalk.GREETING),
        # Typos one edit from small talk's own words.
        ("thnaks!", SmallTalk.THANKS),
        ("good mornign", SmallTalk.GREETING),
        ("goodbey", SmallTalk.GOODBYE),
        # A long run of punctuation or spaces says no more than one.
        ("thanks!!!!!!!!!!!!!!!!!!", SmallTalk.THANKS),
        ("ok" + " " * 50 + "bye", SmallTalk.GOODBYE),
        # A sound of doubt, or a question mark alone: the customer is thinking, or lost.
        ("hmm", SmallTalk.HESITATION),
        ("Hmmmm...", SmallTalk.HESITATION),
        ("erm", SmallTalk.HESITATION),
        ("?", SmallTalk.HESITATION),
        ("??", SmallTalk.HESITATION),
        ("...", SmallTalk.HESITATION),
        ("hmm ok", SmallTalk.ACKNOWLEDGEMENT),
        ("hmm thanks", SmallTalk.THANKS),
        ("what?", SmallTalk.HESITATION),
        ("sorry?", SmallTalk.HESITATION),
        ("I don't understand", SmallTalk.HESITATION),
        ("what do you mean?", SmallTalk.HESITATION),
        # Checking the chat is alive.
        ("are you still there?", SmallTalk.GREETING),
        ("hello? you there?", SmallTalk.GREETING),
    ],
)
def test_small_talk_is_recognised_by_its_kind(text, kind):
    assert split_small_talk(text).small_talk == kind


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("hi, my tyre is flat, how much to fix it?", "my tyre is flat, how much to fix it?"),
        ("Good morning! Do you ship to Canada?", "Do you ship to Canada?"),
        ("Hey, what are your opening hours? Thanks!", "what are your opening hours"),
        ("thanks! and my coffee tastes sour, any tips?", "my coffee tastes sour, any tips?"),
        ("Ok great. Also, do you ship to Canada?", "do you ship to Canada?"),
        ("Hi! Thanks! But my order is late", "my order is late"),
        ("hey guys, where is my parcel?", "where is my parcel?"),
        # Words that only join the question to the conversation say nothing of its topic.
        ("and how do I keep my beans fresh?", "how do I keep my beans fresh?"),
        ("oh, also: do you ship to Canada?", "do you ship to Canada?"),
        ("Hi, I need help with a refund please", "I need help with a refund please"),
        ("hmm, how do I keep my beans fresh?", "how do I keep my beans fresh?"),
        ("erm where is my parcel", "where is my parcel"),
        # "there" said to someone, or opening the question.
        ("hi there, is the shop open today?", "is the shop open today?"),
        ("hi there is a problem with my order", "there is a problem with my order"),
        ("hello there were two charges on my card", "there were two charges on my card"),
    ],
)
def test_a_greeting_that_carries_a_question_is_the_question(text, question):
    assert split_small_talk(text) == (split_small_talk(text).__class__(None, question))


@pytest.mark.parametrize(
    "text",
    [
        "thanks but where is my order",
        "ok so how do I return it",
        "hiking boots?",
        "no",
        "why verify my identity",
        "account security",
        "sweet or bitter coffee?",
        "all of my orders are late",
        "andy from accounts asked me to write",
        "helpful?",
        "what's up with the extra fee i got?",
        "lol where is my order",
        "lolly pops?",
        # What says an answer worked is small talk only as the whole message.
        "i wanted to top up my account and it doesn't look like it worked",
        "it worked yesterday but now the app crashes",
        "sorted by date?",
        "who am i talking to about a refund",
        "super slow delivery, where is it",
        "am i talking to the right team about invoices",
        "helpful?",
        "great, so how do i change my address?",
        "is this coffee good for espresso",
        "lovely coffee but the bag split, can i get a refund",
        "that's great but where is my order",
        "is this a real discount or a mistake",
        "thnaks but where is my order",
        "good morinng, my parcel is late",
        "huh, my parcel went to the wrong address",
        "er is my order late?",
        "what do you mean by whole bean",
        "i don't understand my invoice",
        "sorry, where is my order",
        "still there is no tracking link",
        "what is your returns policy",
    ],
)
def test_small_talk_words_inside_a_question_leave_it_alone(text):
    assert split_small_talk(text).small_talk is None and split_small_talk(text).question == text


@needs_model  # the encoder's vocabulary tells a word from a typo
@pytest.mark.parametrize("word", ["grind", "brand", "treat", "hell"])
def test_a_real_word_one_letter_from_small_talk_is_no_typo_of_it(word):
    # "grind" was mended to "grand" and answered "Great! Is there anything else...".
    assert split_small_talk(word).small_talk is None and split_small_talk(word).question == word
    assert split_small_talk("gret").small_talk == SmallTalk.ACKNOWLEDGEMENT


async def test_small_talk_needs_no_model_and_breaks_nothing(bot):
    provider = ScriptedProvider([])  # any model call would fail the test
    engine = Engine(bot, provider)
    conversation = Conversation(bot.id)
    said = ("hi", "thanks!", "ok great", "are you a bot?", "hmm", "?")
    decisions = [await engine.turn(conversation, text) for text in said]
    assert [d.action for d in decisions] == ["answer"] * 6 and provider.requests == []
    kinds = ["greeting", "thanks", "acknowledgement", "bot_question", "hesitation", "hesitation"]
    assert [d.small_talk for d in decisions] == kinds
    assert decisions[4].reply == bot.config.small_talk.hesitation
    assert decisions[0].reply == bot.config.small_talk.greeting
    assert (conversation.state, conversation.bot_turns, conversation.unsure_streak) == ("bot_active", 0, 0)


async def test_the_bot_file_overrides_the_replies(write):
    from conftest import MINIMAL_BOT

    from supportbot import load_bot

    path = write("bots/b.yaml", MINIMAL_BOT + "small_talk:\n  greeting: Howdy! Ask me about your order.\n")
    bot = load_bot(path, env={})
    decision = await Engine(bot, ScriptedProvider([])).turn(Conversation(bot.id), "hello")
    assert decision.reply == "Howdy! Ask me about your order."


async def test_no_to_anything_else_is_a_goodbye_and_no_after_an_answer_is_not_small_talk(bot):
    engine = Engine(bot, ScriptedProvider([]))
    conversation = Conversation(bot.id)
    await engine.turn(conversation, "thanks!")  # "... Is there anything else I can help with?"
    for text in ("no", "nope, that's all thanks", "No."):
        decision = await engine.turn(conversation, text)
        assert (decision.action, decision.small_talk) == ("answer", "goodbye"), text
        await engine.turn(conversation, "thanks!")
    assert conversation.state == "bot_active"
    # After "hmm", asked to go on, "no" is nothing more, too.
    hesitated = Conversation(bot.id)
    await engine.turn(hesitated, "hmm")
    assert (await engine.turn(hesitated, "no")).small_talk == "goodbye"
    # Without that question, "no" may mean "that's not it": it is not taken for small talk.
    assert (await engine.turn(Conversation(bot.id), "no")).small_talk is None
    # A conversation read back from the store knows what the bot said last, too.
    said = ({"role": "user", "content": "ok"}, {"role": "assistant", "content": bot.config.small_talk.acknowledgement})
    stored = Conversation(bot.id, past=[HistoryTurn(said, 0)])
    assert (await engine.turn(stored, "nope")).small_talk == "goodbye"


def test_small_talk_by_meaning_needs_a_close_example():
    kinds = [kind for _, kind in examples()]
    close = [0.0] * len(kinds)
    close[kinds.index(SmallTalk.BOT_QUESTION)] = MEANING_FLOOR
    assert by_meaning(close, "are you a robot or a real human") == SmallTalk.BOT_QUESTION
    close[kinds.index(SmallTalk.BOT_QUESTION)] = MEANING_FLOOR - 0.01
    assert by_meaning(close, "are you a robot or a real human") is None
    assert by_meaning([], "thanks a ton") is None  # an engine that cannot tell meaning


def test_a_negation_the_closest_example_lacks_is_no_small_talk():
    texts = [text for text, _ in examples()]
    close = [0.0] * len(texts)
    close[texts.index("makes sense")] = 0.9
    assert by_meaning(close, "makes sense to me") == SmallTalk.ACKNOWLEDGEMENT
    assert by_meaning(close, "that makes no sense") is None
    assert by_meaning(close, "that doesnt make sense") is None
    close = [0.0] * len(texts)
    close[texts.index("no worries")] = 0.9
    assert by_meaning(close, "no worries at all") == SmallTalk.ACKNOWLEDGEMENT


@needs_model
async def test_small_talk_the_phrases_miss_is_recognised_by_meaning_where_nothing_else_is_close(tmp_path, monkeypatch):
    from conftest import REPO

    from supportbot import load_bot

    monkeypatch.setenv("SUPPORTBOT_CACHE_DIR", str(tmp_path / "cache"))
    bot = load_bot(REPO / "bots" / "bean-there.yaml", env={})
    async with Engine.for_bot(bot, {}, provider="offline") as engine:
        for text, kind in [("thanks a ton", "thanks"), ("are you a robot or a real human", "bot_question")]:
            assert split_small_talk(text).small_talk is None  # no phrase lists it
            decision = await engine.turn(Conversation(bot.id), text)
            assert (decision.action, decision.small_talk) == ("answer", kind), text
        # The public query closest to an example (0.55): handed off, not answered as small talk.
        decision = await engine.turn(Conversation(bot.id), "is auto top up a provided service?")
        assert decision.action == "handoff" and decision.small_talk is None
        # A question a snippet answers is answered, whatever small talk it resembles.
        decision = await engine.turn(Conversation(bot.id), "thanks, and how much is delivery to spain?")
        assert decision.citations == ["delivery-times"]
