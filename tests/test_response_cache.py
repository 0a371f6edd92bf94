"""The response cache: the same first question, with the same snippets, from the same bot,
is answered again without a model call, while it is fresh; nothing else is."""

from __future__ import annotations

import pytest
from conftest import MINIMAL_BOT
from conftest import TRACKING_ANSWER as ANSWER

from supportbot import Conversation, Engine, ModelUnavailable, load_bot
from supportbot.decision import Decision, Handoff
from supportbot.response_cache import ResponseCache, cache_key
from supportbot.server.metrics import Metrics
from supportbot.testing import ScriptedProvider

pytestmark = pytest.mark.anyio

CACHING = MINIMAL_BOT + "response_cache:\n  ttl_s: 600\n"


@pytest.fixture
def cached_bot(write):
    return load_bot(write("bots/cached.yaml", CACHING), env={})


async def test_the_same_first_question_is_answered_from_the_cache(cached_bot):
    provider = ScriptedProvider([ANSWER])
    engine = Engine(cached_bot, provider)
    first = await engine.turn(Conversation(cached_bot.id), "Where is my package?")
    again = await engine.turn(Conversation(cached_bot.id), "  where is my PACKAGE ")  # case, spacing, "?"
    assert first.cached is False and first.attempts == 1
    assert again.cached is True and again.attempts == 0 and again.usage.total_tokens == 0
    assert again.reply == first.reply and again.citations == first.citations
    assert again.conversation_id != first.conversation_id and len(provider.requests) == 1


async def test_a_later_message_of_a_conversation_is_never_served_from_the_cache(cached_bot):
    provider = ScriptedProvider([ANSWER, ANSWER, ANSWER])
    engine = Engine(cached_bot, provider)
    await engine.turn(Conversation(cached_bot.id), "Where is my package?")
    conversation = Conversation(cached_bot.id)
    await engine.turn(conversation, "How do I track my order?")
    later = await engine.turn(conversation, "Where is my package?")  # it has history now
    assert later.cached is False and len(provider.requests) == 3


async def test_failures_and_rule_hand_offs_are_not_kept(cached_bot):
    provider = ScriptedProvider([ModelUnavailable("down"), ANSWER])
    engine = Engine(cached_bot, provider)
    down = await engine.turn(Conversation(cached_bot.id), "Where is my package?")
    up = await engine.turn(Conversation(cached_bot.id), "Where is my package?")
    assert down.handoff.rule == "model_unavailable" and up.action == "answer" and not up.cached
    rule = await engine.turn(Conversation(cached_bot.id), "I will sue you")
    assert rule.handoff.rule == "legal" and not rule.cached


async def test_off_unless_the_bot_sets_a_time_to_live(bot):
    provider = ScriptedProvider([ANSWER, ANSWER])
    engine = Engine(bot, provider)
    for _ in range(2):
        assert (await engine.turn(Conversation(bot.id), "Where is my package?")).cached is False
    assert len(provider.requests) == 2


def test_entries_expire_and_the_oldest_go_first():
    now = [0.0]
    cache = ResponseCache(ttl_s=60, max_entries=2, clock=lambda: now[0])
    answer = Decision(conversation_id="c", action="answer", reply="Hi", attempts=1)
    for key in ("a", "b", "c"):
        cache.put(key, answer, False)
    assert cache.get("a") is None and cache.get("b") == (answer, False)  # "a" made room
    now[0] = 61
    assert cache.get("b") is None  # stale


def test_only_what_the_model_decided_is_kept():
    cache = ResponseCache(ttl_s=60, max_entries=10)
    rule = Decision(conversation_id="c", action="handoff", reply="x", handoff=Handoff(rule="legal", reason="r"))
    small_talk = Decision(conversation_id="c", action="answer", reply="Hello!", small_talk="greeting")
    cache.put("rule", rule, False)
    cache.put("small talk", small_talk, False)
    assert cache.get("rule") is None and cache.get("small talk") is None


def test_the_key_is_the_message_the_snippets_offered_and_the_bot():
    key = cache_key("Where is my order?", ["track-order"], "bot-1")
    assert key == cache_key("where is my order", ["track-order"], "bot-1")
    assert key != cache_key("Where is my order?", ["track-order", "returns"], "bot-1")
    assert key != cache_key("Where is my order?", ["track-order"], "bot-2")  # the bot's content changed


def test_hits_are_counted_in_the_metrics():
    metrics = Metrics()
    metrics.observe_turn("shop", Decision(conversation_id="c", action="answer", reply="Hi", cached=True))
    assert 'supportbot_response_cache_hits_total{bot="shop"} 1.0' in metrics.render().decode()
