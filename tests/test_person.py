"""A customer who asks for a person gets one, however they put it; the word alone is not a request."""

from __future__ import annotations

import pytest
from conftest import MINIMAL_BOT

from supportbot import Conversation, Engine, load_bot
from supportbot.person import asks_for_person
from supportbot.testing import ScriptedProvider

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "text",
    [
        "can i speak with someone from your team",
        "Hi, can I talk to someone about my refund?",
        "get me a manager",
        "human please",
        "Agent!",
        "I would like to speak with a representative",
        "is there a person I can talk to",
        "connect me with customer service",
        "we need a real person asap",
        "Could I please speak to a member of staff?",
        "can I get a human",
        "can a real person help me",
    ],
)
def test_a_request_for_a_person_is_recognised(text):
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "the delivery person left it outside",
        "my agent told me to write",
        "I spoke to someone yesterday and they said it would arrive",
        "can someone help me",
        "can I talk to you about my subscription",
        "human resources asked for an invoice",
        "i want a refund",
        "can I get a replacement card",
        "can a person use two cards",
    ],
)
def test_the_word_alone_is_no_request(text):
    assert not asks_for_person(text)


async def test_it_hands_off_before_any_model_call_after_the_bots_own_rules(write):
    bot = load_bot(write("bots/shop.yaml", MINIMAL_BOT), env={})
    async with Engine(bot, ScriptedProvider([])) as engine:  # any model call would fail the test
        asked = await engine.turn(Conversation(bot.id), "could I speak with someone please")
        own_rule = await engine.turn(Conversation(bot.id), "I want a human")
    assert (asked.action, asked.handoff.rule) == ("handoff", "asked_for_person")
    assert own_rule.handoff.rule == "asks-for-human"


async def test_a_bot_may_leave_it_to_its_own_rules(write):
    bot = load_bot(
        write("bots/shop.yaml", MINIMAL_BOT.replace("escalation:\n", "escalation:\n  hand_off_on_request: false\n")),
        env={},
    )
    async with Engine(bot, ScriptedProvider([])) as engine:  # any model call would fail the test
        decision = await engine.turn(Conversation(bot.id), "could I speak with someone please")
    assert decision.handoff is None or decision.handoff.rule != "asked_for_person"
