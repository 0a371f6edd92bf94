"""`supportbot serve`: the HTTP API, stored conversations, hand-offs, web chat and agent console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: commands that only read settings (purge, report) need not
    # import the web framework and the model SDK, which costs seconds at start-up.
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerSettings":
        from .settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
