"""What the server does, apart from HTTP: turns under a per-conversation lock, the hand-off
lifecycle, and the packets agents see. The store is the only state shared between processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..bot import Bot
from ..config.timeouts import REMOTE_TIMEOUT_S
from ..conversation import Conversation
from ..decision import Decision, Option
from ..engine import Engine, check_message
from ..insights.prices import PRICES
from ..insights.report import build_report
from ..insights.sources import bot_facts, parse_since
from ..providers.base import DeltaCallback
from ..store import (
    ConversationRow,
    ConversationState,
    Feedback,
    HandoffRecord,
    MessageRow,
    NewMessage,
    Store,
    UnknownConversation,
    utc_now,
)
from .limits import RateLimited, SlidingWindow
from .metrics import Metrics
from .queue import OWNER, Busy, TurnQueue, owner_is_dead
from .transcript import BadCursor, handoff_packet, history_from, page_cursor, pending, read_cursor
from .webhook import WebhookSender

__all__ = [
    "BadCursor",
    "BadWindow",
    "Busy",
    "ConversationNotFound",
    "RateLimited",
    "SupportService",
    "UnknownBot",
    "handoff_packet",
]

log = logging.getLogger("supportbot.server")

#: Extra seconds a turn's lease lasts beyond the model's own time budget.
_LEASE_MARGIN_S = 15.0
_EVENTS_POLL_S = 0.5
_EVENTS_MAX_S = 600.0
_KEEP_ALIVE_S = 15.0


class UnknownBot(LookupError):
    pass


class ConversationNotFound(LookupError):
    pass


class BadWindow(ValueError):
    """A report window (`since`) that is not an age, a date or 'all'."""


@dataclass(frozen=True)
class TurnResult:
    decision: Decision
    state: ConversationState
    reply_seq: int | None = None  # the bot's reply as stored: what feedback rates


class SupportService:
    def __init__(
        self,
        bots: Sequence[Bot],
        engines: Mapping[str, Engine],
        store: Store,
        metrics: Metrics,
        *,
        webhook: WebhookSender | None = None,
        new_conversations_per_minute: int = 0,
        request_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        """`request_timeouts`: per bot, the seconds one model request may take (its
        `timeout_s`, or the default for its server); a turn's lease is sized from it."""
        self.bots = {b.id: b for b in bots}
        self._request_s = dict(request_timeouts or {})
        self.engines = dict(engines)
        self.store = store
        self.metrics = metrics
        self.webhook = webhook
        self.owner = OWNER
        self._queue = TurnQueue(store, self.owner)
        self._rates = SlidingWindow("per conversation")
        self._new = SlidingWindow("per client address")
        self._public = SlidingWindow("per client address with this key")
        self._new_limit = new_conversations_per_minute

    async def store_reachable(self) -> bool:
        return await self.store.ping()

    async def recover(self) -> int:
        """Free conversations whose turn was cut off by a crash of a process on this host."""
        return await self.store.abandon_tickets(owner_is_dead, TurnQueue.GRACE_S)

    def bot(self, bot_id: str) -> Bot:
        try:
            return self.bots[bot_id]
        except KeyError:
            raise UnknownBot(f"no bot '{bot_id}' (this server has: {', '.join(sorted(self.bots))})") from None

    def check(self, bot_id: str, conversation_id: str | None, text: str, client: str = "") -> None:
        """The checks that need no database: the bot, the message, the rate limits (per
        conversation, and new conversations per client address)."""
        bot = self.bot(bot_id)
        check_message(text, bot.config.limits.max_message_chars)
        if conversation_id is not None:
            self._rates.check(conversation_id, bot.config.limits.messages_per_minute)
        elif self._new_limit:
            self._new.check(client, self._new_limit, "new conversations")

    def check_public(self, client: str, limit: int) -> None:
        """The rate limit of requests made with a publishable key, per client address."""
        self._public.check(client, limit, "requests")

    async def check_reachable(self, conversation_id: str, bots: frozenset[str] | None) -> None:
        """404 unless the conversation exists and (for a publishable key) is of one of `bots`."""
        found = await self.store.get_conversation(conversation_id)
        if found is None or (bots is not None and found.bot_id not in bots):
            raise ConversationNotFound(f"no conversation '{conversation_id}'")

    async def check_conversation(self, bot_id: str, conversation_id: str) -> None:
        """404 unless the conversation exists and belongs to this bot (another bot's
        conversation is not found either)."""
        found = await self.store.get_conversation(conversation_id)
        if found is None or found.bot_id != bot_id:
            raise ConversationNotFound(f"no conversation '{conversation_id}' for bot '{bot_id}'")

    async def run_turn(
        self,
        bot_id: str,
        conversation_id: str | None,
        text: str,
        on_delta: DeltaCallback | None = None,
        metadata: dict[str, Any] | None = None,
        option: str | None = None,
    ) -> TurnResult:
        """One customer message, stored with its decision before this returns.

        Without a conversation id, a new conversation starts (in the same transaction).
        `option`: the id of the clarification option the customer picked."""
        bot, engine = self.bots[bot_id], self.engines[bot_id]
        model = bot.config.model
        # Long enough for both attempts (first and repair), retries and backoff included.
        request_s = self._request_s.get(bot_id) or model.timeout_s or REMOTE_TIMEOUT_S
        lease = 2 * (request_s * (model.max_retries + 1) + 8 * model.max_retries) + _LEASE_MARGIN_S
        new = conversation_id is None
        conversation_id = conversation_id or uuid.uuid4().hex
        try:
            queued = self._queue.turn(
                conversation_id, lease, create_for=bot_id if new else None, bot_id=bot_id, metadata=metadata
            )
            async with queued as (ticket, row, messages):
                conversation = _conversation(row, messages)
                decision = await engine.turn(conversation, text, on_reply_delta=on_delta, option=option)
                state, seqs = await self._save(row, conversation, decision, text, messages, ticket)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}' for bot '{bot_id}'") from None
        if new:  # the first message of a conversation counts towards its rate limit too
            self._rates.record(conversation_id)
        if decision.handoff and self.webhook:
            self.webhook.wake()  # stored in the outbox with the turn: send it now
        self.metrics.observe_turn(bot_id, decision)
        return TurnResult(decision, state, seqs[1] if len(seqs) > 1 else None)

    async def _save(
        self,
        row: ConversationRow,
        conversation: Conversation,
        decision: Decision,
        text: str,
        earlier: Sequence[MessageRow],
        ticket: int,
    ) -> tuple[ConversationState, list[int]]:
        """Store the turn; returns the conversation's state afterwards (an agent's move
        made during the turn stands) and the seqs of the messages stored."""
        engine = self.engines[row.bot_id]
        handed_off_now = decision.handoff is not None and row.state == "bot_active"
        stored = _turn_messages(engine, decision, text, with_reply=decision.action == "answer" or handed_off_now)
        handoff = None
        if handed_off_now and decision.handoff:
            handoff = HandoffRecord(decision.handoff.rule, decision.handoff.reason, decision.handoff.detail)
        at = utc_now()
        webhook = None
        if handoff and self.webhook:
            packet_row = replace(
                row, state=conversation.state, handoff_rule=handoff.rule, handoff_reason=handoff.reason,
                handoff_detail=handoff.detail, handoff_at=at,
            )  # fmt: skip
            now_messages = [*earlier, *(pending(row.id, m, at) for m in stored)]
            webhook = {"event": "handoff", **handoff_packet(packet_row, now_messages)}
        return await self.store.save_turn(
            row.id, stored, from_state=row.state, state=conversation.state, bot_turns=conversation.bot_turns,
            unsure_streak=conversation.unsure_streak, handoff=handoff, webhook=webhook, at=at,
            ticket=ticket, grace_s=TurnQueue.GRACE_S, clarifying=[o.model_dump() for o in conversation.clarifying],
        )  # fmt: skip

    # the hand-off lifecycle -------------------------------------------------------------------

    async def transcript(
        self, conversation_id: str, bots: frozenset[str] | None = None
    ) -> tuple[ConversationRow, list[MessageRow], dict[int, Feedback]]:
        """The conversation, its messages and the customer's ratings of them; with `bots`
        (a publishable key's), only a conversation of one of them."""
        row = await self.store.get_conversation(conversation_id)
        if row is None or (bots is not None and row.bot_id not in bots):
            raise ConversationNotFound(f"no conversation '{conversation_id}'")
        return row, await self.store.messages(conversation_id), await self.store.feedback(conversation_id)

    async def rate(self, conversation_id: str, seq: int, rating: str, comment: str | None) -> Feedback:
        """The customer's rating of a bot message; a later rating of it replaces this one."""
        try:
            found = await self.store.rate(conversation_id, seq, rating, comment)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}'") from None
        row = await self.store.get_conversation(conversation_id)
        self.metrics.feedback.labels(row.bot_id if row else "-", rating).inc()
        return found

    async def queue(
        self, state: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the hand-off queue, the longest waiting first, and the cursor of the
        next page (None when this one is not full)."""
        rows = await self.store.handoffs(state, limit, read_cursor(cursor))
        packets = [handoff_packet(row, await self.store.messages(row.id)) for row in rows]
        return packets, page_cursor(rows[-1]) if len(rows) == limit else None

    async def claim(self, conversation_id: str, agent: str) -> ConversationRow:
        state = ConversationState
        return await self._transition(
            conversation_id, [state.AWAITING_AGENT], state.AGENT_ACTIVE, "claim it", agent=agent
        )

    async def release(self, conversation_id: str, resume_bot: bool) -> ConversationRow:
        state = ConversationState
        target = state.BOT_ACTIVE if resume_bot else state.CLOSED
        wanted = "release it (claim it first)"
        return await self._transition(conversation_id, [state.AGENT_ACTIVE], target, wanted, resume=resume_bot)

    async def report(self, bot_id: str | None, since: str) -> dict[str, Any]:
        """`supportbot report` over this server's store, with its bots' models and snippets
        and the built-in prices; BadWindow for a `since` it cannot read."""
        try:
            start = parse_since(since)
        except ValueError:
            raise BadWindow("since: give an age (7d, 12h, 30m), a date (2026-11-30), or all") from None
        if bot_id is not None:
            self.bot(bot_id)
        activity = await self.store.activity(bot_id, start)
        return build_report(activity, start, utc_now(), bot_facts(self.bots.values()), PRICES)

    async def delete(self, conversation_id: str) -> None:
        """Remove a conversation with its messages, decisions and webhook rows (retention)."""
        if not await self.store.delete_conversations([conversation_id]):
            raise ConversationNotFound(f"no conversation '{conversation_id}'")

    async def agent_message(self, conversation_id: str, text: str) -> MessageRow:
        """A reply by the agent who claimed the conversation."""
        row = await self.store.get_conversation(conversation_id)
        if row is None:
            raise ConversationNotFound(f"no conversation '{conversation_id}'")
        tokens = self.engines[row.bot_id].counter.count_message({"role": "assistant", "content": text})
        try:
            return await self.store.add_agent_message(conversation_id, row.agent or "agent", text, tokens)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}'") from None

    async def events(self, conversation_id: str, after: int) -> AsyncIterator[ConversationRow | MessageRow | None]:
        """The conversation's new messages and state changes as they are stored, by any
        process: a row when the state changed, each new message, and None every 15 s of
        quiet (a keep-alive). Ends when the conversation is gone or after 10 minutes."""
        last_seq, last_state = after, None
        deadline = time.monotonic() + _EVENTS_MAX_S
        quiet = 0.0
        while time.monotonic() < deadline:
            row = await self.store.get_conversation(conversation_id)
            if row is None:
                return
            if row.state != last_state:
                last_state = row.state
                yield row
            for message in await self.store.messages(conversation_id, last_seq):
                last_seq = message.seq
                quiet = 0.0
                yield message
            await asyncio.sleep(_EVENTS_POLL_S)
            quiet += _EVENTS_POLL_S
            if quiet >= _KEEP_ALIVE_S:
                quiet = 0.0
                yield None

    async def _transition(
        self,
        conversation_id: str,
        allowed: list[ConversationState],
        target: ConversationState,
        wanted: str,
        *,
        agent: str | None = None,
        resume: bool = False,
    ) -> ConversationRow:
        try:
            return await self.store.transition(conversation_id, allowed, target, wanted, agent=agent, resume=resume)
        except UnknownConversation:
            raise ConversationNotFound(f"no conversation '{conversation_id}'") from None


def _turn_messages(engine: Engine, decision: Decision, text: str, *, with_reply: bool) -> list[NewMessage]:
    """The customer's message with the decision on it, and the bot's reply when the
    customer got one. A message a text rule caught is withheld from later prompts."""
    counter = engine.counter
    handoff = decision.handoff
    withheld = handoff is not None and handoff.rule in engine.rules.text_rule_ids
    tokens = counter.count_message({"role": "user", "content": text})
    stored = [NewMessage("customer", text, tokens, decision=decision.model_dump(), withheld=withheld)]
    if with_reply:
        stored.append(
            NewMessage("bot", decision.reply, counter.count_message({"role": "assistant", "content": decision.reply}))
        )
    return stored


def _conversation(row: ConversationRow, messages: Sequence[MessageRow]) -> Conversation:
    """A stored conversation as the engine sees it."""
    return Conversation(
        row.bot_id, row.id, row.state, bot_turns=row.bot_turns, unsure_streak=row.unsure_streak,
        past=history_from(messages), clarifying=tuple(Option(**option) for option in row.clarifying),
    )  # fmt: skip
