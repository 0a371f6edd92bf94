"""The HTTP API: customer turns, the hand-off lifecycle, errors that explain themselves."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import MINIMAL_BOT
from server_helpers import client_for, sse_events, stream_turn

from supportbot.testing import FakeOpenAI, Reply

GOOD = '{"action": "answer", "citations": ["track-order"], "confidence": 0.9, "reply": "Open \\"My Orders\\" to see the tracking link.", "handoff_reason": null}'


def post(client, text, conversation_id=None, bot="bean-there", **kwargs):
    body = {"text": text} | ({"conversation_id": conversation_id} if conversation_id else {})
    return client.post(f"/v1/bots/{bot}/messages", json=body, **kwargs)


def test_the_whole_lifecycle_answer_handoff_silence_claim_reply_release_answer(tmp_path):
    with client_for(tmp_path) as client:
        first = post(client, "How long does delivery take?").json()
        cid = first["conversation_id"]
        assert (first["action"], first["citations"], first["state"]) == ("answer", ["delivery-times"], "bot_active")

        handoff = post(client, "my mug arrived smashed", cid).json()
        assert handoff["handoff"]["rule"] == "damaged-or-unsafe" and handoff["state"] == "awaiting_agent"

        silent = post(client, "hello??", cid).json()
        assert silent["handoff"]["rule"] == "already_handed_off" and silent["attempts"] == 0
        assert "shortly" in silent["reply"]

        [packet] = client.get("/v1/handoffs", params={"state": "awaiting_agent"}).json()
        assert packet["conversation_id"] == cid and packet["rule"] == "damaged-or-unsafe"
        assert packet["reason"] and "How long does delivery take?" in packet["summary"]
        assert [m["role"] for m in packet["last_messages"]] == ["customer", "bot", "customer", "bot", "customer"]

        assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "maria"}).json()["state"] == "agent_active"
        assert (
            client.post(
                f"/v1/conversations/{cid}/agent-messages", json={"text": "A new mug is on its way."}
            ).status_code
            == 201
        )
        transcript = client.get(f"/v1/conversations/{cid}").json()
        assert transcript["messages"][-1] | {"at": None} == {
            "seq": 6,
            "role": "agent",
            "text": "A new mug is on its way.",
            "author": "maria",
            "at": None,
            "decision": None,
            "feedback": None,
        }
        assert transcript["messages"][0]["decision"]["action"] == "answer"
        assert all(m["at"].endswith("Z") for m in transcript["messages"])

        assert (
            client.post(f"/v1/conversations/{cid}/release", json={"resume_bot": True}).json()["state"] == "bot_active"
        )
        again = post(client, "how should I store my coffee?", cid).json()
        assert (again["action"], again["citations"], again["state"]) == ("answer", ["storing-coffee"], "bot_active")


def test_a_clarification_stays_open_across_small_talk_in_the_store(tmp_path):
    with client_for(tmp_path) as client:
        asked = post(client, "ground or whole?").json()
        cid = asked["conversation_id"]
        assert asked["action"] == "clarify" and [o["id"] for o in asked["options"]] == ["grind-options"]
        assert post(client, "hmm", cid).json()["small_talk"] == "hesitation"
        picked = post(client, "yes", cid).json()
        assert (picked["action"], picked["citations"]) == ("answer", ["grind-options"])


def test_a_message_to_a_closed_conversation_reopens_it_to_the_bot(tmp_path):
    """Like a helpdesk reopening a solved ticket: the customer is answered (or queued for a
    person again), never told someone will reply to a conversation nobody looks at."""
    with client_for(tmp_path) as client:
        cid = post(client, "I want a human").json()["conversation_id"]
        client.post(f"/v1/conversations/{cid}/claim", json={"agent": "a"})
        assert client.post(f"/v1/conversations/{cid}/release", json={"resume_bot": False}).json()["state"] == "closed"
        after = post(client, "how should I store my coffee?", cid).json()
        assert (after["action"], after["citations"], after["state"]) == ("answer", ["storing-coffee"], "bot_active")
        again = post(client, "I want a human", cid).json()
        assert again["state"] == "awaiting_agent"
        [packet] = client.get("/v1/handoffs").json()
        assert packet["conversation_id"] == cid
        assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "b"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "state"),
    [
        ("claim", {"agent": "a"}, "bot_active"),
        ("release", {"resume_bot": True}, "bot_active"),
        ("agent-messages", {"text": "hi"}, "bot_active"),
    ],
)
def test_illegal_transitions_are_409_naming_the_current_state(tmp_path, path, body, state):
    with client_for(tmp_path) as client:
        cid = post(client, "Where is my order?").json()["conversation_id"]
        response = client.post(f"/v1/conversations/{cid}/{path}", json=body)
        assert response.status_code == 409 and response.json()["state"] == state
        assert response.json()["detail"].startswith(f"conversation is {state}; cannot")


def test_unknown_bots_and_conversations_are_404_and_another_bots_conversation_is_unknown(tmp_path):
    with client_for(tmp_path) as client:
        assert post(client, "hi", bot="nope").status_code == 404
        cid = post(client, "Where is my order?").json()["conversation_id"]
        assert post(client, "hi", cid, bot="ledgerly-billing").status_code == 404
        assert client.get("/v1/conversations/0123abc").status_code == 404
        assert client.post("/v1/conversations/0123abc/claim", json={"agent": "a"}).status_code == 404


def test_empty_or_over_long_text_is_422_with_the_limit(tmp_path):
    with client_for(tmp_path) as client:
        assert post(client, "   ").json()["detail"] == "the message is empty (send some text)"
        response = post(client, "x" * 2001)
        assert response.status_code == 422 and "at most 2000 are allowed" in response.json()["detail"]
        assert client.post("/v1/bots/bean-there/messages", json={"txt": "hi"}).status_code == 422


def test_a_body_over_the_size_limit_is_413(tmp_path):
    with client_for(tmp_path, max_body_bytes=1000) as client:
        response = client.post(
            "/v1/bots/bean-there/messages",
            content=json.dumps({"text": "x" * 5000}),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413 and "at most 1000 bytes" in response.json()["detail"]


def test_too_many_messages_in_a_conversation_are_429_with_retry_after(tmp_path, write):
    bot = write(
        "bots/fast.yaml",
        MINIMAL_BOT.replace("provider: openai", "provider: offline") + "limits:\n  messages_per_minute: 3\n",
    )
    with client_for(tmp_path, bots=[str(bot)]) as client:
        cid = post(client, "Where is my package?", bot="test-shop").json()["conversation_id"]
        for _ in range(2):
            assert post(client, "Where is my package?", cid, bot="test-shop").status_code == 200
        limited = post(client, "Where is my package?", cid, bot="test-shop")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "at most 3 a minute" in limited.json()["detail"]


def test_openapi_health_readiness_and_metrics(tmp_path):
    with client_for(tmp_path) as client:
        spec = client.get("/openapi.json").json()
        assert {"/v1/bots/{bot_id}/messages", "/v1/handoffs", "/v1/conversations/{conversation_id}/claim"} <= set(
            spec["paths"]
        )
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"ready": True, "bots": 2, "store": "ok"}
        post(client, "Where is my order?")
        post(client, "I want a human")
        metrics = client.get("/metrics").text
        assert 'supportbot_turns_total{action="answer",bot="bean-there"} 1.0' in metrics
        assert 'supportbot_handoffs_total{bot="bean-there",rule="asks-for-human"} 1.0' in metrics
        assert "supportbot_model_latency_seconds_bucket" in metrics and "supportbot_tokens_total" in metrics
        assert 'supportbot_tokens_total{bot="bean-there",kind="cached"}' in metrics


def test_logs_are_json_lines_without_keys_or_message_text(tmp_path, caplog):
    from supportbot.server.logs import JsonFormatter

    with (
        caplog.at_level(logging.INFO),
        client_for(tmp_path, api_keys=["ck-secret-123"], agent_keys=["ak-secret-456"]) as client,
    ):
        post(client, "my secret order number is 4242", headers={"Authorization": "Bearer ck-secret-123"})
        post(client, "hi", headers={"Authorization": "Bearer wrong-key-999"})
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any(json.loads(line).get("path") == "/v1/bots/bean-there/messages" for line in lines)
    text = "\n".join(lines)
    for secret in ("ck-secret-123", "wrong-key-999", "4242", "my secret order"):
        assert secret not in text


def test_streaming_sends_reply_deltas_then_the_decision(tmp_path, write):
    from conftest import STREAMING_BOT

    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", STREAMING_BOT)
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(Reply(GOOD))
            events = stream_turn(client, "Where is my package?")
    deltas = [data["text"] for name, data in events if name == "delta"]
    [decision] = [data for name, data in events if name == "decision"]
    assert len(deltas) > 1 and "".join(deltas) == 'Open "My Orders" to see the tracking link.'
    assert decision["action"] == "answer" and decision["reply"] == "".join(deltas) and events[-1][0] == "decision"


def test_streaming_never_shows_text_that_fails_validation(tmp_path, write):
    with FakeOpenAI() as server:
        bot = write("bots/model.yaml", MINIMAL_BOT)
        with client_for(tmp_path, bots=[str(bot)], env={"OPENAI_BASE_URL": server.url}) as client:
            server.script(
                Reply('{"action": "handoff", "reply": "secret internal note", "confidence": 0.9, "citations": []}')
            )
            events = stream_turn(client, "Where is my package?")
    assert [name for name, _ in events] == ["decision"]
    assert events[0][1]["reply"] == "A person will take over." and events[0][1]["handoff"]["rule"] == "model_requested"


def test_customer_events_stream_carries_agent_replies(tmp_path):
    with client_for(tmp_path) as client:
        cid = post(client, "I want a human").json()["conversation_id"]
        client.post(f"/v1/conversations/{cid}/claim", json={"agent": "maria"})
        client.post(f"/v1/conversations/{cid}/agent-messages", json={"text": "Hi, Maria here."})
        with client.stream("GET", f"/v1/conversations/{cid}/events", params={"after": 2}) as response:
            events = []
            for name, data in sse_events(response.iter_text()):
                events.append((name, data))
                if name == "message":
                    break
    assert events[0] == ("state", {"state": "agent_active", "agent": "maria"})
    assert events[1][1] | {"at": None} == {
        "seq": 3,
        "role": "agent",
        "text": "Hi, Maria here.",
        "author": "maria",
        "at": None,
    }


def test_an_agent_deletes_a_conversation_for_good_and_a_customer_cannot(tmp_path):
    customer_key, agent_key = {"Authorization": "Bearer ck-secret-123"}, {"Authorization": "Bearer ak-secret-456"}
    with client_for(tmp_path, api_keys=["ck-secret-123"], agent_keys=["ak-secret-456"]) as client:
        cid = post(client, "Where is my order?", headers=customer_key).json()["conversation_id"]
        assert client.delete(f"/v1/conversations/{cid}", headers=customer_key).status_code == 401
        assert client.delete(f"/v1/conversations/{cid}", headers=agent_key).status_code == 204
        assert client.get(f"/v1/conversations/{cid}", headers=agent_key).status_code == 404
        assert client.delete(f"/v1/conversations/{cid}", headers=agent_key).status_code == 404


def test_no_dependency_of_any_route_goes_to_the_thread_pool():
    # FastAPI runs a plain `def` dependency in its thread pool: a hop to another thread on
    # every request (~0.1 ms of CPU here, a thirtieth of a turn) for what awaits nothing.
    import inspect

    from fastapi.routing import APIRoute

    from supportbot.server.routes import agent, channels, customer, operations, pages

    def calls(dependant):
        for dependency in dependant.dependencies:
            yield dependency.call
            yield from calls(dependency)

    modules = (agent, channels, customer, operations, pages)
    routes = [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]
    sync = {f"{r.path}: {c.__name__}" for r in routes for c in calls(r.dependant) if not inspect.iscoroutinefunction(c)}
    assert len(routes) > 15 and not sync
