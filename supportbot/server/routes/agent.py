"""Agent endpoints: the hand-off queue, claim, reply, release, delete, and the report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse

from ...insights.html import STYLE_HASH, render_html
from ...lifecycle import STATES
from ..deps import Agent, Service
from ..models import (
    BOT_ID,
    AgentMessageIn,
    ClaimIn,
    ConversationOut,
    MessageOut,
    ReleaseIn,
    conversation_out,
    message_out,
)
from .customer import ConversationId

__all__ = ["router"]

router = APIRouter(tags=["agent"])


@router.get("/v1/handoffs")
async def handoffs(
    response: Response,
    role: Agent,
    svc: Service,
    state: Annotated[str, Query(pattern="^(" + "|".join(STATES) + ")$")] = "awaiting_agent",
    limit: Annotated[int, Query(ge=1, le=500, description="Conversations per page.")] = 100,
    cursor: Annotated[str | None, Query(max_length=400, description="X-Next-Cursor of the previous page.")] = None,
) -> list[dict[str, Any]]:
    """The queue, longest waiting first, a page at a time: while a page is full, its
    `X-Next-Cursor` header (and `Link: <...>; rel="next"`) asks for the next."""
    packets, following = await svc.queue(state, limit, cursor)
    if following:
        response.headers["X-Next-Cursor"] = following
        response.headers["Link"] = f'</v1/handoffs?state={state}&limit={limit}&cursor={following}>; rel="next"'
    return packets


@router.get("/v1/report", responses={200: {"content": {"text/html": {}}}, 422: {}})
async def report(
    role: Agent,
    svc: Service,
    bot: Annotated[str | None, Query(pattern=BOT_ID, description="Only this bot (default: all).")] = None,
    since: Annotated[str, Query(max_length=40, description="7d, 12h, 30m, a date, or all.")] = "7d",
    format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
) -> Response:
    """What `supportbot report` shows, for this server's store and bots: a self-contained
    HTML page (the agent console opens it), or the same figures as JSON."""
    data = await svc.report(bot, since)
    if format == "json":
        return JSONResponse(data)
    return HTMLResponse(render_html(data), headers=_REPORT_HEADERS)


_REPORT_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src {STYLE_HASH}; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.delete("/v1/conversations/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: ConversationId, role: Agent, svc: Service) -> Response:
    """Remove the conversation with its messages, decisions and webhook rows, for good."""
    await svc.delete(conversation_id)
    return Response(status_code=204)


@router.post("/v1/conversations/{conversation_id}/claim", response_model=ConversationOut)
async def claim(conversation_id: ConversationId, body: ClaimIn, role: Agent, svc: Service) -> ConversationOut:
    await svc.claim(conversation_id, body.agent)
    return conversation_out(*await svc.transcript(conversation_id), for_agent=True)


@router.post("/v1/conversations/{conversation_id}/agent-messages", status_code=201)
async def agent_message(conversation_id: ConversationId, body: AgentMessageIn, role: Agent, svc: Service) -> MessageOut:
    return message_out(await svc.agent_message(conversation_id, body.text))


@router.post("/v1/conversations/{conversation_id}/release", response_model=ConversationOut)
async def release(conversation_id: ConversationId, body: ReleaseIn, role: Agent, svc: Service) -> ConversationOut:
    await svc.release(conversation_id, body.resume_bot)
    return conversation_out(*await svc.transcript(conversation_id), for_agent=True)
