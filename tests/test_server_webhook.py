"""Hand-off webhooks: signed, from a stored outbox, retried, never delaying the customer."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from server_helpers import client_for


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers with scripted statuses, slowly if told."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0) -> None:
        self.statuses = statuses
        self.delay_s = delay_s
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay_s)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"got {len(self.received)} webhook(s), wanted {count}"

    def close(self) -> None:
        self.server.shutdown()


def test_every_handoff_is_posted_signed_with_its_packet(tmp_path):
    receiver = Receiver([])
    try:
        with client_for(tmp_path, webhook_url=receiver.url, webhook_secret="s3cret") as client:
            cid = client.post("/v1/bots/bean-there/messages", json={"text": "I want a human"}).json()["conversation_id"]
            receiver.wait_for(1)
    finally:
        receiver.close()
    headers, body = receiver.received[0]
    timestamp = headers["x-supportbot-timestamp"]
    assert abs(int(timestamp) - time.time()) < 30  # a receiver refuses old timestamps: no replays
    expected = "sha256=" + hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-supportbot-signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "handoff" and payload["conversation_id"] == cid
    assert payload["rule"] == "asks-for-human" and payload["bot"] == "bean-there"
    assert payload["last_messages"][0]["text"] == "I want a human"
    assert payload["handed_off_at"] and all(m["at"] for m in payload["last_messages"])


def test_failed_deliveries_are_retried_with_backoff_until_they_succeed(tmp_path):
    receiver = Receiver([500, 503])
    try:
        with client_for(tmp_path, webhook_url=receiver.url, webhook_secret="k") as client:
            client.post("/v1/bots/bean-there/messages", json={"text": "I want a human"})
            receiver.wait_for(3, timeout=15)  # backoff: 1 s, then 2 s
            time.sleep(0.3)
            deliveries = {h["x-supportbot-delivery"] for h, _ in receiver.received}
    finally:
        receiver.close()
    assert len(receiver.received) == 3 and len(deliveries) == 1  # the same delivery id on every retry


def test_a_slow_webhook_never_delays_the_customer(tmp_path):
    receiver = Receiver([], delay_s=2.0)
    try:
        with client_for(tmp_path, webhook_url=receiver.url, webhook_secret="k") as client:
            started = time.monotonic()
            response = client.post("/v1/bots/bean-there/messages", json={"text": "I want a human"})
            elapsed = time.monotonic() - started
            receiver.wait_for(1)
    finally:
        receiver.close()
    assert response.json()["state"] == "awaiting_agent" and elapsed < 1.0


class TricklingReceiver:
    """Answers every delivery at once, but the one for conversation "slow": that one gets
    its status line and then one byte every 0.3 s, for ever (a read timeout never fires)."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if payload["conversation_id"] != "slow":
                    receiver.delivered.append(payload["conversation_id"])
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-length", "1000")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.3)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_trickling_receiver_holds_back_no_other_delivery_and_none_past_the_deadline(tmp_path):
    import asyncio

    from supportbot.server.metrics import Metrics
    from supportbot.server.webhook import WebhookSender
    from supportbot.store import HandoffRecord, NewMessage, open_store

    async def scenario() -> tuple[float, int, list]:
        store = open_store(f"sqlite:///{tmp_path / 'hooks.db'}")
        await store.open()
        for cid in ("slow", "a", "b", "c"):
            await store.create_conversation(cid, "shop", {})
            await store.save_turn(
                cid,
                [NewMessage("customer", "human", 1)],
                from_state="bot_active",
                state="awaiting_agent",
                bot_turns=0,
                unsure_streak=0,
                handoff=HandoffRecord("r", "why"),
                webhook={"event": "handoff", "conversation_id": cid},
            )
        sender = WebhookSender(store, receiver.url, "k", Metrics(), deadline_s=1.0)
        started = time.monotonic()
        delivered = await sender.deliver_due()
        elapsed = time.monotonic() - started
        rows = await store.outbox()
        await sender.stop()
        await store.close()
        return elapsed, delivered, rows

    receiver = TricklingReceiver()
    try:
        elapsed, delivered, rows = asyncio.run(scenario())
    finally:
        receiver.close()
    assert sorted(receiver.delivered) == ["a", "b", "c"] and delivered == 3
    assert elapsed < 2.5  # the deadline (1 s), not the trickle (30 s)
    assert [row.attempts for row in rows] == [1, 1, 1, 1] and rows[
        0
    ].delivered_at is None  # "slow" failed, to be retried
