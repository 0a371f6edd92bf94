"""Sends a channel's queued calls (the outbox rows of that channel) in the background.

Rows of different conversations go out side by side; one conversation's rows go out in
order (the store makes only its oldest row due). A failed call is retried with backoff for
about a day (1 s, 2 s, 4 s ... then every 5 minutes, as webhooks), so a platform that is
down for hours loses no reply; each attempt has a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..server.metrics import Metrics
from ..server.webhook import OutboxLoop, backoff
from ..store import OutboxRow, Store

__all__ = ["ChannelSender", "DeliveryFailed"]

MAX_ATTEMPTS = 300  # at 5 minutes apart once backed off: a little over a day


class DeliveryFailed(Exception):
    """A call the platform did not take; the message says what it answered."""


class ChannelSender(OutboxLoop):
    def __init__(
        self,
        store: Store,
        channel: str,
        deliver: Callable[[dict[str, Any]], Awaitable[None]],
        metrics: Metrics,
        *,
        poll_s: float = 0.5,
        deadline_s: float = 10.0,
        backoff: Callable[[int], float] = backoff,
    ) -> None:
        super().__init__(store, metrics, poll_s, retry_in=backoff, max_attempts=MAX_ATTEMPTS)
        self.name = channel
        self.channel = channel
        self.deliver = deliver
        self.deadline_s = deadline_s

    async def send_due(self) -> int:
        """Send every due row once, side by side; returns how many were delivered."""
        rows = await self.store.due_webhooks(limit=50, lease_seconds=self.deadline_s + 50, channel=self.channel)
        return sum(await asyncio.gather(*(self._send(row) for row in rows)))

    async def _send(self, row: OutboxRow) -> bool:
        error: str | None = None
        try:
            async with asyncio.timeout(self.deadline_s):
                await self.deliver(row.payload)
        except TimeoutError:
            error = f"no answer within {self.deadline_s:g}s"
        except Exception as exc:  # the platform is down, refuses, or the network failed
            error = f"{type(exc).__name__}: {exc}"
        return await self.settle(row, error)
