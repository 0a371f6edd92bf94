"""One turn per conversation at a time, in arrival order, across processes: the service's
side of the store's tickets (store/tickets.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..store import ConversationRow, MessageRow, Store

__all__ = ["OWNER", "Busy", "TurnQueue", "owner_is_dead"]

#: This process's name in the store's queue: host, pid and a random part (pids get reused).
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Busy(Exception):
    """The conversation stayed locked by another turn for too long."""


class TurnQueue:
    """One turn per conversation at a time, in arrival order, across processes (store tickets)."""

    GRACE_S = 10.0  # how long the next ticket has to claim its turn before it is skipped

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner

    @asynccontextmanager
    async def turn(
        self, conversation_id: str, lease_s: float, **begin: Any
    ) -> AsyncIterator[tuple[int, ConversationRow, list[MessageRow]]]:
        """Wait for this conversation's turn; yields the ticket, the conversation and its messages."""
        ticket, status, row, messages = await self.store.begin_turn(
            conversation_id, self.owner, lease_s, self.GRACE_S, **begin
        )
        pause = 0.002
        while status != "serving":
            if status == "skipped":
                raise Busy(f"conversation {conversation_id} was busy for too long")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            status, row, messages = await self.store.try_serve(
                conversation_id, ticket, self.owner, lease_s, self.GRACE_S
            )
        assert row is not None
        stored = False
        try:
            yield ticket, row, messages
            stored = True
        finally:
            if not stored:  # the turn failed before storing: let the next message run
                await self.store.finish_ticket(conversation_id, ticket, self.GRACE_S)


def owner_is_dead(owner: str) -> bool:
    """True for an owner id of a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid) == os.getpid() and owner != OWNER
