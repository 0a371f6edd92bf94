"""Publishable keys: keys a web page may show, for the chat widget (`/widget.js`).

A publishable key is public by design (it is in the page's source), so it is worth little
on its own: it starts and continues conversations only of the bots it names, only from the
origins it lists (browsers send `Origin` and scripts cannot change it), and each client
address may send only so many messages a minute with it. It never reaches agent endpoints.
Secret customer keys (SUPPORTBOT_API_KEYS) keep working for servers.

Configured as SUPPORTBOT_PUBLISHABLE_KEYS, entries separated by ';':

    pk_live_4f9a...=bean-there,ledgerly-billing|https://shop.example,https://www.shop.example
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PREFIX", "PublishableKey", "parse_publishable", "publishable_problems"]

PREFIX = "pk_"
_MIN_LENGTH = 16
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_BOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:?-]{0,127}$")
_SHAPE = "pk_...=bot-id[,bot-id]|https://origin[,https://origin]"


@dataclass(frozen=True)
class PublishableKey:
    key: str
    bots: frozenset[str]
    origins: frozenset[str]


def parse_publishable(entry: str) -> PublishableKey:
    """One entry of SUPPORTBOT_PUBLISHABLE_KEYS; ValueError saying what is wrong."""
    key, _, rest = entry.strip().partition("=")
    bots, _, origins = rest.partition("|")
    key = key.strip()
    if not key.startswith(PREFIX) or len(key) < _MIN_LENGTH:
        raise ValueError(
            f"a publishable key starts with '{PREFIX}' and has at least {_MIN_LENGTH} characters ({_SHAPE})"
        )
    bot_ids = [b.strip() for b in bots.split(",") if b.strip()]
    origin_list = [o.strip().rstrip("/") for o in origins.split(",") if o.strip()]
    if not bot_ids or not all(_BOT.match(b) for b in bot_ids):
        raise ValueError(f"key {key[:7]}...: name the bots it may talk to ({_SHAPE})")
    bad = [o for o in origin_list if not _ORIGIN.match(o)]
    if not origin_list or bad:
        shown = f" ('{bad[0]}' is not one: scheme and host only, no path)" if bad else ""
        raise ValueError(f"key {key[:7]}...: list the web origins it may be used from{shown} ({_SHAPE})")
    return PublishableKey(key, frozenset(bot_ids), frozenset(origin_list))


def publishable_problems(entries: Sequence[str], secret_keys: Sequence[str]) -> list[str]:
    found = []
    for entry in entries:
        try:
            parsed = parse_publishable(entry)
        except ValueError as exc:
            found.append(f"SUPPORTBOT_PUBLISHABLE_KEYS: {exc}")
            continue
        if parsed.key in secret_keys:
            found.append("SUPPORTBOT_PUBLISHABLE_KEYS: a publishable key must not also be a secret key")
    return found
