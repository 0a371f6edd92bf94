"""`supportbot serve`: the HTTP API, stored conversations, hand-offs, web chat and agent console."""

from .app import create_app
from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
