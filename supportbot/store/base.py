"""The Store: everything the server keeps, behind one interface.

The service, the webhook sender and the tests use only this protocol. SqlStore implements
it once for SQLite and PostgreSQL (sql.py and tickets.py, with a dialect each); a third
backend implements these methods in a module of its own and adds its URL to open_store.

Every method is one atomic step: it happens whole or not at all, whatever other processes
sharing the database do at the same time. Two of them carry the design:

- Turns of one conversation run one at a time, in arrival order, across processes: each
  message takes a ticket (begin_turn), waits until its ticket is served (try_serve), and
  storing the turn (save_turn) or giving up (finish_ticket) serves the next. A ticket whose
  owner died is skipped once its lease passes, or at once when abandon_tickets learns the
  owner is dead.
- The state changes only by compare-and-set: save_turn writes a turn's state only if the
  conversation is still in the state the turn began in, and transition only from the
  states it allows; an agent's move is never undone by a turn that ran meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .records import (
    ConversationActivity,
    ConversationRow,
    ConversationState,
    Feedback,
    HandoffRecord,
    MessageRow,
    NewMessage,
    OutboxRow,
)

__all__ = ["Store", "TicketStatus"]

#: "serving": the ticket may run now; "waiting": not yet; "skipped": it waited too long.
TicketStatus = str


class Store(Protocol):
    # lifecycle
    async def open(self) -> None:
        """Connect and migrate the schema to this version."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """Whether the database answers (for /readyz); never raises."""
        ...

    async def schema_version(self) -> int: ...

    # conversations and messages
    async def create_conversation(
        self, conversation_id: str, bot_id: str, metadata: dict[str, Any]
    ) -> ConversationRow: ...

    async def get_conversation(self, conversation_id: str) -> ConversationRow | None: ...

    async def messages(self, conversation_id: str, after_seq: int = 0) -> list[MessageRow]:
        """The conversation's messages after `after_seq`, in order, decisions included."""
        ...

    async def handoffs(
        self, state: str, limit: int = 100, after: tuple[str, str, str] | None = None
    ) -> list[ConversationRow]:
        """A page of conversations in `state`, the longest waiting first, after the one whose
        (handoff_at or "", created_at, id) is `after`."""
        ...

    # turns: the per-conversation queue, then the turn stored
    async def begin_turn(
        self,
        conversation_id: str,
        owner: str,
        lease_s: float,
        grace_s: float,
        *,
        create_for: str | None = None,
        bot_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[int, TicketStatus, ConversationRow | None, list[MessageRow]]:
        """Take a ticket; when it is served at once, also the conversation and its messages
        (without decisions). `create_for` creates the conversation first; `bot_id` makes
        another bot's conversation unknown (UnknownConversation). Serving a closed
        conversation reopens it to the bot."""
        ...

    async def try_serve(
        self, conversation_id: str, ticket: int, owner: str, lease_s: float, grace_s: float
    ) -> tuple[TicketStatus, ConversationRow | None, list[MessageRow]]: ...

    async def finish_ticket(self, conversation_id: str, ticket: int, grace_s: float) -> None:
        """Give a ticket up without storing a turn."""
        ...

    async def abandon_tickets(self, is_dead: Callable[[str], bool], grace_s: float) -> int:
        """Free every ticket of owners `is_dead` names; returns the conversations freed."""
        ...

    async def save_turn(
        self,
        conversation_id: str,
        messages: Sequence[NewMessage],
        *,
        from_state: ConversationState,
        state: ConversationState,
        bot_turns: int,
        unsure_streak: int,
        handoff: HandoffRecord | None = None,
        webhook: dict[str, Any] | None = None,
        at: str | None = None,
        ticket: int | None = None,
        grace_s: float = 10.0,
        clarifying: list[dict[str, str]] | None = None,
    ) -> tuple[ConversationState, list[int]]:
        """Store a turn with its webhook and serve the next ticket; the turn's own changes
        (counters, the options of a clarification it asked, a hand-off) only if the state is
        still `from_state`. Returns the state afterwards and the seqs of the messages stored."""
        ...

    # agents
    async def transition(
        self,
        conversation_id: str,
        allowed_from: Sequence[ConversationState],
        to_state: ConversationState,
        wanted: str,
        *,
        agent: str | None = None,
        resume: bool = False,
    ) -> ConversationRow:
        """Move to `to_state` from one of `allowed_from`, or raise IllegalTransition."""
        ...

    async def add_agent_message(self, conversation_id: str, agent: str, text: str, tokens: int) -> MessageRow:
        """An agent's reply; the conversation must be agent_active (else IllegalTransition)."""
        ...

    # the webhook outbox
    async def due_webhooks(self, limit: int, lease_seconds: float, channel: str | None = None) -> list[OutboxRow]:
        """Lease due, undelivered webhooks (or, with `channel`, that channel's calls, each
        conversation's in order) so no other process sends them meanwhile."""
        ...

    async def enqueue(self, channel: str, conversation_id: str, payloads: Sequence[dict[str, Any]]) -> None:
        """Calls to a channel's platform, to send in order in the background."""
        ...

    async def first_delivery(self, channel: str, event_id: str) -> bool:
        """Record an event a channel received; False when it had been received before."""
        ...

    async def undelivered(self, channel: str, conversation_id: str) -> int:
        """How many of `channel`'s calls for the conversation are still to be sent."""
        ...

    async def webhook_delivered(self, row_id: int) -> None: ...

    async def webhook_failed(self, row_id: int, retry_in: float | None, error: str) -> None:
        """A failed attempt; `retry_in` None gives up (the row stays, for inspection)."""
        ...

    # customer feedback, and what happened (reports, FAQ gaps, exports)
    async def rate(self, conversation_id: str, seq: int, rating: str, comment: str | None = None) -> Feedback:
        """The customer's rating ("up" | "down") of bot message `seq`, replacing an earlier
        one; FeedbackRefused when `seq` is not a bot message of the conversation."""
        ...

    async def feedback(self, conversation_id: str) -> dict[int, Feedback]:
        """The conversation's ratings, by the seq of the bot message rated."""
        ...

    async def activity(self, bot_id: str | None = None, since: str | None = None) -> list[ConversationActivity]:
        """Every conversation (of `bot_id`) changed at or after `since` (UTC ISO 8601), with
        its messages and feedback, oldest first."""
        ...

    # reads for operations (the load benchmark, the tests)
    async def delete_conversations(self, conversation_ids: Sequence[str]) -> int:
        """Remove these conversations with their messages, feedback, tickets and webhook rows;
        returns how many there were."""
        ...

    async def purge(self, before: str) -> int:
        """Remove every conversation last changed before `before` (UTC ISO 8601), as above."""
        ...

    async def outbox(self) -> list[OutboxRow]:
        """Every webhook row, delivered or not, oldest first."""
        ...

    async def customer_texts(self) -> Counter[str]:
        """How often each customer text is stored, all conversations."""
        ...
