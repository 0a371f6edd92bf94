"""Real `supportbot serve` processes: order across processes, shared PostgreSQL, kill -9."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from conftest import MINIMAL_BOT, REPO
from pg import postgres_schema
from server_helpers import ServerProcess

from supportbot.testing import FakeOpenAI


def model_bot(write, server: FakeOpenAI) -> Path:
    """A bot whose model is the fake server (its URL in the bot file, no key needed)."""
    text = MINIMAL_BOT.replace("  name: gpt-4o-mini\n", f"  name: gpt-4o-mini\n  base_url: {server.url}\n")
    return write("bots/model.yaml", text.replace("  max_retries: 2\n", "  max_retries: 0\n"))


def send(url: str, text: str, conversation_id: str | None = None) -> dict:
    body = {"text": text} | ({"conversation_id": conversation_id} if conversation_id else {})
    response = httpx.post(f"{url}/v1/bots/test-shop/messages", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def user_messages(request) -> list[str]:
    return [m["content"] for m in request.messages if m["role"] == "user"]


def concurrent_turns(urls: list[str], cid: str, texts: list[str], stagger_s: float = 0.1) -> None:
    """Send messages `stagger_s` apart, each before the previous one is answered (the model
    takes longer), so they queue; the spacing keeps their arrival order unambiguous."""
    threads = []
    for i, text in enumerate(texts):
        thread = threading.Thread(target=send, args=(urls[i % len(urls)], text, cid))
        thread.start()
        threads.append(thread)
        time.sleep(stagger_s)
    for thread in threads:
        thread.join(30)


def assert_serialised(server: FakeOpenAI, cid_texts: list[str]) -> None:
    """Each model request saw every earlier message of the conversation: no two overlapped."""
    histories = [user_messages(r) for r in server.chat_requests]
    assert [len(h) for h in histories] == list(range(1, len(cid_texts) + 1))
    assert histories[-1] == cid_texts


def test_messages_to_one_conversation_run_one_at_a_time_in_order(tmp_path, write):
    with FakeOpenAI(delay_s=0.3) as fake:
        bot = model_bot(write, fake)
        server = ServerProcess([str(bot), "--db", f"sqlite:///{tmp_path / 's.db'}"])
        try:
            cid = send(server.url, "Where is my package? 0")["conversation_id"]
            texts = [f"Where is my package? {i}" for i in range(1, 6)]
            concurrent_turns([server.url], cid, texts)
            transcript = httpx.get(f"{server.url}/v1/conversations/{cid}").json()
        finally:
            server.stop()
        assert_serialised(fake, ["Where is my package? 0", *texts])
    assert [m["text"] for m in transcript["messages"] if m["role"] == "customer"] == ["Where is my package? 0", *texts]


def test_two_servers_sharing_postgresql_continue_each_others_conversations_in_order(tmp_path, write):
    with postgres_schema() as database, FakeOpenAI(delay_s=0.3) as fake:
        bot = model_bot(write, fake)
        one = ServerProcess([str(bot), "--db", database])
        two = ServerProcess([str(bot), "--db", database])
        try:
            cid = send(one.url, "Where is my package?")["conversation_id"]
            second = send(two.url, "How long does delivery take?", cid)
            assert second["conversation_id"] == cid
            assert user_messages(fake.chat_requests[1]) == ["Where is my package?", "How long does delivery take?"]
            texts = [f"Returns? {i}" for i in range(6)]
            concurrent_turns([one.url, two.url], cid, texts)
            transcript = httpx.get(f"{two.url}/v1/conversations/{cid}").json()
        finally:
            one.stop()
            two.stop()
        assert_serialised(fake, ["Where is my package?", "How long does delivery take?", *texts])
    customer = [m["text"] for m in transcript["messages"] if m["role"] == "customer"]
    assert customer == ["Where is my package?", "How long does delivery take?", *texts]


def test_kill_9_mid_conversation_loses_no_turn_that_got_a_response(tmp_path, write):
    database = f"sqlite:///{tmp_path / 'crash.db'}"
    with FakeOpenAI(delay_s=0.3) as fake:
        bot = model_bot(write, fake)
        server = ServerProcess([str(bot), "--db", database])
        answered = []
        cid = send(server.url, "Where is my package? 0")["conversation_id"]
        answered.append("Where is my package? 0")
        for i in range(1, 4):
            send(server.url, f"Where is my package? {i}", cid)
            answered.append(f"Where is my package? {i}")
        in_flight = threading.Thread(target=lambda: _ignore_errors(send, server.url, "in flight", cid))
        in_flight.start()
        time.sleep(0.1)  # the model is still thinking when the server dies
        server.kill()
        in_flight.join(10)
        restarted = ServerProcess([str(bot), "--db", database])
        try:
            transcript = httpx.get(f"{restarted.url}/v1/conversations/{cid}").json()
            after = send(
                restarted.url, "Where is my package? again", cid
            )  # the dead owner's lease has expired or is ours to wait for
        finally:
            restarted.stop()
    customer = [m["text"] for m in transcript["messages"] if m["role"] == "customer"]
    bot_replies = [m for m in transcript["messages"] if m["role"] == "bot"]
    assert customer[: len(answered)] == answered and len(bot_replies) >= len(answered)
    assert after["action"] == "answer"


def test_after_kill_9_a_conversation_with_queued_messages_answers_at_once(tmp_path, write):
    """Every ticket of the dead process, the running one and those queued behind it, is
    freed when the server restarts: no grace period per ticket (that was 10 s each)."""
    database = f"sqlite:///{tmp_path / 'queued.db'}"
    with FakeOpenAI(delay_s=1.0) as fake:
        bot = model_bot(write, fake)
        server = ServerProcess([str(bot), "--db", database])
        cid = send(server.url, "Where is my package? 0")["conversation_id"]
        queued = []
        for i in range(4):
            queued.append(threading.Thread(target=lambda i=i: _ignore_errors(send, server.url, f"queued {i}", cid)))
            queued[-1].start()
            time.sleep(0.05)
        time.sleep(0.3)  # one turn waits for the model, three wait behind it
        server.kill()
        for thread in queued:
            thread.join(10)
        restarted = ServerProcess([str(bot), "--db", database])
        try:
            started = time.monotonic()
            after = send(restarted.url, "Where is my package? again", cid)
            elapsed = time.monotonic() - started
        finally:
            restarted.stop()
    assert after["action"] == "answer" and elapsed < 5  # one model call (1 s), no waiting for the dead


def _ignore_errors(function, *args):  # the request dies with the server
    with contextlib.suppress(Exception):
        function(*args)


def test_serve_refuses_to_start_listing_every_problem(write):
    write("bots/a.yaml", MINIMAL_BOT.replace("top_k: 2", "top_k: 0"))
    write(
        "bots/b.yaml", MINIMAL_BOT.replace("id: test-shop", "id: other").replace("provider: openai", "provider: nope")
    )
    result = subprocess.run(
        [sys.executable, "-m", "supportbot", "serve", str(Path(write("x", "").parent / "bots"))],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "knowledge.top_k" in result.stderr and "unknown provider 'nope'" in result.stderr
    assert "the server did not start" in result.stderr and "Traceback" not in result.stderr


def test_serve_without_keys_binds_loopback_only_and_says_so(tmp_path):
    server = ServerProcess([str(REPO / "bots"), "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        output = server.stop()
    assert "listening on 127.0.0.1 only, not 0.0.0.0" in output


def test_serve_with_two_workers_shares_one_database(tmp_path):
    server = ServerProcess([str(REPO / "bots"), "--workers", "2", "--db", f"sqlite:///{tmp_path / 'w.db'}"])
    try:
        cid = httpx.post(f"{server.url}/v1/bots/bean-there/messages", json={"text": "Where is my order?"}).json()[
            "conversation_id"
        ]
        for _ in range(6):  # whichever worker takes it, the conversation is there
            reply = httpx.post(
                f"{server.url}/v1/bots/bean-there/messages",
                json={"text": "how long does delivery take?", "conversation_id": cid},
            )
            assert reply.status_code == 200 and reply.json()["citations"] == ["delivery-times"]
    finally:
        output = server.stop()
    assert "2 worker(s)" in output
    assert json.loads(next(line for line in output.splitlines() if line.startswith("{"))).get("level")
