"""The hand-off lifecycle: the states a conversation moves through.

    bot_active -> awaiting_agent -> agent_active -> closed
                       (release with resume_bot)  -> bot_active
    closed -> bot_active when the customer writes again

The bot answers only in bot_active. Turns move bot_active to awaiting_agent (a hand-off);
agents move the rest (claim, release); every move checks the state it expects.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["STATES", "ConversationState"]


class ConversationState(StrEnum):
    BOT_ACTIVE = "bot_active"
    AWAITING_AGENT = "awaiting_agent"
    AGENT_ACTIVE = "agent_active"
    CLOSED = "closed"


STATES = tuple(state.value for state in ConversationState)
