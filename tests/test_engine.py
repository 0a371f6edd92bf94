"""The engine, turn by turn, with a scripted model: the order of DESIGN.md, and every outcome."""

from __future__ import annotations

import json

import pytest
from conftest import run

from supportbot import Conversation, Engine, MessageRejected, ModelUnavailable
from supportbot.providers.base import ModelResponse
from supportbot.testing import ScriptedProvider

pytestmark = pytest.mark.anyio


def reply(action="answer", text="Open My Orders.", confidence=0.9, citations=("track-order",), reason=None):
    return json.dumps(
        {
            "action": action,
            "reply": text,
            "confidence": confidence,
            "citations": list(citations),
            "handoff_reason": reason,
        }
    )


async def test_an_answer_cites_the_snippets_it_used(bot):
    [decision], provider, _ = await run(bot, [reply()], "Where is my package?")
    assert decision.action == "answer" and decision.reply == "Open My Orders."
    assert decision.citations == ["track-order"] and decision.confidence == 0.9
    assert decision.handoff is None and decision.attempts == 1
    assert decision.usage.total_tokens == 15 and decision.latency_ms >= 0
    assert next(c.snippet.id for c in provider.requests[0].candidates) == "track-order"


async def test_the_model_reads_only_the_snippet_retrieval_matched(bot):
    # "delivery" also shares words with the shipping snippet; retrieval's clear match is the
    # one the model answers from (a small model otherwise cites the neighbour).
    [_], provider, _ = await run(bot, [reply()], "Where is my package? Is delivery late?")
    [request] = provider.requests
    assert [c.snippet.id for c in request.candidates] == ["track-order"]
    system = request.messages[0]["content"]
    assert "[track-order]" in system and "[shipping-times]" not in system
    assert request.reply_schema["properties"]["citations"]["items"]["enum"] == ["track-order"]


async def test_a_rule_that_fires_hands_off_without_calling_the_model(bot):
    [decision], provider, conversation = await run(bot, [], "I'll sue you")
    assert decision.action == "handoff" and decision.handoff.rule == "legal"
    assert decision.reply == "A person will take over." and decision.attempts == 0
    assert provider.requests == [] and conversation.state == "awaiting_agent"


async def test_after_a_handoff_the_bot_stays_silent(bot):
    decisions, provider, _ = await run(bot, [], "talk to a human", "hello?")
    assert [d.handoff.rule for d in decisions] == ["asks-for-human", "already_handed_off"]
    assert provider.requests == []


async def test_invalid_output_is_repaired_with_one_more_request(bot):
    [decision], provider, _ = await run(bot, ["Sure! It ships soon.", reply()], "Where is my package?")
    assert decision.action == "answer" and decision.attempts == 2
    repair = provider.requests[1].messages
    assert repair[-2] == {"role": "assistant", "content": "Sure! It ships soon."}
    assert "not JSON" in repair[-1]["content"]
    assert decision.usage.total_tokens == 30


async def test_invalid_output_twice_hands_off_as_invalid_model_output(bot):
    [decision], _, _ = await run(bot, ["nope", '{"action": "answer"}'], "Where is my package?")
    assert decision.action == "handoff" and decision.handoff.rule == "invalid_model_output"
    assert decision.attempts == 2 and "missing 'citations', 'confidence', 'reply'" in decision.handoff.detail


async def test_a_truncated_reply_counts_as_invalid_and_is_re_asked(bot):
    steps = [ModelResponse(reply(), "length"), reply()]
    [decision], _, _ = await run(bot, steps, "Where is my package?")
    assert decision.action == "answer" and decision.attempts == 2


async def test_an_unreachable_model_hands_off_as_model_unavailable(bot):
    [decision], _, _ = await run(bot, [ModelUnavailable("cannot connect")], "Where is my package?")
    assert decision.handoff.rule == "model_unavailable" and decision.handoff.detail == "cannot connect"


async def test_a_provider_that_crashes_is_a_hand_off_not_a_traceback(bot):
    [decision], _, _ = await run(bot, [RuntimeError("plugin bug")], "Where is my package?")
    assert decision.handoff.rule == "model_unavailable" and "RuntimeError" in decision.handoff.detail


async def test_model_requested_and_low_confidence_handoffs_reply_with_the_handoff_message(bot):
    decisions, _, _ = await run(bot, [reply(action="handoff", reason="upset")], "Where is my package?")
    assert decisions[0].handoff.rule == "model_requested" and decisions[0].reply == "A person will take over."
    decisions, _, _ = await run(bot, [reply(confidence=0.2)], "Where is my package?")
    assert decisions[0].handoff.rule == "low_confidence" and decisions[0].confidence == 0.2


async def test_citations_not_in_the_prompt_never_reach_the_decision(bot):
    [decision], _, _ = await run(bot, [reply(citations=("track-order", "secret-snippet"))], "Where is my package?")
    assert decision.citations == ["track-order"]


async def test_two_uncited_answers_in_a_row_fire_the_streak_rule(bot):
    steps = [reply(text="It is on its way.", citations=()), reply(text="It takes a few days.", citations=())]
    decisions, _, _ = await run(bot, steps, "Where is my package?", "How long does delivery take?")
    assert decisions[0].action == "answer"
    assert decisions[1].action == "handoff" and decisions[1].handoff.rule == "unsure-twice"


async def test_the_second_request_carries_the_first_turn(bot):
    _decisions, provider, _ = await run(bot, [reply(), reply(text="3 to 5 days.")], "Where is my package?", "How long?")
    second = provider.requests[1].messages
    assert second[1:] == [
        {"role": "user", "content": "Where is my package?"},
        {"role": "assistant", "content": "Open My Orders."},
        {"role": "user", "content": "How long?"},
    ]


async def test_old_turns_leave_the_prompt_when_the_history_budget_is_spent(bot):
    small = bot.config.model_copy(update={"limits": bot.config.limits.model_copy(update={"history_tokens": 30})})
    from supportbot.bot import Bot

    tight = Bot(small, bot.snippets, bot.source)
    messages = ["Where is my package? " * 3, "How long does delivery take?", "Returns?"]
    steps = [
        reply(),
        reply(text="Standard shipping takes 3 to 5 business days.", citations=("shipping-times",)),
        reply(text="Unworn items can be returned within 30 days.", citations=("return-policy",)),
    ]
    _, provider, _ = await run(tight, steps, *messages)
    third = provider.requests[2].messages
    assert third[0]["role"] == "system"
    assert all(m["content"] != messages[0] for m in third)
    assert third[-3]["content"] == messages[1]


@pytest.mark.parametrize(("text", "error"), [("   ", "empty"), ("x" * 4001, "4001 characters long (at most 4000")])
async def test_empty_or_over_long_messages_are_refused_before_anything_happens(bot, text, error):
    provider = ScriptedProvider([])
    with pytest.raises(MessageRejected, match=error.replace("(", r"\(")):
        await Engine(bot, provider).turn(Conversation(bot.id), text)
    assert provider.requests == []


async def test_a_hand_off_shows_the_customer_no_internals(bot):
    """The model server's address and error (a wrong key's masked suffix, say) are for
    logs and agents: the Decision a client receives says only what happened, in words."""
    failure = ModelUnavailable("http://10.1.2.3:8080/v1 answered HTTP 401: Incorrect API key provided: sk-...abcd")
    [decision], _, _ = await run(bot, [failure], "Where is my package?")
    public = decision.model_dump_json()
    assert decision.handoff.reason == "The assistant is not available right now."
    # Not a bare "401": a random conversation id or a latency may hold those digits.
    assert "10.1.2.3" not in public and "sk-" not in public and "HTTP 401" not in public
    assert "Incorrect API key" not in public
    assert "sk-...abcd" in decision.handoff.detail
