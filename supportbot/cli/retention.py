"""`supportbot purge`: remove old conversations from a store."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ..server.settings import ServerSettings
from ..store import open_store
from ..store.records import StoreError
from .common import EXIT_CONFIG, EXIT_FAILURE, err, out

__all__ = ["parse_age", "purge"]

_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """'90d', '12h' or '30m' as a timedelta; ValueError saying what is allowed."""
    found = _AGE.match(text)
    if not found or int(found.group(1)) == 0:
        raise ValueError(
            f"--older-than {text!r}: give a number above 0 and a unit: 90d (days), 12h (hours) or 30m (minutes)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


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
    before = (datetime.now(UTC) - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")
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
