"""Find providers: the built-in ones and those third parties register as entry points.

A package adds a provider by declaring, in its pyproject.toml:

    [project.entry-points."supportbot.providers"]
    myprovider = "mypackage.module:MyProvider"

where MyProvider(bot, env) returns an object with `complete` and `aclose` (see base.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from ..errors import ProviderError
from .base import Provider, ProviderFactory

if TYPE_CHECKING:
    from ..bot import Bot

__all__ = ["ENTRY_POINT_GROUP", "create_provider", "provider_names"]

ENTRY_POINT_GROUP = "supportbot.providers"
# Also reachable without installed metadata (running from a source tree).
_BUILTIN = {
    "offline": "supportbot.providers.offline:OfflineProvider",
    "openai": "supportbot.providers.openai_chat:OpenAIProvider",
}


@cache
def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    return targets


def provider_names() -> list[str]:
    return sorted(_targets())


def _factory(name: str) -> ProviderFactory:
    target = _targets().get(name)
    if target is None:
        raise ProviderError(f"unknown provider '{name}' (allowed: {', '.join(provider_names())})")
    module_name, _, attr = target.partition(":")
    try:
        factory: ProviderFactory = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ProviderError(f"provider '{name}' ({target}) cannot be imported: {exc}") from exc
    return factory


def create_provider(bot: Bot, env: Mapping[str, str] | None = None, *, name: str | None = None) -> Provider:
    """Build the provider the bot names (or `name`); raises ProviderError, e.g. MissingApiKey."""
    return _factory(name or bot.config.model.provider)(bot, os.environ if env is None else env)
