"""Channel endpoints: events from the platforms a bot is connected to (Chatwoot)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse

from ...channels.chatwoot import ChatwootChannel, signature_valid
from ..models import BOT_ID

__all__ = ["router"]

log = logging.getLogger("supportbot.channels")
router = APIRouter(tags=["channels"])


@router.post("/v1/channels/chatwoot/{bot_id}", responses={401: {}, 404: {}, 400: {}})
async def chatwoot_event(
    request: Request,
    bot_id: Annotated[str, Path(pattern=BOT_ID)],
    x_chatwoot_timestamp: Annotated[str | None, Header()] = None,
    x_chatwoot_signature: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """An Agent Bot event from Chatwoot: checked (the signature, when the bot has a secret),
    acknowledged at once, handled in the background."""
    channel: ChatwootChannel | None = request.app.state.chatwoot.get(bot_id)
    if channel is None:
        return JSONResponse({"detail": f"bot '{bot_id}' is not connected to Chatwoot (channels.chatwoot)"}, 404)
    body = await request.body()
    if channel.secret and not signature_valid(
        channel.secret, x_chatwoot_timestamp, x_chatwoot_signature, body, time.time()
    ):
        return JSONResponse({"detail": "missing, wrong or old X-Chatwoot-Signature"}, 401)
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return JSONResponse({"detail": "the body is not JSON"}, 400)
    if not isinstance(payload, dict):
        return JSONResponse({"detail": "the body is not a JSON object"}, 400)
    task = asyncio.create_task(_handle(channel, payload))
    request.app.state.tasks.add(task)
    task.add_done_callback(request.app.state.tasks.discard)
    return JSONResponse({"ok": True})


async def _handle(channel: ChatwootChannel, payload: dict[str, Any]) -> None:
    try:
        await channel.handle(payload)
    except Exception:  # answered 200 already: log, and Chatwoot's own timeout moves the conversation to open
        log.exception("chatwoot event failed", extra={"event": payload.get("event")})
