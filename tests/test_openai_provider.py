"""The openai provider: the real SDK over real HTTP against a fake server on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from supportbot import Conversation, Engine, MissingApiKey, load_bot
from supportbot.errors import ModelUnavailable
from supportbot.providers.base import ModelResponse
from supportbot.providers.openai_chat import (
    OPENAI_DEFAULT_BASE_URL,
    OpenAIProvider,
    completion_response,
    resolve_base_url,
)
from supportbot.testing import Body, Drop, FakeOpenAI, Reply, Status
from supportbot.testing.fake_openai import response_form

pytestmark = pytest.mark.anyio

GOOD = json.dumps(
    {
        "action": "answer",
        "citations": ["track-order"],
        "confidence": 0.9,
        "reply": "Open My Orders.",
        "handoff_reason": None,
    }
)


def engine_for(bot, server, **env):
    return Engine.for_bot(bot, {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test", **env})


async def one_turn(bot, server, text="Where is my package?", **kwargs):
    async with engine_for(bot, server) as engine:
        return await engine.turn(Conversation(bot.id), text, **kwargs)


async def test_a_plain_request_carries_prompt_snippets_and_the_turns_reply_schema(bot, fake_openai):
    fake_openai.script(Reply(GOOD))
    decision = await one_turn(bot, fake_openai)
    assert decision.action == "answer" and decision.citations == ["track-order"]
    [request] = fake_openai.chat_requests
    body = request.body
    assert request.headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-4o-mini" and body["response_format"]["type"] == "json_schema"
    cited = body["response_format"]["json_schema"]["schema"]["properties"]["citations"]
    assert cited["items"]["enum"] == ["track-order"]  # only the snippets offered
    system = body["messages"][0]
    assert system["role"] == "system" and "You are the assistant of Test Shop." in system["content"]
    assert "[track-order] Track an order" in system["content"]
    assert body["messages"][-1] == {"role": "user", "content": "Where is my package?"}
    assert decision.usage.total_tokens > 0


async def test_json_schema_mode_sends_a_strict_schema(bot, fake_openai):
    fake_openai.script(Reply(GOOD))
    await one_turn(with_model(bot, structured_output="json_schema"), fake_openai)
    sent = fake_openai.chat_requests[0].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    schema = sent["json_schema"]["schema"]
    assert set(schema["required"]) == set(schema["properties"]) and schema["additionalProperties"] is False
    assert "maxLength" not in json.dumps(schema)  # OpenAI's strict mode takes no bounds


async def test_structured_output_off_sends_the_response_format_as_set(bot, fake_openai):
    fake_openai.script(Reply(GOOD))
    await one_turn(with_model(bot, structured_output="off"), fake_openai)
    assert fake_openai.chat_requests[0].body["response_format"] == {"type": "json_object"}


async def test_streaming_delivers_the_text_as_it_arrives(write, fake_openai):
    from conftest import STREAMING_BOT

    bot = load_bot(write("bots/stream.yaml", STREAMING_BOT), env={})
    fake_openai.script(Reply(GOOD))
    pieces: list[str] = []

    async def collect(piece: str) -> None:
        pieces.append(piece)

    decision = await one_turn(bot, fake_openai, on_reply_delta=collect)
    assert len(pieces) > 1 and "".join(pieces) == "Open My Orders."
    assert decision.action == "answer" and decision.usage.total_tokens > 0
    assert fake_openai.chat_requests[0].body["stream"] is True


async def test_a_stream_that_breaks_off_is_a_hand_off(write, fake_openai):
    from conftest import STREAMING_BOT

    bot = load_bot(write("bots/stream.yaml", STREAMING_BOT), env={})
    fake_openai.script(Reply(GOOD, cut_stream=True), Reply(GOOD, cut_stream=True), Reply(GOOD, cut_stream=True))

    async def ignore(piece: str) -> None:
        pass

    decision = await one_turn(bot, fake_openai, on_reply_delta=ignore)
    assert decision.action == "handoff" and decision.handoff.rule == "model_unavailable"


async def test_429_and_500_are_retried_until_success(bot, fake_openai):
    fake_openai.script(Status(429, headers={"retry-after": "0"}), Status(500), Reply(GOOD))
    decision = await one_turn(bot, fake_openai)
    assert decision.action == "answer" and decision.attempts == 1
    assert len(fake_openai.chat_requests) == 3


async def test_invalid_json_then_a_repaired_reply(bot, fake_openai):
    fake_openai.script(Reply("Your package ships tomorrow!"), Reply(GOOD))
    decision = await one_turn(bot, fake_openai)
    assert decision.action == "answer" and decision.attempts == 2
    repair = fake_openai.chat_requests[1].body["messages"]
    assert repair[-2]["content"] == "Your package ships tomorrow!" and "not JSON" in repair[-1]["content"]


async def test_invalid_twice_hands_off(bot, fake_openai):
    fake_openai.script(Reply("no json"), Reply('{"action": "answer"'))
    decision = await one_turn(bot, fake_openai)
    assert decision.handoff.rule == "invalid_model_output" and decision.attempts == 2


async def test_finish_reason_length_and_content_filter_are_invalid_output_not_crashes(bot, fake_openai):
    fake_openai.script(Reply(GOOD[:30], finish_reason="length"), Reply("", finish_reason="content_filter"))
    decision = await one_turn(bot, fake_openai)
    assert decision.handoff.rule == "invalid_model_output"
    assert "content filter" in decision.handoff.detail


def with_model(bot, **settings):
    from supportbot.bot import Bot

    model = bot.config.model.model_copy(update=settings)
    return Bot(bot.config.model_copy(update={"model": model}), bot.snippets)


async def test_a_model_that_answers_too_late_is_handed_off_and_not_asked_again(bot, fake_openai):
    # A local server keeps writing an abandoned reply: a retry would queue behind it.
    fake_openai.script(*[Reply(GOOD, delay_s=3)] * 2)
    started = time.monotonic()
    decision = await one_turn(with_model(bot, timeout_s=0.3, max_retries=1), fake_openai)
    elapsed = time.monotonic() - started
    assert decision.handoff.rule == "model_unavailable"
    assert "did not finish the reply within 0.3s (not retried" in decision.handoff.detail
    assert len(fake_openai.chat_requests) == 1 and elapsed < 0.3 + 1


async def test_a_silent_server_is_given_up_on_after_the_first_byte_bound(bot, fake_openai):
    fake_openai.script(Reply(GOOD, delay_s=3))
    started = time.monotonic()
    decision = await one_turn(with_model(bot, timeout_s=30, first_byte_timeout_s=0.3), fake_openai)
    assert "sent nothing for 0.3s" in decision.handoff.detail and time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("base_url", "settings", "expected"),
    [
        ("https://api.openai.com/v1", {}, (20, 20)),
        ("http://127.0.0.1:8080/v1", {}, (300, 300)),  # a CPU model on this machine
        ("http://localhost:11434/v1", {}, (300, 300)),
        ("http://[::1]:8000/v1", {"first_byte_timeout_s": 30}, (30, 300)),
        ("http://10.0.0.5/v1", {"timeout_s": 90, "first_byte_timeout_s": 200}, (90, 90)),  # silence <= the whole
    ],
)
def test_default_timeouts_fit_the_server(bot, base_url, settings, expected):
    from supportbot.config.timeouts import model_timeouts

    unset = {"timeout_s": None, "first_byte_timeout_s": None}  # MINIMAL_BOT sets a timeout
    assert model_timeouts(bot.config.model.model_copy(update={**unset, **settings}), base_url) == expected


async def test_a_reset_connection_and_a_server_error_burst_end_in_a_hand_off(bot, fake_openai):
    fake_openai.script(Drop(), Status(503), Status(502))
    decision = await one_turn(bot, fake_openai)
    assert decision.handoff.rule == "model_unavailable" and "502" in decision.handoff.detail


@pytest.mark.parametrize("payload", [{"error": "upstream busy"}, ["not", "an", "object"], "<html>"])
async def test_a_200_that_is_not_a_chat_completion_is_a_hand_off_that_says_so(bot, fake_openai, payload):
    fake_openai.script(Body(payload))
    decision = await one_turn(bot, fake_openai)
    assert decision.handoff.rule == "model_unavailable" and "not a chat completion" in decision.handoff.detail


def test_a_completion_is_read_from_its_json_as_the_server_sent_it():
    usage = {"prompt_tokens": 90, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 64}}
    body = {"model": "m", "usage": usage, "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
    read = completion_response(body)
    assert (read.text, read.finish_reason, read.model) == ("hi", "stop", "m")
    assert (read.usage.prompt_tokens, read.usage.total_tokens, read.usage.cached_tokens) == (90, 100, 64)


@pytest.mark.parametrize(
    ("body", "text", "finish"),
    [
        ({"choices": []}, "", None),  # no choice: an empty reply, which the engine repairs or hands off
        (
            {"choices": [{"message": {"content": None, "refusal": "I can't"}, "finish_reason": "stop"}]},
            "",
            "content_filter",
        ),
        ({"choices": [{"message": {"content": [{"type": "text"}]}, "finish_reason": 7}]}, "", None),
        ({"choices": ["odd"], "usage": {"prompt_tokens": "many"}}, "", None),
    ],
)
def test_an_odd_completion_reads_as_an_empty_reply_never_a_crash(body, text, finish):
    read = completion_response(body)
    assert (read.text, read.finish_reason, read.usage.total_tokens) == (text, finish, 0)
    assert isinstance(read, ModelResponse)


def test_something_that_is_not_a_completion_names_what_it_was():
    with pytest.raises(ModelUnavailable, match="http://x answered with an object without a 'choices' list"):
        completion_response({"error": {}}, "http://x")


async def test_a_server_that_is_down_is_model_unavailable(bot):
    class Nowhere:
        url = "http://127.0.0.1:9/v1"

    decision = await one_turn(bot, Nowhere())
    assert decision.handoff.rule == "model_unavailable" and "cannot connect" in decision.handoff.detail


def test_without_a_key_openai_itself_is_refused_with_a_hint(bot):
    with pytest.raises(MissingApiKey, match=r"OPENAI_API_KEY is not set.*--provider offline"):
        OpenAIProvider(bot, {})


def test_a_local_server_needs_no_key(bot):
    provider = OpenAIProvider(bot, {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert provider.base_url == "http://127.0.0.1:11434/v1"


def test_base_url_comes_from_the_bot_then_the_environment_then_the_sdk_default():
    assert resolve_base_url("http://bot/v1", {"OPENAI_BASE_URL": "http://env/v1"}) == "http://bot/v1"
    assert resolve_base_url(None, {"OPENAI_BASE_URL": "http://env/v1"}) == "http://env/v1"
    assert resolve_base_url(None, {}) == OPENAI_DEFAULT_BASE_URL


async def test_the_bot_file_base_url_wins_over_the_environment(write, fake_openai):
    from conftest import MINIMAL_BOT

    text = MINIMAL_BOT.replace("  name: gpt-4o-mini\n", f"  name: gpt-4o-mini\n  base_url: {fake_openai.url}\n")
    bot = load_bot(write("bots/b.yaml", text), env={})
    async with Engine.for_bot(bot, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}) as engine:
        decision = await engine.turn(Conversation(bot.id), "Where is my package?")
    assert decision.action == "answer" and len(fake_openai.chat_requests) == 1


@pytest.mark.parametrize("status", [400, 422, 500])
async def test_auto_falls_back_form_by_form_and_remembers_what_the_server_took(bot, status):
    # llama-cpp-python's server: no json_schema, but json_object with a schema inside.
    with FakeOpenAI(refuses={"json_schema": status}) as server:
        async with engine_for(with_model(bot, max_retries=0), server) as engine:
            first = await engine.turn(Conversation(bot.id), "Where is my package?")
            second = await engine.turn(Conversation(bot.id), "Where is my package?")
        forms = [response_form(r.body) for r in server.chat_requests]
        sent = server.chat_requests[1].body["response_format"]["schema"]
    assert first.action == "answer" and second.action == "answer"
    assert forms == ["json_schema", "json_object_schema", "json_object_schema"]  # refused once, then remembered
    # Small limits, that a grammar engine can take; citations only among the snippets offered.
    assert sent["properties"]["reply"]["maxLength"] == 1000
    assert sent["properties"]["citations"]["items"]["enum"] == ["track-order"]


async def test_a_server_that_takes_no_schema_at_all_gets_plain_json_object(bot):
    with FakeOpenAI(refuses={"json_schema": 400, "json_object_schema": 422}) as server:
        decision = await one_turn(with_model(bot, max_retries=0), server)
        forms = [response_form(r.body) for r in server.chat_requests]
    assert decision.action == "answer" and forms == ["json_schema", "json_object_schema", "json_object"]


async def test_a_server_that_refuses_even_json_object_is_a_hand_off(bot):
    refusing = {"json_schema": 400, "json_object_schema": 400, "json_object": 400}
    with FakeOpenAI(refuses=refusing) as server:
        decision = await one_turn(with_model(bot, max_retries=0), server)
    assert decision.handoff.rule == "model_unavailable" and "HTTP 400" in decision.handoff.detail


async def test_a_refused_explicit_form_falls_back_to_plain_json_object(bot):
    with FakeOpenAI(refuses={"json_object_schema": 500}) as server:
        decision = await one_turn(with_model(bot, structured_output="json_object_schema", max_retries=0), server)
        forms = [response_form(r.body) for r in server.chat_requests]
    assert decision.action == "answer" and forms == ["json_object_schema", "json_object"]


async def test_prompt_tokens_from_the_servers_cache_are_counted(bot, fake_openai):
    async with engine_for(bot, fake_openai) as engine:
        first = await engine.turn(Conversation(bot.id), "Where is my package?")
        second = await engine.turn(Conversation(bot.id), "How long does delivery take?")
    assert first.usage.cached_tokens == 0  # nothing cached yet
    # The second turn shares the system prompt and the contract: the fake caches that head.
    assert 0 < second.usage.cached_tokens < second.usage.prompt_tokens
    assert second.model_dump()["usage"]["cached_tokens"] == second.usage.cached_tokens
