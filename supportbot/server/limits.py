"""Limits on what clients may send: body size, messages per conversation, new
conversations per client address."""

from __future__ import annotations

import ipaddress
import json
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "RateLimited", "SlidingWindow", "client_address"]


class RateLimited(Exception):
    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlidingWindow:
    """Events per key in the last minute, in this process (rate limits are per process)."""

    def __init__(self, what: str) -> None:
        self.what = what  # "per conversation", "per client address"
        self._seen: dict[str, deque[float]] = {}

    def check(self, key: str, limit: int, noun: str = "messages") -> None:
        """Count an event, or raise RateLimited when the window is full."""
        now = time.monotonic()
        window = self._seen.setdefault(key, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= limit:
            retry = int(60 - (now - window[0])) + 1
            raise RateLimited(retry, f"too many {noun}: at most {limit} a minute {self.what}; retry in {retry}s")
        self.record(key, now)

    def record(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._seen.setdefault(key, deque()).append(now)
        if len(self._seen) > 100_000:  # forget idle keys
            for idle in [k for k, w in self._seen.items() if not w or now - w[-1] > 60]:
                del self._seen[idle]


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the last
    address in X-Forwarded-For that is not itself a trusted proxy. Forwarded headers from
    anyone else are ignored: a client could write any address there."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in networks)

    address = peer or "unknown"
    if not networks or not is_trusted(address) or not forwarded_for:
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not is_trusted(hop):
            break
    return address


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body: dict[str, Any] = {"detail": f"request body too large (at most {self.max_bytes} bytes)"}
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})
