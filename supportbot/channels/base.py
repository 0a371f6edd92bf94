"""The seam every channel uses: an event from a platform becomes at most one turn, in a
conversation whose id comes from the platform's, and the platform's view of a conversation
(a person has it, it is resolved, it is back with the bot) moves ours the same way."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..lifecycle import ConversationState
from ..server.service import SupportService, TurnResult
from ..store import IllegalTransition, StoreError

__all__ = ["Inbound", "conversation_id_for", "customer_turn", "move_to"]

log = logging.getLogger("supportbot.channels")


@dataclass(frozen=True)
class Inbound:
    """A customer's message as a channel received it."""

    channel: str
    event_id: str  # the platform's id of the message: a redelivery carries the same
    conversation_id: str  # ours, from conversation_id_for()
    text: str
    option: str | None = None  # the id of a clarification option the customer clicked


def conversation_id_for(channel: str, *parts: object) -> str:
    """Our conversation id for a platform's conversation: the same every time, so nothing
    needs a mapping table; e.g. chatwoot-1-42 for account 1, conversation 42."""
    raw = "-".join([channel, *(str(p) for p in parts)])
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:64]


async def customer_turn(service: SupportService, bot_id: str, inbound: Inbound) -> TurnResult | None:
    """The turn for `inbound`, or None when this event was handled before (a redelivery)."""
    store = service.store
    if not await store.first_delivery(inbound.channel, inbound.event_id):
        return None
    if await store.get_conversation(inbound.conversation_id) is None:
        try:
            await store.create_conversation(inbound.conversation_id, bot_id, {"channel": inbound.channel})
        except StoreError:  # created meanwhile by the platform's next event
            log.info("conversation created concurrently", extra={"conversation": inbound.conversation_id})
    return await service.run_turn(bot_id, inbound.conversation_id, inbound.text, option=inbound.option)


async def move_to(
    service: SupportService, conversation_id: str, target: ConversationState, agent: str | None = None
) -> bool:
    """Follow the platform: put the conversation in `target` from wherever it is (a person
    took it, resolved it, gave it back to the bot). False when it is unknown or already there."""
    row = await service.store.get_conversation(conversation_id)
    if row is None or row.state == target:
        return False
    try:
        await service.store.transition(
            conversation_id, [row.state], target, f"follow the channel to {target}",
            agent=agent, resume=target == ConversationState.BOT_ACTIVE,
        )  # fmt: skip
    except IllegalTransition:  # moved meanwhile: the platform's next event brings it in line
        return False
    return True
