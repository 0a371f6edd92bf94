"""Customer endpoints: the bots, a turn (plain or streamed), the transcript, its events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from ...store import ConversationRow
from ..deps import Anyone, Customer, Role, Service
from ..errors import public_error
from ..limits import client_address
from ..models import (
    BOT_ID,
    CONVERSATION_ID,
    MAX_SEQ,
    BotOut,
    ConversationOut,
    FeedbackIn,
    FeedbackOut,
    MessageIn,
    TurnOut,
    conversation_out,
    feedback_out,
    message_out,
)
from ..service import SupportService
from ..sse import event, event_stream

__all__ = ["router"]

log = logging.getLogger("supportbot.server")
router = APIRouter(tags=["customer"])
BotId = Annotated[str, Path(pattern=BOT_ID, description="A bot's id.")]
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID, description="A conversation's id.")]


@router.get("/v1/bots")
async def list_bots(role: Anyone, svc: Service) -> list[BotOut]:
    return [BotOut(id=b.id, name=b.name, description=b.config.description) for b in svc.bots.values()]


@router.post(
    "/v1/bots/{bot_id}/messages",
    response_model=TurnOut,
    responses={200: {"content": {"text/event-stream": {}}}, 404: {}, 409: {}, 413: {}, 422: {}, 429: {}},
)
async def post_message(
    request: Request,
    bot_id: BotId,
    body: MessageIn,
    role: Customer,
    svc: Service,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    settings = request.app.state.settings
    client = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        settings.trusted_proxies,
    )
    svc.check(bot_id, body.conversation_id, body.text, client)
    if accept and "text/event-stream" in accept:
        if body.conversation_id:  # a 404 must come before the stream starts
            await svc.check_conversation(bot_id, body.conversation_id)
        return _stream_turn(svc, request.app.state.tasks, bot_id, body)
    result = await svc.run_turn(bot_id, body.conversation_id, body.text, metadata=body.metadata, option=body.option)
    # Serialised once, here; a returned Response skips FastAPI's second validation.
    turn = TurnOut(**result.decision.model_dump(), state=result.state, reply_seq=result.reply_seq)
    return Response(turn.model_dump_json(), media_type="application/json")


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation_id: ConversationId, role: Anyone, svc: Service) -> ConversationOut:
    return conversation_out(*await svc.transcript(conversation_id), for_agent=role == Role.AGENT)


@router.post("/v1/conversations/{conversation_id}/feedback", status_code=201, responses={404: {}, 422: {}})
async def feedback(conversation_id: ConversationId, body: FeedbackIn, role: Customer, svc: Service) -> FeedbackOut:
    """The customer's rating of one bot message (its `seq`); rating it again replaces the
    rating. Agents see it in the transcript; reports and `supportbot gaps` count it."""
    return feedback_out(await svc.rate(conversation_id, body.message, body.rating, body.comment))


@router.get("/v1/conversations/{conversation_id}/events", responses={200: {"content": {"text/event-stream": {}}}})
async def conversation_events(
    conversation_id: ConversationId, role: Anyone, svc: Service, after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0
) -> StreamingResponse:
    """New messages (agent replies included) and state changes, from any server process."""
    await svc.transcript(conversation_id)  # 404 before the stream starts
    return event_stream(_events(svc, conversation_id, after))


async def _events(svc: SupportService, conversation_id: str, after: int) -> AsyncIterator[str]:
    async for item in svc.events(conversation_id, after):
        if item is None:
            yield ": keep-alive\n\n"
        elif isinstance(item, ConversationRow):
            yield event("state", {"state": item.state, "agent": item.agent})
        else:
            yield event("message", message_out(item).model_dump(exclude={"decision", "feedback"}))


def _stream_turn(
    svc: SupportService, tasks: set[asyncio.Task[None]], bot_id: str, body: MessageIn
) -> StreamingResponse:
    """Stream reply text as the model writes it, then the validated decision."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_delta(piece: str) -> None:
        queue.put_nowait(("delta", {"text": piece}))

    async def run() -> None:
        try:
            result = await svc.run_turn(bot_id, body.conversation_id, body.text, on_delta, body.metadata, body.option)
            turn = TurnOut(**result.decision.model_dump(), state=result.state, reply_seq=result.reply_seq)
            queue.put_nowait(("decision", turn.model_dump()))
        except Exception as exc:  # the stream has started: report in-band, never a traceback
            log.exception("streamed turn failed")
            queue.put_nowait(("error", {"detail": public_error(exc)}))

    # The turn runs to the end and is stored even if the client goes away mid-stream.
    task = asyncio.create_task(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)

    async def events() -> AsyncIterator[str]:
        while True:
            kind, data = await queue.get()
            yield event(kind, data)
            if kind != "delta":
                return

    return event_stream(events())
