"""A customer who says the answer did not help is handed off as `not_helped`, not as a new
question that matched nothing; a new question that merely says something did not work is
answered as a question."""

from __future__ import annotations

import pytest
from conftest import MINIMAL_BOT
from conftest import TRACKING_ANSWER as ANSWER

from supportbot import Conversation, Engine, load_bot
from supportbot.not_helped import says_not_helped
from supportbot.testing import ScriptedProvider

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "text",
    [
        "that didn't help",
        "That doesn't answer my question",
        "no, that's not what I asked!",
        "not what i meant",
        "not helpful at all",
        "useless",
        "wrong answer",
        "you didn't answer my question",
        "this isn't helping",
        "it didn't work",
        "still not working",
        "sorry but that didn't help",
        "hmm that's not it",
        "that’s incorrect",
        "I already tried that",
        "did that already",
        "that's not the problem",
        "no, you misunderstood me",
        "doesn't work",
        "that makes no sense",
        "this doesn't make any sense",
    ],
)
def test_saying_the_answer_missed_is_recognised(text):
    assert says_not_helped(text)


@pytest.mark.parametrize(
    "text",
    [
        "the code didn't help",
        "i tried it and it didn't work for my card",
        "it didn't work, my card was declined again",
        "that's it",
        "no",
        "is this helpful for beginners?",
        "i got the wrong coffee",
        "not what i ordered",
        "the app is useless, how do i delete my account",
        "still waiting for my refund",
        "my card doesn't work",
        "i already paid",
        "you don't deliver to ireland?",
        "the charge on my card makes no sense",
    ],
)
def test_a_question_that_says_something_failed_is_no_complaint_about_the_answer(text):
    assert not says_not_helped(text)


async def test_after_an_answer_it_hands_off_as_not_helped_without_a_model_call(write):
    bot = load_bot(write("bots/shop.yaml", MINIMAL_BOT), env={})
    provider = ScriptedProvider([ANSWER])  # one answer; a second model call would fail the test
    async with Engine(bot, provider) as engine:
        conversation = Conversation(bot.id)
        answered = await engine.turn(conversation, "Where is my package?")
        missed = await engine.turn(conversation, "no, that's not what I asked")
    assert answered.action == "answer" and len(provider.requests) == 1
    assert (missed.action, missed.handoff.rule) == ("handoff", "not_helped")
    assert missed.handoff.reason == "You said the answer did not help."
    assert conversation.state == "awaiting_agent"


async def test_before_any_answer_it_is_not_a_complaint_about_one(write):
    bot = load_bot(write("bots/shop.yaml", MINIMAL_BOT), env={})
    async with Engine(bot, ScriptedProvider([])) as engine:
        decision = await engine.turn(Conversation(bot.id), "that didn't help")
        lost = await engine.turn(Conversation(bot.id), "that makes no sense")
    assert decision.handoff is None or decision.handoff.rule != "not_helped"
    # Said before the bot has answered anything, it is a customer who is lost: asked to say it
    # in other words, or to ask for a person.
    assert (lost.action, lost.small_talk) == ("answer", "hesitation")
