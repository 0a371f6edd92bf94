"""Every way a model server fails, through the HTTP API: a defined Decision, the turn
stored, no traceback, no hang, retries bounded by count and time."""

from __future__ import annotations

import json
import time

import pytest
from conftest import MINIMAL_BOT
from server_helpers import client_for, stream_turn

from supportbot.testing import Drop, FakeOpenAI, Reply, Status

GOOD = json.dumps(
    {
        "action": "answer",
        "reply": "Open My Orders.",
        "confidence": 0.9,
        "citations": ["track-order"],
        "handoff_reason": None,
    }
)
TIMEOUT_S = 0.5
RETRIES = 2
# The documented bound of one turn: two attempts, each within timeout x (retries + 1) plus backoff.
TURN_BOUND_S = 2 * (TIMEOUT_S * (RETRIES + 1) + 8 * RETRIES)


def bot_text() -> str:
    return MINIMAL_BOT.replace("  timeout_s: 2\n", f"  timeout_s: {TIMEOUT_S}\n")


FAULTS = {
    # name: (script, expected action, expected rule or None, most model requests)
    "answers after the timeout": ([Reply(GOOD, delay_s=3)] * 3, "handoff", "model_unavailable", 3),
    "429 with Retry-After, then an answer": (
        [Status(429, headers={"retry-after": "1"}), Reply(GOOD)],
        "answer",
        None,
        2,
    ),
    "429 without Retry-After, then an answer": ([Status(429), Reply(GOOD)], "answer", None, 2),
    "429 without end": ([Status(429, headers={"retry-after": "0"})] * 3, "handoff", "model_unavailable", 3),
    "500/502/503 burst, then an answer": ([Status(500), Status(502), Reply(GOOD)], "answer", None, 3),
    "500/502/503 burst longer than the retries": (
        [Status(500), Status(502), Status(503)],
        "handoff",
        "model_unavailable",
        3,
    ),
    "connection reset before the response": ([Drop(), Reply(GOOD)], "answer", None, 2),
    "connection reset mid-body, three times": ([Reply(GOOD, cut_body=True)] * 3, "handoff", "model_unavailable", 3),
    "truncated JSON (finish_reason length), then repaired": (
        [Reply(GOOD[:40], finish_reason="length"), Reply(GOOD)],
        "answer",
        None,
        2,
    ),
    "truncated JSON twice": ([Reply(GOOD[:40], finish_reason="length")] * 2, "handoff", "invalid_model_output", 2),
    "prose instead of JSON twice": (
        [Reply("Sure! Your order ships tomorrow.")] * 2,
        "handoff",
        "invalid_model_output",
        2,
    ),
    "JSON of the wrong shape twice": (
        [Reply('{"answer": "yes"}'), Reply("[1, 2, 3]")],
        "handoff",
        "invalid_model_output",
        2,
    ),
    "JSON of the wrong types twice": (
        [Reply('{"action": "answer", "reply": 7, "confidence": "high", "citations": "x"}')] * 2,
        "handoff",
        "invalid_model_output",
        2,
    ),
    "a 1 MB reply, then a good one": ([Reply("x" * 1_000_000), Reply(GOOD)], "answer", None, 2),
    "content_filter twice": ([Reply("", finish_reason="content_filter")] * 2, "handoff", "invalid_model_output", 2),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda f: f.replace(" ", "-"))
def test_each_fault_ends_in_a_defined_stored_decision_within_bounds(tmp_path, write, fault):
    script, action, rule, most_requests = FAULTS[fault]
    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", bot_text())
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(*script)
            started = time.monotonic()
            response = client.post("/v1/bots/test-shop/messages", json={"text": "Where is my package?"})
            elapsed = time.monotonic() - started
            decision = response.json()
            transcript = client.get(f"/v1/conversations/{decision['conversation_id']}").json()
        requests = len(server.chat_requests)
    assert response.status_code == 200 and "Traceback" not in response.text
    assert decision["action"] == action and (decision["handoff"] or {}).get("rule") == rule, decision
    assert transcript["messages"][0]["text"] == "Where is my package?"
    assert transcript["messages"][0]["decision"]["action"] == action
    assert requests <= most_requests and elapsed < TURN_BOUND_S


def test_citations_of_unknown_ids_never_reach_the_customer(tmp_path, write):
    reply = json.dumps(
        {
            "action": "answer",
            "reply": "Sure.",
            "confidence": 0.9,
            "citations": ["track-order", "internal-memo", "../../etc"],
        }
    )
    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", bot_text())
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(Reply(reply))
            decision = client.post("/v1/bots/test-shop/messages", json={"text": "Where is my package?"}).json()
    assert decision["citations"] == ["track-order"]


def test_a_stream_that_stops_half_way_shows_no_half_reply(tmp_path, write):
    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", bot_text().replace("escalation:\n", "escalation:\n  grounding: off\n", 1))
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(*[Reply(GOOD, cut_stream=True)] * 3)
            events = stream_turn(client, "Where is my package?")
    [decision] = [data for name, data in events if name == "decision"]
    assert decision["action"] == "handoff" and decision["handoff"]["rule"] == "model_unavailable"
    assert decision["reply"] == "A person will take over."


def test_a_server_that_never_answers_cannot_hold_a_turn_past_its_bound(tmp_path, write):
    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", bot_text())
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(*[Reply(GOOD, delay_s=60)] * 10)
            started = time.monotonic()
            decision = client.post("/v1/bots/test-shop/messages", json={"text": "Where is my package?"}).json()
            elapsed = time.monotonic() - started
    assert decision["handoff"]["rule"] == "model_unavailable" and elapsed < TIMEOUT_S * (RETRIES + 1) + 8 * RETRIES
