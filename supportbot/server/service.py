"""What the server does, apart from HTTP: turns under a per-conversation lock, the hand-off
lifecycle, and the packets agents see. The store is the only state shared between processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from .. import textnorm
from ..bot import Bot
from ..conversation import Conversation
from ..decision import Decision
from ..engine import Engine, check_message
from ..prompt import HistoryTurn
from ..providers.base import DeltaCallback
from ..store import ConversationRow, HandoffRecord, MessageRow, NewMessage, SqlStore, UnknownConversation, utc_now
from ..tokens import TokenCounter
from .limits import RateLimited, SlidingWindow
from .metrics import Metrics

__all__ = ["Busy", "ConversationNotFound", "RateLimited", "SupportService", "UnknownBot", "handoff_packet"]

log = logging.getLogger("supportbot.server")

#: Extra seconds a turn's lease lasts beyond the model's own time budget.
_LEASE_MARGIN_S = 15.0
_LAST_MESSAGES = 6
#: This process's name in the store's queue: host, pid and a random part (pids get reused).
_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class UnknownBot(LookupError):
    pass


class ConversationNotFound(LookupError):
    pass


class Busy(Exception):
    """The conversation stayed locked by another turn for too long."""


def history_from(messages: Sequence[MessageRow]) -> list[HistoryTurn]:
    """Stored messages as prompt history: a customer message and the bot reply after it
    form one turn; agent messages and unanswered customer messages stand alone."""
    turns: list[list[MessageRow]] = []
    for message in messages:
        if message.withheld:  # caught by a text rule: kept from every prompt
            continue
        if message.role == "bot" and turns and turns[-1][-1].role == "customer" and len(turns[-1]) == 1:
            turns[-1].append(message)
        else:
            turns.append([message])
    role = {"customer": "user", "bot": "assistant", "agent": "assistant"}
    return [
        HistoryTurn(tuple({"role": role[m.role], "content": textnorm.clean(m.text)} for m in group), sum(m.tokens for m in group))
        for group in turns
    ]


def summary_of(messages: Sequence[MessageRow]) -> str:
    customer = [m.text for m in messages if m.role == "customer"]
    if not customer:
        return "No customer messages yet."
    first = customer[0] if len(customer[0]) <= 140 else customer[0][:137] + "..."
    last = customer[-1] if len(customer[-1]) <= 140 else customer[-1][:137] + "..."
    if len(customer) == 1:
        return f"The customer wrote: \"{first}\""
    return f"The customer first wrote: \"{first}\"; last: \"{last}\" ({len(customer)} messages)."


def handoff_packet(row: ConversationRow, messages: Sequence[MessageRow]) -> dict[str, Any]:
    """What an agent (or the webhook) needs to pick a conversation up."""
    return {
        "conversation_id": row.id,
        "bot": row.bot_id,
        "state": row.state,
        "rule": row.handoff_rule,
        "reason": row.handoff_reason,
        "detail": row.handoff_detail,
        "handed_off_at": row.handoff_at,
        "created_at": row.created_at,
        "agent": row.agent,
        "summary": summary_of(messages),
        "last_messages": [
            {"role": m.role, "text": m.text, "at": m.created_at, "author": m.author} for m in messages[-_LAST_MESSAGES:]
        ],
    }


class _Queue:
    """One turn per conversation at a time, in arrival order, across processes (store tickets)."""

    GRACE_S = 10.0  # how long the next ticket has to claim its turn before it is skipped

    def __init__(self, store: SqlStore, owner: str) -> None:
        self.store = store
        self.owner = owner

    @asynccontextmanager
    async def turn(self, conversation_id: str, lease_s: float, **begin: Any) -> AsyncIterator[tuple[int, ConversationRow, list[MessageRow]]]:
        """Wait for this conversation's turn; yields the ticket, the conversation and its messages."""
        ticket, status, row, messages = await self.store.begin_turn(conversation_id, self.owner, lease_s, self.GRACE_S, **begin)
        pause = 0.002
        while status != "serving":
            if status == "skipped":
                raise Busy(f"conversation {conversation_id} was busy for too long")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            status, row, messages = await self.store.try_serve(conversation_id, ticket, self.owner, lease_s, self.GRACE_S)
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
    return int(pid) == os.getpid() and owner != _OWNER


@dataclass(frozen=True)
class TurnResult:
    decision: Decision
    state: str


class SupportService:
    def __init__(self, bots: Sequence[Bot], engines: Mapping[str, Engine], store: SqlStore, metrics: Metrics, *, webhook_enabled: bool) -> None:
        self.bots = {b.id: b for b in bots}
        self.engines = dict(engines)
        self.store = store
        self.metrics = metrics
        self.webhook_enabled = webhook_enabled
        self.owner = _OWNER
        self._queue = _Queue(store, self.owner)
        self._rates = SlidingWindow("per conversation")

    async def recover(self) -> int:
        """Free conversations whose turn was cut off by a crash of a process on this host."""
        return await self.store.abandon_tickets(owner_is_dead, _Queue.GRACE_S)

    def bot(self, bot_id: str) -> Bot:
        try:
            return self.bots[bot_id]
        except KeyError:
            raise UnknownBot(f"no bot '{bot_id}' (this server has: {', '.join(sorted(self.bots))})") from None

    def check(self, bot_id: str, conversation_id: str | None, text: str) -> None:
        """The checks that need no database: the bot, the message, the rate limit."""
        bot = self.bot(bot_id)
        check_message(text, bot.config.limits.max_message_chars)
        if conversation_id is not None:
            self._rates.check(conversation_id, bot.config.limits.messages_per_minute)

    async def check_conversation(self, bot_id: str, conversation_id: str) -> None:
        """404 unless the conversation exists and belongs to this bot (another bot's
        conversation is not found either)."""
        found = await self.store.get_conversation(conversation_id)
        if found is None or found.bot_id != bot_id:
            raise ConversationNotFound(f"no conversation '{conversation_id}' for bot '{bot_id}'")

    async def run_turn(self, bot_id: str, conversation_id: str | None, text: str, on_delta: DeltaCallback | None = None,
                       metadata: dict[str, Any] | None = None) -> TurnResult:
        """One customer message, stored with its decision before this returns.

        Without a conversation id, a new conversation starts (in the same transaction)."""
        bot, engine = self.bots[bot_id], self.engines[bot_id]
        model = bot.config.model
        # Long enough for both attempts (first and repair), retries and backoff included.
        lease = 2 * (model.timeout_s * (model.max_retries + 1) + 8 * model.max_retries) + _LEASE_MARGIN_S
        new = conversation_id is None
        conversation_id = conversation_id or uuid.uuid4().hex
        try:
            queued = self._queue.turn(conversation_id, lease, create_for=bot_id if new else None, bot_id=bot_id, metadata=metadata)
            async with queued as (ticket, row, messages):
                conversation = Conversation(
                    bot_id, row.id, row.state, bot_turns=row.bot_turns, unsure_streak=row.unsure_streak,  # type: ignore[arg-type]
                    past=history_from(messages),
                )
                decision = await engine.turn(conversation, text, on_reply_delta=on_delta)
                state = await self._save(row, conversation, decision, text, engine.counter, messages, ticket)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}' for bot '{bot_id}'") from None
        if new:  # the first message of a conversation counts towards its rate limit too
            self._rates.record(conversation_id)
        self.metrics.observe_turn(bot_id, decision)
        return TurnResult(decision, state)

    async def _save(self, row: ConversationRow, conversation: Conversation, decision: Decision, text: str,
                    counter: TokenCounter, earlier: Sequence[MessageRow], ticket: int) -> str:
        """Store the turn; returns the conversation's state afterwards (an agent's move
        made during the turn stands)."""
        handed_off_now = decision.handoff is not None and row.state == "bot_active"
        withheld = decision.handoff is not None and decision.handoff.rule in self.bots[row.bot_id].rules.text_rule_ids
        stored = [NewMessage("customer", text, counter.count_message({"role": "user", "content": text}),
                             decision=decision.model_dump(), withheld=withheld)]
        if decision.action == "answer" or handed_off_now:
            reply_tokens = counter.count_message({"role": "assistant", "content": decision.reply})
            stored.append(NewMessage("bot", decision.reply, reply_tokens))
        handoff = None
        if handed_off_now and decision.handoff:
            handoff = HandoffRecord(decision.handoff.rule, decision.handoff.reason, decision.handoff.detail)
        at = utc_now()
        webhook = None
        if handoff and self.webhook_enabled:
            packet_row = replace(row, state=conversation.state, handoff_rule=handoff.rule, handoff_reason=handoff.reason,
                                 handoff_detail=handoff.detail, handoff_at=at)
            now_messages = [*earlier, *(_pending(row.id, m, at) for m in stored)]
            webhook = {"event": "handoff", **handoff_packet(packet_row, now_messages)}
        return await self.store.save_turn(
            row.id, stored, from_state=row.state, state=conversation.state, bot_turns=conversation.bot_turns,
            unsure_streak=conversation.unsure_streak, handoff=handoff, webhook=webhook, at=at,
            ticket=ticket, grace_s=_Queue.GRACE_S,
        )

    # the hand-off lifecycle -------------------------------------------------------------------

    async def transcript(self, conversation_id: str) -> tuple[ConversationRow, list[MessageRow]]:
        row = await self.store.get_conversation(conversation_id)
        if row is None:
            raise ConversationNotFound(f"no conversation '{conversation_id}'")
        return row, await self.store.messages(conversation_id)

    async def queue(self, state: str, limit: int = 100, after: tuple[str, str, str] | None = None) -> list[dict[str, Any]]:
        """A page of the hand-off queue, the longest waiting first."""
        rows = await self.store.handoffs(state, limit, after)
        return [handoff_packet(row, await self.store.messages(row.id)) for row in rows]

    async def claim(self, conversation_id: str, agent: str) -> ConversationRow:
        return await self._transition(conversation_id, ["awaiting_agent"], "agent_active", "claim it", agent=agent)

    async def release(self, conversation_id: str, resume_bot: bool) -> ConversationRow:
        target = "bot_active" if resume_bot else "closed"
        return await self._transition(conversation_id, ["agent_active"], target, "release it (claim it first)", resume=resume_bot)

    async def agent_message(self, conversation_id: str, agent: str, text: str) -> MessageRow:
        row, _ = await self.transcript(conversation_id)
        counter = self.engines[row.bot_id].counter
        tokens = counter.count_message({"role": "assistant", "content": text})
        try:
            return await self.store.add_agent_message(conversation_id, agent, text, tokens)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}'") from None

    async def _transition(self, conversation_id: str, allowed: list[str], target: str, wanted: str, *,
                          agent: str | None = None, resume: bool = False) -> ConversationRow:
        try:
            return await self.store.transition(conversation_id, allowed, target, wanted, agent=agent, resume=resume)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}'") from None


def _pending(conversation_id: str, message: NewMessage, at: str) -> MessageRow:
    """A message about to be stored, as the hand-off packet shows it."""
    return MessageRow(conversation_id, 0, message.role, message.text, at, message.tokens, message.author)
