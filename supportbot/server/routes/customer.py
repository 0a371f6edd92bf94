"""Customer endpoints: the bots, a turn (plain or streamed), the transcript, its events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from ...store import ConversationRow
from ..deps import Anyone, Customer, Role, Service, publishable_key
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
from ..service import SupportService, UnknownBot
from ..sse import event, event_stream

__all__ = ["router"]

log = logging.getLogger("supportbot.server")
router = APIRouter(tags=["customer"])
BotId = Annotated[str, Path(pattern=BOT_ID, description="A bot's id.")]
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID, description="A conversation's id.")]


@router.get("/v1/bots")
async def list_bots(request: Request, role: Anyone, svc: Service) -> list[BotOut]:
    key = publishable_key(request)
    return [
        BotOut(id=b.id, name=b.name, description=b.config.description)
        for b in svc.bots.values()
        if key is None or b.id in key.bots
    ]


def _client(request: Request) -> str:
    settings = request.app.state.settings
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


def _public_checks(request: Request, svc: SupportService, bot_id: str | None = None) -> frozenset[str] | None:
    """For a publishable key: its rate limit per client, and the bots it reaches (a bot it
    does not name is not found). None for other keys: every bot."""
    key = publishable_key(request)
    if key is None:
        return None
    svc.check_public(_client(request), request.app.state.settings.publishable_messages_per_minute)
    if bot_id is not None and bot_id not in key.bots:
        raise UnknownBot(f"no bot '{bot_id}' for this key")
    return key.bots


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
    _public_checks(request, svc, bot_id)
    svc.check(bot_id, body.conversation_id, body.text, _client(request))
    if accept and "text/event-stream" in accept:
        if body.conversation_id:  # a 404 must come before the stream starts
            await svc.check_conversation(bot_id, body.conversation_id)
        return _stream_turn(svc, request.app.state.tasks, bot_id, body)
    result = await svc.run_turn(bot_id, body.conversation_id, body.text, metadata=body.metadata, option=body.option)
    # Serialised once, here; a returned Response skips FastAPI's second validation.
    turn = TurnOut(**result.decision.model_dump(), state=result.state, reply_seq=result.reply_seq)
    return Response(turn.model_dump_json(), media_type="application/json")


@router.get("/v1/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    request: Request, conversation_id: ConversationId, role: Anyone, svc: Service
) -> ConversationOut:
    transcript = await svc.transcript(conversation_id, _public_checks(request, svc))
    return conversation_out(*transcript, for_agent=role == Role.AGENT)


@router.post("/v1/conversations/{conversation_id}/feedback", status_code=201, responses={404: {}, 422: {}})
async def feedback(
    request: Request, conversation_id: ConversationId, body: FeedbackIn, role: Customer, svc: Service
) -> FeedbackOut:
    """The customer's rating of one bot message (its `seq`); rating it again replaces the
    rating. Agents see it in the transcript; reports and `supportbot gaps` count it."""
    bots = _public_checks(request, svc)
    if bots is not None:  # otherwise the rating itself finds an unknown conversation
        await svc.check_reachable(conversation_id, bots)
    return feedback_out(await svc.rate(conversation_id, body.message, body.rating, body.comment))


@router.get("/v1/conversations/{conversation_id}/events", responses={200: {"content": {"text/event-stream": {}}}})
async def conversation_events(
    request: Request,
    conversation_id: ConversationId,
    role: Anyone,
    svc: Service,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> StreamingResponse:
    """New messages (agent replies included) and state changes, from any server process."""
    await svc.check_reachable(conversation_id, _public_checks(request, svc))  # 404 before the stream starts
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
