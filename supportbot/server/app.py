"""The HTTP API, the web chat and the agent console."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..bot import Bot
from ..engine import Engine
from ..errors import MessageRejected
from ..loader import load_bots
from ..providers.registry import create_provider
from ..store import STATES, IllegalTransition, StoreError, open_store
from .limits import BodyLimit, RateLimited, SlidingWindow, client_address
from .metrics import Metrics, TimedProvider
from .models import (
    BOT_ID,
    CONVERSATION_ID,
    AgentMessageIn,
    ClaimIn,
    ConversationOut,
    MessageIn,
    ReleaseIn,
    TurnOut,
    conversation_out,
)
from .service import Busy, ConversationNotFound, SupportService, UnknownBot
from .settings import SETTINGS_ENV, ServerSettings
from .webhook import WebhookSender

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("supportbot.server")
_EVENTS_POLL_S = 0.5
_EVENTS_MAX_S = 600.0


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def _holds(token: str | None, keys: Sequence[str]) -> bool:
    return bool(token) and any(hmac.compare_digest(token.encode(), key.encode()) for key in keys)  # type: ignore[union-attr]


def _authorizer(settings: ServerSettings, *groups: list[str]) -> Callable[..., Awaitable[str]]:
    """A dependency that admits a request carrying a key from one of `groups`, and says
    whose it is: "agent" (an agent key, or no keys configured at all) or "customer".

    With no keys configured at all the server only listens on loopback (see `serve`);
    once any keys are configured, a group left empty admits nobody: fail closed."""
    keys = [key for group in groups for key in group]

    async def check(authorization: Annotated[str | None, Header()] = None) -> str:
        if not settings.keys_configured:
            return "agent"
        token = _bearer(authorization)
        if _holds(token, keys):
            return "agent" if _holds(token, settings.agent_keys) else "customer"
        raise _Unauthorized()

    return check


class _Unauthorized(Exception):
    pass


def create_app(settings: ServerSettings, bots: Sequence[Bot] | None = None, env: dict[str, str] | None = None) -> FastAPI:
    """The application. `bots` default to loading `settings.bot_paths` (ConfigError if any fails)."""
    environment = dict(os.environ if env is None else env)
    loaded = list(bots) if bots is not None else load_bots(settings.bot_paths)
    metrics = Metrics()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url)
        await store.open()
        engines = {b.id: Engine(b, TimedProvider(create_provider(b, environment), metrics, b.id)) for b in loaded}
        sender = None
        if settings.webhook_url and settings.webhook_secret:
            sender = WebhookSender(store, settings.webhook_url, settings.webhook_secret, metrics)
            sender.start()
        state["service"] = SupportService(loaded, engines, store, metrics, webhook_enabled=sender is not None)
        freed = await state["service"].recover()
        if freed:
            log.warning("freed conversations left mid-turn by a crashed process", extra={"conversations": freed})
        state["sender"] = sender
        state["tasks"] = set()
        log.info("ready", extra={"bots": [b.id for b in loaded], "database": settings.database_display()})
        try:
            yield
        finally:
            if state["tasks"]:
                await asyncio.gather(*state["tasks"], return_exceptions=True)
            if sender:
                await sender.stop()
            for engine in engines.values():
                await engine.aclose()
            await store.close()

    # /docs loads Swagger UI from a CDN: off unless asked for (SUPPORTBOT_DOCS), and then
    # a pinned version. /openapi.json is always there.
    app = FastAPI(title="supportbot", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Customer messages in, answers or hand-offs out; the hand-off lifecycle for agents.")
    if settings.docs:
        _pinned_docs(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Accept"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    customer = Depends(_authorizer(settings, settings.api_keys))
    agent = Depends(_authorizer(settings, settings.agent_keys))
    anyone = Depends(_authorizer(settings, settings.api_keys, settings.agent_keys))
    anyone_role = _authorizer(settings, settings.api_keys, settings.agent_keys)
    new_conversations = SlidingWindow("per client address")

    def service() -> SupportService:
        return state["service"]  # type: ignore[no-any-return]

    _errors(app, metrics)
    app.add_middleware(_RequestLog)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        svc: SupportService | None = state.get("service")
        store_ok = svc is not None and await svc.store.ping()
        ready = store_ok and bool(loaded)
        body = {"ready": ready, "bots": len(loaded), "store": "ok" if store_ok else "unreachable"}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics_endpoint(authorization: Annotated[str | None, Header()] = None) -> Response:
        if settings.metrics_keys and not _holds(_bearer(authorization), settings.metrics_keys):
            raise _Unauthorized()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/bots", tags=["customer"], dependencies=[anyone])
    async def list_bots() -> list[dict[str, str]]:
        return [{"id": b.id, "name": b.name, "description": b.config.description} for b in loaded]

    @app.post("/v1/bots/{bot_id}/messages", tags=["customer"], dependencies=[customer], response_model=TurnOut,
              responses={200: {"content": {"text/event-stream": {}}}, 404: {}, 409: {}, 413: {}, 422: {}, 429: {}})
    async def post_message(request: Request, bot_id: BotId, body: MessageIn, accept: Annotated[str | None, Header()] = None) -> Any:
        svc = service()
        svc.check(bot_id, body.conversation_id, body.text)
        if body.conversation_id is None and settings.new_conversations_per_minute:
            client = client_address(request.client.host if request.client else None,
                                    request.headers.get("x-forwarded-for"), settings.trusted_proxies)
            new_conversations.check(client, settings.new_conversations_per_minute, "new conversations")
        if accept and "text/event-stream" in accept:
            if body.conversation_id:  # a 404 must come before the stream starts
                await svc.check_conversation(bot_id, body.conversation_id)
            return _stream_turn(svc, state["tasks"], state["sender"], bot_id, body.conversation_id, body.text, body.metadata)
        result = await svc.run_turn(bot_id, body.conversation_id, body.text, metadata=body.metadata)
        if result.decision.handoff and state["sender"]:
            state["sender"].wake()
        # Serialised once, here; a returned Response skips FastAPI's second validation.
        return Response(TurnOut(**result.decision.model_dump(), state=result.state).model_dump_json(), media_type="application/json")

    @app.get("/v1/conversations/{conversation_id}", tags=["customer"], dependencies=[anyone], response_model=ConversationOut)
    async def get_conversation(conversation_id: ConversationId, role: str = Depends(anyone_role)) -> ConversationOut:
        row, messages = await service().transcript(conversation_id)
        return conversation_out(row, messages, for_agent=role == "agent")

    @app.get("/v1/conversations/{conversation_id}/events", tags=["customer"], dependencies=[anyone],
             responses={200: {"content": {"text/event-stream": {}}}})
    async def conversation_events(conversation_id: ConversationId, after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0) -> StreamingResponse:
        await service().transcript(conversation_id)  # 404 before the stream starts
        return StreamingResponse(_events(service(), conversation_id, after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/handoffs", tags=["agent"], dependencies=[agent])
    async def handoffs(
        response: Response,
        state_name: Annotated[str, Query(alias="state", pattern="^(" + "|".join(STATES) + ")$")] = "awaiting_agent",
        limit: Annotated[int, Query(ge=1, le=500, description="Conversations per page.")] = 100,
        cursor: Annotated[str | None, Query(max_length=400, description="X-Next-Cursor of the previous page.")] = None,
    ) -> list[dict[str, Any]]:
        """The queue, longest waiting first, a page at a time: while a page is full, its
        `X-Next-Cursor` header (and `Link: <...>; rel="next"`) asks for the next."""
        packets = await service().queue(state_name, limit, _read_cursor(cursor))
        if len(packets) == limit:
            last = packets[-1]
            following = _cursor(last["handed_off_at"] or "", last["created_at"], last["conversation_id"])
            response.headers["X-Next-Cursor"] = following
            response.headers["Link"] = f'</v1/handoffs?state={state_name}&limit={limit}&cursor={following}>; rel="next"'
        return packets

    @app.post("/v1/conversations/{conversation_id}/claim", tags=["agent"], dependencies=[agent], response_model=ConversationOut)
    async def claim(conversation_id: ConversationId, body: ClaimIn) -> ConversationOut:
        await service().claim(conversation_id, body.agent)
        return conversation_out(*await service().transcript(conversation_id), for_agent=True)

    @app.post("/v1/conversations/{conversation_id}/agent-messages", tags=["agent"], dependencies=[agent], status_code=201)
    async def agent_message(conversation_id: ConversationId, body: AgentMessageIn) -> dict[str, Any]:
        row, _ = await service().transcript(conversation_id)
        message = await service().agent_message(conversation_id, row.agent or "agent", body.text)
        return {"seq": message.seq, "role": message.role, "text": message.text, "at": message.created_at, "author": message.author}

    @app.post("/v1/conversations/{conversation_id}/release", tags=["agent"], dependencies=[agent], response_model=ConversationOut)
    async def release(conversation_id: ConversationId, body: ReleaseIn) -> ConversationOut:
        await service().release(conversation_id, body.resume_bot)
        return conversation_out(*await service().transcript(conversation_id), for_agent=True)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def web_chat() -> HTMLResponse:
        return HTMLResponse(_page("index.html"), headers=PAGE_HEADERS)

    @app.get("/agent", response_class=HTMLResponse, include_in_schema=False)
    async def agent_console() -> HTMLResponse:
        return HTMLResponse(_page("agent.html"), headers=PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        media = _STATIC.get(name)  # only the files we ship, by their exact names
        if media is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(_page(name), media_type=media, headers={"Cache-Control": "no-cache", **PAGE_HEADERS})

    return app


#: The pages load only their own scripts and styles and talk only to this server; no
#: other site may frame them (clickjacking) or learn where a visitor came from.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MEDIA = {".css": "text/css", ".js": "text/javascript"}
_STATIC = {
    entry.name: _MEDIA[suffix]
    for entry in files("supportbot").joinpath("web").iterdir()
    if (suffix := "." + entry.name.rsplit(".", 1)[-1]) in _MEDIA
}
#: Sequence numbers are INTEGER columns: a larger `after` can match nothing.
MAX_SEQ = 2**31 - 1
BotId = Annotated[str, Path(pattern=BOT_ID, description="A bot's id.")]
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID, description="A conversation's id.")]
#: Pinned, so what /docs runs does not change under a running server.
_SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"


def _pinned_docs(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="supportbot API",
                                   swagger_js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{_SWAGGER_UI}/swagger-ui.css")


def _cursor(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None) -> tuple[str, str, str] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key):
            return (key[0], key[1], key[2])
    except ValueError:
        pass
    raise BadCursor()


class BadCursor(ValueError):
    """A cursor this server did not give out."""


def _page(name: str) -> str:
    return files("supportbot").joinpath("web", name).read_text(encoding="utf-8")


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _stream_turn(svc: SupportService, tasks: set[asyncio.Task[None]], sender: WebhookSender | None,
                 bot_id: str, conversation_id: str | None, text: str, metadata: dict[str, Any]) -> StreamingResponse:
    """Stream reply text as the model writes it, then the validated decision."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_delta(piece: str) -> None:
        queue.put_nowait(("delta", {"text": piece}))

    async def run() -> None:
        try:
            result = await svc.run_turn(bot_id, conversation_id, text, on_delta, metadata)
            if result.decision.handoff and sender:
                sender.wake()
            queue.put_nowait(("decision", {**result.decision.model_dump(), "state": result.state}))
        except Exception as exc:  # the stream has started: report in-band, never a traceback
            log.exception("streamed turn failed")
            queue.put_nowait(("error", {"detail": _public_error(exc)}))

    # The turn runs to the end and is stored even if the client goes away mid-stream.
    task = asyncio.create_task(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)

    async def events() -> AsyncIterator[str]:
        while True:
            kind, data = await queue.get()
            yield _sse(kind, data)
            if kind != "delta":
                return

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(svc: SupportService, conversation_id: str, after: int) -> AsyncIterator[str]:
    """New messages and state changes of a conversation, as they are stored (any process)."""
    last_seq, last_state = after, None
    deadline = time.monotonic() + _EVENTS_MAX_S
    quiet = 0.0
    while time.monotonic() < deadline:
        row = await svc.store.get_conversation(conversation_id)
        if row is None:
            return
        if row.state != last_state:
            last_state = row.state
            yield _sse("state", {"state": row.state, "agent": row.agent})
        for message in await svc.store.messages(conversation_id, last_seq):
            last_seq = message.seq
            yield _sse("message", {"seq": message.seq, "role": message.role, "text": message.text,
                                   "at": message.created_at, "author": message.author})
            quiet = 0.0
        await asyncio.sleep(_EVENTS_POLL_S)
        quiet += _EVENTS_POLL_S
        if quiet >= 15:
            quiet = 0.0
            yield ": keep-alive\n\n"


def _printable(value: object) -> object:
    """A value any JSON encoder takes: lone surrogates shown as escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _public_error(exc: Exception) -> str:
    if isinstance(exc, Busy | StoreError):
        return "the service is busy; please try again"
    return "something went wrong on our side; a person will follow up"


def _errors(app: FastAPI, metrics: Metrics) -> None:
    def detail(status: int, message: Any, **extra: Any) -> JSONResponse:
        headers = extra.pop("headers", None)
        return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)

    @app.exception_handler(_Unauthorized)
    async def unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return detail(401, "missing or wrong API key (send Authorization: Bearer <key>)", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(UnknownBot)
    @app.exception_handler(ConversationNotFound)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return detail(404, str(exc))

    @app.exception_handler(MessageRejected)
    async def rejected(request: Request, exc: MessageRejected) -> JSONResponse:
        return detail(422, str(exc))

    @app.exception_handler(BadCursor)
    async def bad_cursor(request: Request, exc: BadCursor) -> JSONResponse:
        return detail(422, "cursor: not a cursor this server gave out (use the X-Next-Cursor header of the previous page)")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own body echoes the input, which may hold characters no JSON encoder
        # takes (a lone surrogate): say where and what, never the value.
        problems = [{"loc": [_printable(part) for part in error["loc"]], "msg": _printable(error["msg"]), "type": error["type"]}
                    for error in exc.errors()]
        return detail(422, problems)

    @app.exception_handler(RateLimited)
    async def limited(request: Request, exc: RateLimited) -> JSONResponse:
        return detail(429, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(IllegalTransition)
    async def conflict(request: Request, exc: IllegalTransition) -> JSONResponse:
        return detail(409, str(exc), state=exc.current)

    @app.exception_handler(Busy)
    @app.exception_handler(StoreError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("store" if isinstance(exc, StoreError) else "busy").inc()
        log.warning("service unavailable", extra={"error": type(exc).__name__})
        return detail(503, _public_error(exc), headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("internal").inc()
        request_id = request.scope.get("state", {}).get("request_id", "-")
        log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
        return detail(500, f"internal error (request {request_id}); the message was not lost if a response said so")


class _RequestLog:
    """One JSON log line per request: method, path, status, time. Never headers (keys) or
    bodies (customer text). Plain ASGI: a BaseHTTPMiddleware costs a task group per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("supportbot.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:12]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.log.info("request", extra={
                "request_id": request_id, "method": scope["method"], "path": scope["path"],
                "status": status, "ms": round((time.perf_counter() - started) * 1000, 2),
            })


def app_from_env() -> FastAPI:
    """The app factory `serve --workers N` gives uvicorn (settings travel in the environment)."""
    from .logs import configure_logging

    configure_logging()
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_ENV]))
