"""Model request timeouts, by where the server is: a cloud model answers in seconds, a CPU
model on this machine takes tens of seconds a turn. Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..loopback import is_loopback
from .format import ModelSettings

__all__ = ["LOCAL_TIMEOUT_FLOOR_S", "LOCAL_TIMEOUT_S", "REMOTE_TIMEOUT_S", "is_local", "model_timeouts"]

#: Default model timeouts: a server elsewhere, and one on this machine (a CPU model).
REMOTE_TIMEOUT_S = 20.0
LOCAL_TIMEOUT_S = 300.0
#: Below this, a model on this machine will often time out (`validate` warns).
LOCAL_TIMEOUT_FLOOR_S = 120.0


def is_local(base_url: str | None) -> bool:
    """Whether a base URL points at this machine (localhost, 127.0.0.0/8, ::1)."""
    return is_loopback(urlsplit(base_url or "").hostname or "")


def model_timeouts(settings: ModelSettings, base_url: str | None) -> tuple[float, float]:
    """(first byte, total) seconds for one request to `base_url`: the bot's, or the defaults."""
    total = settings.timeout_s or (LOCAL_TIMEOUT_S if is_local(base_url) else REMOTE_TIMEOUT_S)
    return min(settings.first_byte_timeout_s or total, total), total
