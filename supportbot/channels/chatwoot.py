"""Chatwoot: the bot as an Agent Bot of a Chatwoot inbox (README: "Connect to Chatwoot").

Chatwoot POSTs events to `/v1/channels/chatwoot/{bot_id}`; the server answers 200 at once
and handles them in the background (Chatwoot waits 5 s and retries only on 429/500). What the
bot says goes back through the outbox (sender.py) as calls to Chatwoot's API.

The mapping: a `pending` Chatwoot conversation is ours to answer (bot_active). A hand-off
posts the hand-off message, a private note for the team (rule, reason, summary), assigns the
configured team, and toggles the conversation `open`. An agent's reply there moves ours to
agent_active (and is kept in our transcript); `resolved` closes ours; a conversation toggled
back to `pending` is the bot's again. A clarification's options are `input_select` buttons,
and a click comes back as the pick.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..bot import Bot
from ..config.format import ChatwootSettings
from ..lifecycle import ConversationState
from ..server.service import SupportService, TurnResult
from ..server.transcript import handoff_packet
from .base import Inbound, conversation_id_for, customer_turn, move_to
from .sender import DeliveryFailed

__all__ = ["CHANNEL", "ChatwootChannel", "chatwoot_problems", "signature_valid"]

log = logging.getLogger("supportbot.channels")

CHANNEL = "chatwoot"
MAX_SKEW_S = 300  # a delivery signed longer ago than this is refused: it may be a replay


#: The events that move a conversation or carry a message; conversation_status_changed and
#: conversation_updated carry a status too (newer Chatwoot versions send them).
_EVENTS = frozenset(
    {
        "message_created",
        "message_updated",
        "conversation_opened",
        "conversation_resolved",
        "conversation_status_changed",
        "conversation_updated",
    }
)


def signature_valid(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> bool:
    """X-Chatwoot-Signature is sha256=HMAC-SHA256(secret, "{timestamp}.{body}"), and the
    timestamp (Unix seconds) must be recent."""
    if not timestamp or not signature or not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_S:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def chatwoot_problems(bot: Bot, env: Mapping[str, str]) -> list[str]:
    """What stops the bot's Chatwoot connection from working: its secrets missing."""
    settings = bot.config.channels.chatwoot
    if settings is None:
        return []
    found = []
    if not env.get(settings.api_token_env):
        found.append(
            f"bot '{bot.id}': channels.chatwoot.api_token_env names {settings.api_token_env}, which is not set "
            "(the agent bot's access token, from Chatwoot's Settings > Bots)"
        )
    if settings.secret_env and not env.get(settings.secret_env):
        found.append(f"bot '{bot.id}': channels.chatwoot.secret_env names {settings.secret_env}, which is not set")
    return found


def _id(value: Any) -> str | None:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") is not None else None


class ChatwootChannel:
    """One bot's Chatwoot connection: events in, calls out (queued)."""

    def __init__(self, bot: Bot, service: SupportService, env: Mapping[str, str]) -> None:
        settings = bot.config.channels.chatwoot
        assert settings is not None
        self.bot = bot
        self.settings: ChatwootSettings = settings
        self.service = service
        problems = chatwoot_problems(bot, env)
        if problems:
            raise ValueError("; ".join(problems))
        self._token = env[settings.api_token_env]
        self.secret = env.get(settings.secret_env, "") if settings.secret_env else ""
        self._client = httpx.AsyncClient(timeout=10.0)
        self.wake: Callable[[], None] = _nothing  # the app sets it: wakes the sender

    async def aclose(self) -> None:
        await self._client.aclose()

    # events in ------------------------------------------------------------------------------

    async def handle(self, payload: dict[str, Any]) -> None:
        """One event from Chatwoot; anything it does not concern is ignored (webwidget_triggered:
        the bot speaks when spoken to)."""
        event = payload.get("event")
        if event not in _EVENTS:
            return
        conversation = payload.get("conversation") if "conversation" in payload else payload
        if not isinstance(conversation, dict) or conversation.get("id") is None:
            return
        account = _id(payload.get("account")) or str(payload.get("account_id") or self.settings.account_id)
        inbox = _id(payload.get("inbox")) or str(conversation.get("inbox_id") or "")
        if self.settings.inbox_id is not None and inbox and inbox != str(self.settings.inbox_id):
            return
        display_id = str(conversation["id"])
        cid = conversation_id_for(CHANNEL, account, display_id)
        status = str(conversation.get("status") or "")
        # Toggled back to the bot in Chatwoot; unless our own move to `open` is still queued
        # (Chatwoot down, say): then "pending" is only Chatwoot not knowing yet.
        if status == "pending" and not await self.service.store.undelivered(CHANNEL, cid):
            await move_to(self.service, cid, ConversationState.BOT_ACTIVE)
        if event == "conversation_resolved" or status == "resolved":
            await move_to(self.service, cid, ConversationState.CLOSED)
        elif event == "conversation_opened" or status == "open":
            await self._opened(cid)
        if event == "message_created":
            await self._message(payload, cid, display_id, status)
        elif event == "message_updated":
            await self._picked(payload, cid, display_id, status)

    async def _opened(self, cid: str) -> None:
        """A person took the conversation in Chatwoot: the bot stops answering it."""
        row = await self.service.store.get_conversation(cid)
        if row is not None and row.state == ConversationState.BOT_ACTIVE:
            await move_to(self.service, cid, ConversationState.AWAITING_AGENT)

    async def _message(self, payload: dict[str, Any], cid: str, display_id: str, status: str) -> None:
        found = payload.get("sender")
        sender: dict[str, Any] = found if isinstance(found, dict) else {}
        kind, private = payload.get("message_type"), bool(payload.get("private"))
        text = str(payload.get("content") or "").strip()
        if private or not text or payload.get("id") is None:
            return
        if kind == "incoming" and sender.get("type") == "contact" and status == "pending":
            inbound = Inbound(CHANNEL, f"message-{payload['id']}", cid, text)
            await self._answer(await customer_turn(self.service, self.bot.id, inbound), cid, display_id)
        elif kind == "outgoing" and sender.get("type") == "user":  # an agent wrote in Chatwoot
            await self._agent_reply(cid, f"message-{payload['id']}", str(sender.get("name") or "agent"), text)

    async def _picked(self, payload: dict[str, Any], cid: str, display_id: str, status: str) -> None:
        """A click on a clarification's buttons: Chatwoot updates the input_select message."""
        attributes = payload.get("content_attributes") or {}
        submitted = attributes.get("submitted_values") if isinstance(attributes, dict) else None
        if payload.get("content_type") != "input_select" or not submitted or status != "pending":
            return
        choice = submitted[0] if isinstance(submitted[0], dict) else {}
        value, title = str(choice.get("value") or ""), str(choice.get("title") or choice.get("value") or "")
        if value:
            inbound = Inbound(CHANNEL, f"pick-{payload.get('id')}-{value}", cid, title, option=value)
            await self._answer(await customer_turn(self.service, self.bot.id, inbound), cid, display_id)

    async def _agent_reply(self, cid: str, event_id: str, agent: str, text: str) -> None:
        row = await self.service.store.get_conversation(cid)
        if row is None or not await self.service.store.first_delivery(CHANNEL, event_id):
            return
        if row.state != ConversationState.AGENT_ACTIVE:
            await move_to(self.service, cid, ConversationState.AGENT_ACTIVE, agent=agent)
        await self.service.agent_message(cid, text)

    # calls out ----------------------------------------------------------------------------------

    async def _answer(self, result: TurnResult | None, cid: str, display_id: str) -> None:
        if result is None:  # a redelivery: answered the first time
            return
        decision = result.decision
        base = f"/api/v1/accounts/{self.settings.account_id}/conversations/{display_id}"
        calls: list[dict[str, Any]] = []
        if decision.action == "clarify":
            items = [{"title": o.title, "value": o.id} for o in decision.options]
            calls.append(self._post(f"{base}/messages", _message(decision.reply, "input_select", {"items": items})))
        elif decision.action == "answer":
            calls.append(self._post(f"{base}/messages", _message(decision.reply)))
        elif result.state == ConversationState.AWAITING_AGENT and decision.handoff:
            if decision.with_person_already:
                return
            row, messages, _ = await self.service.transcript(cid)
            packet = handoff_packet(row, messages)
            note = f"Handed off by the bot: {packet['reason']} (rule {packet['rule']}). {packet['summary']}"
            if packet["detail"]:
                note += f" Detail: {packet['detail']}"
            calls.append(self._post(f"{base}/messages", _message(decision.reply)))
            calls.append(self._post(f"{base}/messages", {**_message(note), "private": True}))
            if self.settings.team_id is not None:
                calls.append(self._post(f"{base}/assignments", {"team_id": self.settings.team_id}))
            calls.append(self._post(f"{base}/toggle_status", {"status": "open"}))
        if calls:
            await self.service.store.enqueue(CHANNEL, cid, calls)
            self.wake()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"bot": self.bot.id, "path": path, "body": body}

    async def deliver(self, call: dict[str, Any]) -> None:
        """One queued call to Chatwoot's API; DeliveryFailed unless Chatwoot took it."""
        url = self.settings.url.rstrip("/") + str(call["path"])
        response = await self._client.post(url, json=call["body"], headers={"api_access_token": self._token})
        if not response.is_success:
            raise DeliveryFailed(f"Chatwoot answered HTTP {response.status_code} to POST {call['path']}")


def _nothing() -> None:
    return None


def _message(content: str, content_type: str = "text", attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": content,
        "message_type": "outgoing",
        "private": False,
        "content_type": content_type,
    }
    if attributes:
        body["content_attributes"] = attributes
    return body
