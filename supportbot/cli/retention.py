"""`supportbot purge`: remove old conversations from a store."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from ..ages import iso_utc, parse_age
from ..server.settings import ServerSettings
from ..store import open_store
from ..store.records import StoreError
from .common import EXIT_CONFIG, EXIT_FAILURE, err, out

__all__ = ["purge"]


def purge(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Remove conversations last changed longer ago than this: 90d, 12h, 30m.")
    ],
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL, as for serve (default: SUPPORTBOT_DATABASE_URL, else sqlite:///supportbot.db)."
        ),
    ] = None,
) -> None:
    """Remove old conversations, with their messages, decisions and webhook rows."""
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    settings = ServerSettings.from_env(os.environ, database_url=db)
    before = iso_utc(datetime.now(UTC) - age)
    try:
        removed = asyncio.run(_purge(settings.database_url, before))
    except StoreError as exc:
        err.print(f"cannot purge {settings.database_display()}: {exc}", markup=False)
        raise typer.Exit(EXIT_FAILURE) from None
    noun = "conversation" if removed == 1 else "conversations"
    out.print(f"removed {removed} {noun} last changed before {before} from {settings.database_display()}", markup=False)


async def _purge(url: str, before: str) -> int:
    store = open_store(url)
    await store.open()
    try:
        return await store.purge(before)
    finally:
        await store.close()
