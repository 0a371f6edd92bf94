"""The application: what one server process holds (store, engines, webhook sender, service),
its middleware, and the routers by audience (routes/)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .._version import __version__
from ..bot import Bot
from ..channels.chatwoot import CHANNEL, ChatwootChannel
from ..channels.sender import ChannelSender
from ..config.loader import load_bots
from ..config.timeouts import model_timeouts
from ..engine import Engine
from ..providers.base import Provider
from ..providers.openai_chat import resolve_base_url
from ..providers.registry import create_provider
from ..store import Store, open_store
from .errors import install_error_handlers
from .limits import BodyLimit
from .logs import RequestLog
from .metrics import Metrics, TimedProvider
from .routes import agent, channels, customer, operations, pages
from .service import SupportService
from .settings import SETTINGS_ENV, ServerSettings
from .webhook import WebhookSender

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("supportbot.server")


def create_app(
    settings: ServerSettings,
    bots: Sequence[Bot] | None = None,
    env: Mapping[str, str] | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> FastAPI:
    """The application. `bots` default to those under `settings.bot_paths`; `providers` (by
    bot id), when given, are used instead of building them. The app closes them at shutdown."""
    environment = dict(os.environ if env is None else env)
    loaded = list(bots) if bots is not None else load_bots(settings.bot_paths)
    metrics = Metrics()

    lifespan = _lifespan(settings, loaded, environment, dict(providers or {}), metrics)
    # /docs loads Swagger UI from a CDN: off unless asked for (SUPPORTBOT_DOCS), and then
    # a pinned version. /openapi.json is always there.
    app = FastAPI(
        title="supportbot",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Customer messages in, answers or hand-offs out; the hand-off lifecycle for agents.",
    )
    app.state.settings = settings
    app.state.metrics = metrics
    if settings.docs:
        pages.add_docs(app)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app, metrics)
    app.add_middleware(RequestLog)
    for module in (operations, customer, agent, channels, pages):
        app.include_router(module.router)
    return app


def _lifespan(
    settings: ServerSettings, bots: list[Bot], env: Mapping[str, str], providers: dict[str, Provider], metrics: Metrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the process holds while it serves: opened at start-up, closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url)
        await store.open()
        sender = None
        if settings.webhook_url and settings.webhook_secret:
            sender = WebhookSender(store, settings.webhook_url, settings.webhook_secret, metrics)
            sender.start()
        app.state.service = _service(settings, bots, env, providers, metrics, store, sender)
        engines = app.state.service.engines
        app.state.tasks = set()  # streamed turns and channel events still running: finished before shutdown
        app.state.chatwoot, chatwoot_sender = _chatwoot(bots, app.state.service, env, metrics)
        freed = await app.state.service.recover()
        if freed:
            log.warning("freed conversations left mid-turn by a crashed process", extra={"conversations": freed})
        log.info("ready", extra={"bots": [b.id for b in bots], "database": settings.database_display()})
        try:
            yield
        finally:
            if app.state.tasks:
                await asyncio.gather(*app.state.tasks, return_exceptions=True)
            for stopping in (sender, chatwoot_sender):
                if stopping:
                    await stopping.stop()
            for closing in (*app.state.chatwoot.values(), *engines.values()):
                await closing.aclose()
            await store.close()

    return lifespan


def _service(
    settings: ServerSettings,
    bots: list[Bot],
    env: Mapping[str, str],
    providers: dict[str, Provider],
    metrics: Metrics,
    store: Store,
    sender: WebhookSender | None,
) -> SupportService:
    """The service over this process's engines (one per bot, its provider timed)."""
    engines = {
        b.id: Engine(b, TimedProvider(providers.get(b.id) or create_provider(b, env), metrics, b.id)) for b in bots
    }
    timeouts = {b.id: model_timeouts(b.config.model, resolve_base_url(b.config.model.base_url, env))[1] for b in bots}
    return SupportService(
        bots, engines, store, metrics, webhook=sender,
        new_conversations_per_minute=settings.new_conversations_per_minute, request_timeouts=timeouts,
    )  # fmt: skip


def _chatwoot(
    bots: list[Bot], service: SupportService, env: Mapping[str, str], metrics: Metrics
) -> tuple[dict[str, ChatwootChannel], ChannelSender | None]:
    """The bots connected to Chatwoot, and the one sender of their calls (started)."""
    channels = {b.id: ChatwootChannel(b, service, env) for b in bots if b.config.channels.chatwoot}
    if not channels:
        return channels, None
    for bot_id, channel in channels.items():
        if not channel.secret:
            log.warning(
                "chatwoot deliveries are not signed: anyone who knows the URL can post events (set channels.chatwoot.secret_env)",
                extra={"bot": bot_id},
            )

    async def deliver(call: dict[str, Any]) -> None:
        await channels[call["bot"]].deliver(call)

    sender = ChannelSender(service.store, CHANNEL, deliver, metrics)
    for channel in channels.values():
        channel.wake = sender.wake
    sender.start()
    return channels, sender


def app_from_env() -> FastAPI:
    """The app factory `serve --workers N` gives uvicorn (settings travel in the environment)."""
    from .logs import configure_logging

    configure_logging()
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_ENV]))
