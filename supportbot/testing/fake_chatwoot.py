"""A fake Chatwoot for tests: the API an Agent Bot calls, and events of the documented shape.

It records every call to
`POST /api/v1/accounts/{account}/conversations/{id}/messages | toggle_status | assignments`
(with its `api_access_token` header), and can be down (503 to every call, or only to the
paths containing a given text) and up again. The payload helpers build what Chatwoot sends
to an Agent Bot's outgoing URL; `signed()` gives the headers of a signed delivery.

    with FakeChatwoot() as chatwoot:
        bot settings: channels.chatwoot.url = chatwoot.url
        client.post("/v1/channels/chatwoot/shop", json=message_created(42, 1, "hi"))
        chatwoot.wait_for(1)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "ChatwootCall",
    "FakeChatwoot",
    "conversation_event",
    "message_created",
    "option_clicked",
    "signed",
]


@dataclass(frozen=True)
class ChatwootCall:
    path: str
    body: dict[str, Any]
    token: str | None


class FakeChatwoot:
    def __init__(self) -> None:
        self.calls: list[ChatwootCall] = []
        self.refused = 0
        self.down = False
        self.failing: set[str] = set()  # paths containing any of these answer 503
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    refuse = fake.down or any(part in self.path for part in fake.failing)
                    if refuse:
                        fake.refused += 1
                    else:
                        fake.calls.append(ChatwootCall(self.path, body, self.headers.get("api_access_token")))
                self.send_response(503 if refuse else 200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": 1}')

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeChatwoot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[ChatwootCall]:
        """The calls so far, once there are at least `count` (AssertionError after the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} calls to Chatwoot, got {len(self.calls)}: {self.calls}")


def _conversation(conversation_id: int, status: str, inbox_id: int) -> dict[str, Any]:
    return {
        "id": conversation_id,
        "status": status,
        "inbox_id": inbox_id,
        "meta": {"sender": {"id": 501, "name": "Jo", "type": "contact"}, "assignee": None},
    }


def message_created(
    conversation_id: int,
    message_id: int,
    content: str,
    *,
    message_type: str = "incoming",
    sender_type: str = "contact",
    sender_name: str = "Jo",
    status: str = "pending",
    private: bool = False,
    account_id: int = 1,
    inbox_id: int = 1,
) -> dict[str, Any]:
    """A `message_created` event: a contact's message, or (message_type outgoing, sender_type
    user) an agent's, or (sender_type agent_bot) the bot's own."""
    return {
        "event": "message_created",
        "id": message_id,
        "content": content,
        "message_type": message_type,
        "content_type": "text",
        "content_attributes": {},
        "private": private,
        "sender": {"id": 7, "name": sender_name, "type": sender_type},
        "inbox": {"id": inbox_id, "name": "Website"},
        "account": {"id": account_id, "name": "Shop"},
        "conversation": _conversation(conversation_id, status, inbox_id),
    }


def option_clicked(
    conversation_id: int, message_id: int, title: str, value: str, *, status: str = "pending", account_id: int = 1
) -> dict[str, Any]:
    """The `message_updated` event of an input_select message whose button the contact clicked."""
    shown = message_created(
        conversation_id, message_id, "Which one?", message_type="outgoing", sender_type="agent_bot", status=status,
        account_id=account_id,
    )  # fmt: skip
    return {
        **shown,
        "event": "message_updated",
        "content_type": "input_select",
        "content_attributes": {"items": [], "submitted_values": [{"title": title, "value": value}]},
    }


def conversation_event(event: str, conversation_id: int, status: str, *, account_id: int = 1) -> dict[str, Any]:
    """`conversation_opened`, `conversation_resolved` and the like: the conversation itself."""
    return {"event": event, **_conversation(conversation_id, status, 1), "account": {"id": account_id}}


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a delivery signed as Chatwoot signs them."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Chatwoot-Timestamp": str(stamp),
        "X-Chatwoot-Signature": f"sha256={digest}",
        "content-type": "application/json",
    }
