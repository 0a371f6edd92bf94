"""`supportbot serve`: start the HTTP server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from ..bot import Bot
from ..config.loader import load_bots
from ..errors import ConfigError, ProviderError
from ..loopback import is_loopback
from ..providers.base import Provider
from ..providers.registry import create_provider
from ..server.settings import LOOPBACK, SETTINGS_ENV, ServerSettings
from .common import EXIT_CONFIG, err, print_problems

__all__ = ["serve"]


def _bots_or_exit(settings: ServerSettings) -> tuple[list[Bot], dict[str, Provider]]:
    """Every bot, loaded, with its provider built; else every problem listed and exit 2."""
    from ..channels.chatwoot import chatwoot_problems  # the server's modules: only when serving

    try:
        bots = load_bots(settings.bot_paths)
    except ConfigError as exc:
        print_problems(exc.problems, "the server did not start")
        raise typer.Exit(EXIT_CONFIG) from None
    problems = list(settings.problems())
    providers: dict[str, Provider] = {}
    for bot in bots:  # a bot whose provider cannot be built (no key) must not half-start
        try:
            providers[bot.id] = create_provider(bot, os.environ)
        except ProviderError as exc:
            problems.append(f"bot '{bot.id}': {exc}")
        problems += chatwoot_problems(bot, os.environ)
    if not bots:
        problems.append(f"no bots found under {', '.join(settings.bot_paths)}")
    if problems:
        _close(providers)
        for problem in problems:
            err.print(problem, markup=False)
        err.print("the server did not start", markup=False)
        raise typer.Exit(EXIT_CONFIG)
    return bots, providers


def _close(providers: dict[str, Provider]) -> None:
    async def close_all() -> None:
        for provider in providers.values():
            await provider.aclose()

    asyncio.run(close_all())


def serve(
    paths: Annotated[list[Path] | None, typer.Argument(help="Bot files or folders (default: bots/).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = LOOPBACK,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="sqlite:///file.db (default sqlite:///supportbot.db) or postgresql://...; also SUPPORTBOT_DATABASE_URL.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (share state through the database).")
    ] = 1,
) -> None:
    """Serve the bots over HTTP: customer API, agent API, web chat (/) and agent console (/agent).

    Refuses to start, listing every problem, when a bot does not load.
    """
    settings = ServerSettings.from_env(os.environ, [str(p) for p in paths or [Path("bots")]], db)
    bots, providers = _bots_or_exit(settings)
    host = _listen_host(settings, host)
    err.print(
        f"supportbot: {len(bots)} bot(s) ({', '.join(b.id for b in bots)}) on http://{host}:{port} "
        f"· database {settings.database_display()} · {workers} worker(s) · chat /, agents /agent, API /openapi.json",
        markup=False,
    )
    _run(settings, bots, providers, host, port, workers)


def _listen_host(settings: ServerSettings, host: str) -> str:
    """Where to listen: without keys, loopback only, whatever was asked."""
    if settings.keys_configured:
        return host
    if not is_loopback(host):
        err.print(
            f"no SUPPORTBOT_API_KEYS or SUPPORTBOT_AGENT_KEYS set: listening on {LOOPBACK} only, not {host}",
            markup=False,
        )
        return LOOPBACK
    err.print(
        f"no API keys configured: listening on {host} only (set SUPPORTBOT_API_KEYS and SUPPORTBOT_AGENT_KEYS to open it up)",
        markup=False,
    )
    return host


def _run(
    settings: ServerSettings, bots: list[Bot], providers: dict[str, Provider], host: str, port: int, workers: int
) -> None:
    import uvicorn

    from ..server.app import create_app
    from ..server.logs import configure_logging

    configure_logging()
    if workers == 1:  # this process serves: its app uses (and closes) the providers built here
        app = create_app(settings, bots, providers=providers)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
        return
    _close(providers)  # each worker builds its own; this process only supervises them
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run("supportbot.server.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_config=None, access_log=False)  # fmt: skip
