"""Defects found by attacking a running server (issue 12), each pinned by a test."""

from __future__ import annotations

import json
import logging
import threading
import time

import httpx
import pytest
from conftest import MINIMAL_BOT, REPO
from server_helpers import ServerProcess, client_for, stream_turn

from supportbot.config.loader import display_path
from supportbot.testing import FakeOpenAI, Reply

CATASTROPHIC_BOT = """\
version: 1
id: slow-rules
name: Slow rules
system_prompt: Hi.
knowledge:
  snippets:
    - id: hours
      title: Opening hours
      questions: [When are you open?]
      answer: Nine to five.
escalation:
  rules:
    - id: letters-only
      description: Messages of letters only.
      if_user_matches: '(a+)+$'
"""


def post(client, text, conversation_id=None, bot="bean-there", **kwargs):
    body = {"text": text} | ({"conversation_id": conversation_id} if conversation_id else {})
    return client.post(f"/v1/bots/{bot}/messages", json=body, **kwargs)


# 1. A catastrophic regex cannot freeze the server ------------------------------------------


def test_a_catastrophic_rule_never_blocks_the_server(write, tmp_path):
    slow_bot = write("bots/slow-rules.yaml", CATASTROPHIC_BOT)
    server = ServerProcess(
        [str(slow_bot), str(REPO / "bots" / "bean-there.yaml"), "--db", f"sqlite:///{tmp_path / 'redos.db'}"]
    )
    try:
        result: dict = {}

        def attack() -> None:
            started = time.monotonic()
            response = httpx.post(
                f"{server.url}/v1/bots/slow-rules/messages", json={"text": "a" * 2000 + "!"}, timeout=30
            )
            result.update(response.json(), seconds=time.monotonic() - started)

        thread = threading.Thread(target=attack)
        thread.start()
        time.sleep(0.05)
        health = []
        while thread.is_alive():
            started = time.monotonic()
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
            health.append(time.monotonic() - started)
            other = httpx.post(
                f"{server.url}/v1/bots/bean-there/messages", json={"text": "How long does delivery take?"}, timeout=5
            )
            assert other.json()["citations"] == ["delivery-times"]
            time.sleep(0.05)
        thread.join()
    finally:
        log = server.stop()
    assert health and max(health) < 1.0
    assert result["seconds"] < 5 and result["action"] == "handoff" and result["handoff"]["rule"] == "letters-only"
    assert "rule letters-only timed out" in log


@pytest.mark.parametrize(
    "text",
    [
        "thank" + " " * 1990 + "x",
        "that" + " " * 1000 + "is" + " " * 990 + "x",
        "hi" + "!" * 1990 + "x",
        "thanks " * 280 + "x",
        "thank ,  " * 220 + "x",
        "no " * 600 + "x",
        "hello" + " " * 1990 + "human?",
        "a" * 3999 + "n",
        "dont" * 1000,
        "1 " + " " * 1990 + "x",
        "1," * 1000 + "x",
        "yes" + " " * 1990 + "both x",
        "ok" + " " * 1000 + "that" + " " * 990 + "one x",
    ],
    ids=[
        "spaces", "two-runs", "bangs", "thanks", "commas", "no", "person", "one-word", "contractions",
        "pick-spaces", "pick-list", "pick-both", "pick-pointing",
    ],
)  # fmt: skip
def test_the_longest_message_cannot_stall_small_talk_or_complaint_matching(text):
    """The built-in patterns, too, run on the event loop: none may take long on any message
    (a gap between words that could split a run of spaces once cost minutes on the second)."""
    from supportbot.clarify import missed_option, points_without_naming, read_pick, read_several, says_too_little
    from supportbot.decision import Option
    from supportbot.not_helped import says_not_helped
    from supportbot.person import asks_for_person
    from supportbot.smalltalk import by_meaning, examples, split_small_talk

    close_to_thanks = [0.9 if kind == "thanks" else 0.0 for _, kind in examples()]  # so the negation check runs
    started = time.monotonic()
    split_small_talk(text), says_not_helped(text), asks_for_person(text), says_too_little(text)
    options = [Option(id="a", title="Opening hours"), Option(id="b", title="Booking a repair")]
    read_pick(text, options), read_several(text, options), missed_option(text, options)
    points_without_naming(text, options)
    by_meaning(close_to_thanks, text)
    assert time.monotonic() - started < 1.0


def test_validate_warns_about_a_pattern_that_can_backtrack_catastrophically(write):
    from typer.testing import CliRunner

    from supportbot.cli import app

    path = write("bots/slow.yaml", CATASTROPHIC_BOT)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert (
        f"warning: {display_path(path)}:15:24: rule 'letters-only': the pattern can backtrack catastrophically"
        in result.output.replace("\n", "")
    )


# 3. No customer text in the server log -----------------------------------------------------


def test_a_model_echoing_the_customer_puts_none_of_it_in_the_log(write, tmp_path, caplog):
    with FakeOpenAI() as server:
        bot = write(
            "bots/model.yaml",
            MINIMAL_BOT.replace("  name: gpt-4o-mini\n", f"  name: gpt-4o-mini\n  base_url: {server.url}\n"),
        )
        echo = json.dumps(
            {
                "action": "answer",
                "reply": {"email": "jane@example.com", "card": "4111 1111 1111 1111"},
                "confidence": 0.9,
                "citations": [],
            }
        )
        server.script(Reply(echo), Reply(echo))
        caplog.set_level(logging.DEBUG)
        with client_for(tmp_path, bots=[str(bot)]) as client:
            decision = post(
                client, "Where is my package? I am jane@example.com, card 4111 1111 1111 1111", bot="test-shop"
            ).json()
    assert decision["handoff"]["rule"] == "invalid_model_output"
    assert "jane" not in caplog.text and "4111" not in caplog.text


# 5. A number a rule caught never reaches the model -----------------------------------------


def test_text_caught_by_a_rule_is_withheld_from_later_prompts(write, tmp_path):
    with FakeOpenAI() as server:
        text = MINIMAL_BOT.replace("  name: gpt-4o-mini\n", f"  name: gpt-4o-mini\n  base_url: {server.url}\n")
        text = text.replace(
            "    - id: unsure-twice\n",
            "    - id: card\n      if_user_matches: '\\b(?:\\d[ -]?){13,19}\\b'\n    - id: unsure-twice\n",
        )
        bot = write("bots/model.yaml", text)
        with client_for(tmp_path, bots=[str(bot)]) as client:
            caught = post(client, "my card is 4111\u200b1111\u200b1111\u200b1111", bot="test-shop").json()
            assert caught["handoff"]["rule"] == "card" and caught["attempts"] == 0
            cid = caught["conversation_id"]
            client.post(f"/v1/conversations/{cid}/claim", json={"agent": "a"})
            client.post(f"/v1/conversations/{cid}/release", json={"resume_bot": True})
            answered = post(client, "Where is my package?", cid, bot="test-shop").json()
            transcript = client.get(f"/v1/conversations/{cid}").json()
    assert answered["action"] == "answer"
    prompt = json.dumps(server.chat_requests[-1].body["messages"])
    assert "4111" not in prompt and "Where is my package?" in prompt
    assert (
        transcript["messages"][0]["text"] == "my card is 4111\u200b1111\u200b1111\u200b1111"
    )  # agents see what was sent


# 6. Text the database cannot hold is refused at the edge, by field -------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ({"text": "talk to a human \ud800"}, "text"),
        ({"text": "hello\u0000"}, "text"),
        ({"text": "hello", "metadata": {"name": "x\ud800"}}, "metadata"),
        ({"text": "hello", "metadata": {"k\u0000": 1}}, "metadata"),
    ],
)
def test_unstorable_text_is_a_422_naming_the_field_and_nothing_is_stored(tmp_path, body, field):
    with client_for(tmp_path) as client:
        raw = json.dumps(body)  # \ud800 is written as an escape, as a client would send it
        response = client.post(
            "/v1/bots/bean-there/messages", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][1] == field
        assert "U+" in response.json()["detail"][0]["msg"]
        assert client.get("/v1/handoffs").json() == []


def test_agent_names_messages_and_path_ids_with_nul_are_422s(tmp_path):
    with client_for(tmp_path) as client:
        cid = post(client, "I want a human").json()["conversation_id"]
        assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "ma\u0000ria"}).status_code == 422
        assert client.get(f"/v1/conversations/{cid}").json()["state"] == "awaiting_agent"
        client.post(f"/v1/conversations/{cid}/claim", json={"agent": "maria"})
        assert client.post(f"/v1/conversations/{cid}/agent-messages", json={"text": "hi\u0000"}).status_code == 422
        assert client.get("/v1/conversations/abc%00def").status_code == 422
        assert client.get(f"/v1/conversations/{cid}").status_code == 200


# 8. A fabricated citation is a hand-off; streamed text only for replies that stand ---------


def model_client(write, tmp_path, server, **replace):
    text = MINIMAL_BOT.replace("  name: gpt-4o-mini\n", f"  name: gpt-4o-mini\n  base_url: {server.url}\n")
    for old, new in replace.items():
        text = text.replace(old, new)
    return client_for(tmp_path, bots=[str(write("bots/model.yaml", text))])


def test_an_answer_citing_a_snippet_that_does_not_exist_is_handed_off_and_never_streamed(write, tmp_path):
    invented = json.dumps(
        {
            "action": "answer",
            "citations": ["no-such-snippet"],
            "confidence": 0.95,
            "reply": "We ship everywhere.",
            "handoff_reason": None,
        }
    )
    with FakeOpenAI() as server, model_client(write, tmp_path, server) as client:
        server.script(Reply(invented), Reply(invented))
        plain = post(client, "Do you ship to Mars?", bot="test-shop").json()
        events = stream_turn(client, "Do you ship to Mars?")
    assert plain["action"] == "handoff" and plain["handoff"]["rule"] == "unknown_citations"
    assert [name for name, _ in events] == ["decision"] and events[0][1]["handoff"]["rule"] == "unknown_citations"


def test_streamed_text_never_exceeds_the_reply_limit(write, tmp_path):
    long = json.dumps({"action": "answer", "citations": ["track-order"], "confidence": 0.9, "reply": "x" * 5000})
    with FakeOpenAI() as server, model_client(write, tmp_path, server) as client:
        server.script(Reply(long), Reply(long))
        events = stream_turn(client, "Where is my package?")
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert len(streamed) <= 4000 and events[-1][1]["handoff"]["rule"] == "invalid_model_output"


# 9. New conversations are limited per client; metadata is bounded; the queue pages -------


def test_new_conversations_are_limited_per_client_address(tmp_path):
    with client_for(tmp_path, new_conversations_per_minute=3) as client:
        statuses = [post(client, "Where is my order?").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = post(client, "Where is my order?")
        assert "new conversations" in refused.json()["detail"] and int(refused.headers["retry-after"]) > 0


def test_forwarded_addresses_count_only_from_trusted_proxies():
    from supportbot.server.limits import client_address

    assert client_address("10.0.0.5", "203.0.113.9", ["10.0.0.0/8"]) == "203.0.113.9"
    assert client_address("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", ["10.0.0.0/8"]) == "203.0.113.9"
    assert client_address("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"]) == "203.0.113.9"  # not a proxy: header ignored
    assert client_address("10.0.0.5", None, ["10.0.0.0/8"]) == "10.0.0.5"


def test_metadata_is_bounded_in_size(tmp_path):
    with client_for(tmp_path) as client:
        big = {f"k{i}": "x" * 900 for i in range(10)}
        response = client.post("/v1/bots/bean-there/messages", json={"text": "hello", "metadata": big})
        assert response.status_code == 422 and "at most 4096" in json.dumps(response.json())


def test_the_queue_pages_so_no_hand_off_is_pushed_out_of_sight(tmp_path):
    with client_for(tmp_path, new_conversations_per_minute=0) as client:
        ids = [post(client, "I want a human").json()["conversation_id"] for _ in range(7)]
        seen, cursor = [], None
        while True:
            response = client.get("/v1/handoffs", params={"limit": 3} | ({"cursor": cursor} if cursor else {}))
            seen += [p["conversation_id"] for p in response.json()]
            cursor = response.headers.get("x-next-cursor")
            if not cursor:
                break
        assert seen == ids
        assert client.get("/v1/handoffs", params={"cursor": "not-ours"}).status_code == 422


# 11. Decisions carry a reason fit for a customer ------------------------------------------


def test_a_model_server_failure_shows_the_customer_no_address_and_the_agent_the_detail(write, tmp_path):
    text = MINIMAL_BOT.replace("  name: gpt-4o-mini\n", "  name: gpt-4o-mini\n  base_url: http://127.0.0.1:9/v1\n")
    bot = write("bots/down.yaml", text.replace("  max_retries: 2\n", "  max_retries: 0\n"))
    with client_for(tmp_path, bots=[str(bot)], api_keys=["c-key"], agent_keys=["a-key"]) as client:
        decision = post(
            client, "Where is my package?", bot="test-shop", headers={"Authorization": "Bearer c-key"}
        ).json()
        cid = decision["conversation_id"]
        as_customer = client.get(f"/v1/conversations/{cid}", headers={"Authorization": "Bearer c-key"}).json()
        as_agent = client.get(f"/v1/conversations/{cid}", headers={"Authorization": "Bearer a-key"}).json()
        [packet] = client.get("/v1/handoffs", headers={"Authorization": "Bearer a-key"}).json()
    assert decision["handoff"] == {"rule": "model_unavailable", "reason": "The assistant is not available right now."}
    assert "127.0.0.1:9" not in json.dumps(decision) and "127.0.0.1:9" not in json.dumps(as_customer)
    assert "127.0.0.1:9" in as_agent["handoff"]["detail"] and "127.0.0.1:9" in packet["detail"]


# 14. Pages: a content security policy, no framing, no /docs from a CDN, /metrics protectable


def test_pages_carry_a_content_security_policy_and_refuse_framing(tmp_path):
    with client_for(tmp_path) as client:
        for path in ("/", "/agent", "/static/chat.js"):
            headers = client.get(path).headers
            assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
        assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 200


def test_docs_when_asked_for_load_a_pinned_swagger_ui(tmp_path):
    with client_for(tmp_path, docs=True) as client:
        assert "swagger-ui-dist@5.17.14/swagger-ui-bundle.js" in client.get("/docs").text


def test_metrics_can_be_protected_by_a_key(tmp_path):
    with client_for(tmp_path, metrics_keys=["m-key"]) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer m-key"}).status_code == 200


# 15. Out-of-range numbers and odd file names are 4xx -----------------------------------------


def test_an_out_of_range_event_cursor_and_a_nul_in_a_file_name_are_4xx(tmp_path):
    with client_for(tmp_path) as client:
        cid = post(client, "Where is my order?").json()["conversation_id"]
        assert client.get(f"/v1/conversations/{cid}/events", params={"after": 2**63}).status_code == 422
        assert client.get("/static/common.js%00.css").status_code == 404
        assert client.get("/static/..%2Fbot.py").status_code == 404
