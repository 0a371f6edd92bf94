"""The offline provider: answers from the FAQ with no key and no network, hands off when unsure."""

from __future__ import annotations

import pytest
from conftest import REPO

from supportbot import Conversation, Engine, load_bot

pytestmark = pytest.mark.anyio


async def ask(bot, text):
    async with Engine.for_bot(bot, {}, provider="offline") as engine:
        return await engine.turn(Conversation(bot.id), text)


async def test_the_contract_bot_answers_shipping_from_shipping_times(spec_bot_path):
    decision = await ask(load_bot(spec_bot_path, env={}), "how long does shipping take?")
    assert decision.action == "answer" and decision.citations == ["shipping-times"]
    assert decision.reply.startswith("Standard shipping takes 3 to 5 business days")


async def test_a_question_outside_the_faq_is_handed_off(spec_bot_path):
    decision = await ask(load_bot(spec_bot_path, env={}), "can you recommend a good restaurant nearby?")
    assert decision.action == "handoff" and decision.handoff.rule == "no_match"
    assert "no FAQ entry matches" in decision.handoff.detail


async def test_offline_answers_clear_the_bots_confidence_threshold(spec_bot_path):
    bot = load_bot(spec_bot_path, env={})
    decision = await ask(bot, "I forgot my password")
    assert decision.citations == ["reset-password"]
    assert decision.confidence >= bot.config.escalation.confidence_threshold


@pytest.mark.parametrize(
    ("bot_name", "question", "snippet"),
    [
        ("bean-there", "how do I skip next week's delivery?", "subscription-pause"),
        ("bean-there", "do you ship to the USA", "international-shipping"),
        ("bean-there", "how should I keep my beans fresh", "storing-coffee"),
        ("ledgerly-billing", "where do I download my invoices?", "download-invoice"),
        ("ledgerly-billing", "my card was declined", "failed-payment"),
        ("ledgerly-billing", "is there a discount if I pay yearly", "annual-billing"),
    ],
)
async def test_example_bots_answer_their_faq_offline(bot_name, question, snippet):
    decision = await ask(load_bot(REPO / "bots" / f"{bot_name}.yaml", env={}), question)
    assert decision.action == "answer" and decision.citations == [snippet], decision


@pytest.mark.parametrize(
    ("bot_name", "question", "rule"),
    [
        ("bean-there", "my grinder arrived smashed", "damaged-or-unsafe"),
        ("bean-there", "the bag arrived split open and beans everywhere", "damaged-or-unsafe"),
        ("bean-there", "the bag came ripped open", "damaged-or-unsafe"),
        ("bean-there", "is the tin airtight, or does it leak?", "no_match"),
        ("bean-there", "what's the weather tomorrow?", "no_match"),
        ("ledgerly-billing", "my card is 4111 1111 1111 1111", "card-number-shared"),
        ("ledgerly-billing", "please delete my account", "wants-to-close-account"),
        ("ledgerly-billing", "I was charged after I cancelled, this is fraud", "legal-or-chargeback"),
        ("ledgerly-billing", "there's an unauthorised charge from you on my card", "legal-or-chargeback"),
    ],
)
async def test_example_bots_hand_off_what_they_must(bot_name, question, rule):
    decision = await ask(load_bot(REPO / "bots" / f"{bot_name}.yaml", env={}), question)
    assert decision.action == "handoff" and decision.handoff.rule == rule
