"""Hand-off webhooks, delivered from the store's outbox, never on the customer's time.

The turn that hands off writes the webhook in the same transaction as the turn itself; this
sender POSTs due rows in the background, signed with HMAC-SHA256 over the timestamp and the
body (so a captured delivery cannot be replayed later), retrying with backoff. Rows are
leased while being sent, so several server processes never send one twice at once. Due rows
go out side by side, each within an overall deadline: a receiver that answers slowly (or
trickles its answer) holds back nothing else, and no delivery for longer than the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

import httpx

from ..store import OutboxRow, Store
from .metrics import Metrics

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "OutboxLoop", "WebhookSender", "backoff", "sign"]

log = logging.getLogger("supportbot.webhook")

SIGNATURE_HEADER = "X-Supportbot-Signature"
TIMESTAMP_HEADER = "X-Supportbot-Timestamp"
MAX_ATTEMPTS = 10
#: The longest one delivery may take, connection to last byte of the answer.
DEADLINE_S = 10.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC of "{timestamp}.{body}">."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before the next try, after `attempts` failed ones: 1, 2, 4 ... up to 5 minutes."""
    return float(min(2 ** max(attempts - 1, 0), 300))


class OutboxLoop:
    """Sends what is due from the outbox in the background: at once when woken (a turn just
    stored something), else every `poll_s`; while a round delivers something, the next
    round follows at once. Subclasses say what a round is (`send_due`)."""

    name = "outbox"

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        poll_s: float,
        *,
        retry_in: Callable[[int], float] = backoff,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.poll_s = poll_s
        self.retry_in = retry_in
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def send_due(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-sender")

    def wake(self) -> None:
        """Something was just stored: look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def settle(self, row: OutboxRow, error: str | None) -> bool:
        """Record one attempt: delivered (error None), or failed and due again after the
        backoff until `max_attempts` (then kept, undelivered, for inspection)."""
        if error is None:
            await self.store.webhook_delivered(row.id)
            return True
        attempts = row.attempts + 1
        retry = self.retry_in(attempts) if attempts < self.max_attempts else None
        self.metrics.errors.labels(self.name).inc()
        log.warning(
            "outbox delivery failed",
            extra={"sender": self.name, "delivery": row.id, "attempt": attempts, "error": error, "retry_in_s": retry},
        )
        await self.store.webhook_failed(row.id, retry, error[:500])
        return False

    async def _run(self) -> None:
        while True:
            try:
                while await self.send_due():
                    pass
            except Exception:
                self.metrics.errors.labels(f"{self.name}_loop").inc()
                log.exception("outbox delivery loop failed; retrying", extra={"sender": self.name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()


class WebhookSender(OutboxLoop):
    name = "webhook"

    def __init__(
        self,
        store: Store,
        url: str,
        secret: str,
        metrics: Metrics,
        *,
        poll_s: float = 0.5,
        timeout_s: float = 5.0,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        super().__init__(store, metrics, poll_s)
        self.url = url
        self.secret = secret
        self.deadline_s = deadline_s
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def stop(self) -> None:
        await super().stop()
        await self._client.aclose()

    async def send_due(self) -> int:
        return await self.deliver_due()

    async def deliver_due(self) -> int:
        """Send every due webhook once, side by side; returns how many were delivered."""
        rows = await self.store.due_webhooks(limit=20, lease_seconds=self.deadline_s + 50)
        results = await asyncio.gather(*(self._deliver(row) for row in rows))
        return sum(results)

    async def _deliver(self, row: OutboxRow) -> bool:
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            "X-Supportbot-Event": str(row.payload.get("event", "handoff")),
            "X-Supportbot-Delivery": str(row.id),  # the same on retries: receivers can de-duplicate
        }
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self._client.post(self.url, content=body, headers=headers)
            ok, error = response.is_success, f"HTTP {response.status_code}"
        except TimeoutError:
            ok, error = False, f"no complete answer within {self.deadline_s:g}s"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        return await self.settle(row, None if ok else error)
