"""Server settings: from the command line and the environment, checked before start."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property

from .publishable import PublishableKey, parse_publishable, publishable_problems

__all__ = ["LOOPBACK", "SETTINGS_ENV", "ServerSettings"]

LOOPBACK = "127.0.0.1"
DEFAULT_DATABASE = "sqlite:///supportbot.db"
SETTINGS_ENV = "SUPPORTBOT_SERVE_SETTINGS"  # how `serve --workers N` hands settings to its workers


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number from the environment; -1 when it is not one (reported by problems())."""
    value = env.get(name, "").strip()
    if not value:
        return default
    return int(value) if value.isdigit() else -1


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class ServerSettings:
    bot_paths: list[str] = field(default_factory=lambda: ["bots"])
    database_url: str = DEFAULT_DATABASE
    api_keys: list[str] = field(default_factory=list)  # customer endpoints
    agent_keys: list[str] = field(default_factory=list)  # agent endpoints
    cors_origins: list[str] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    max_body_bytes: int = 256 * 1024
    metrics_keys: list[str] = field(default_factory=list)  # empty: /metrics is open
    new_conversations_per_minute: int = 30  # per client address; 0: no limit
    trusted_proxies: list[str] = field(default_factory=list)  # addresses or networks whose X-Forwarded-For counts
    docs: bool = False  # serve /docs (Swagger UI from a CDN, pinned)
    publishable_keys: list[str] = field(default_factory=list)  # for web pages: publishable.py
    publishable_messages_per_minute: int = 30  # requests per client address, with a publishable key

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], bot_paths: Sequence[str] = (), database_url: str | None = None
    ) -> ServerSettings:
        return cls(
            bot_paths=list(bot_paths) or ["bots"],
            database_url=database_url or env.get("SUPPORTBOT_DATABASE_URL") or DEFAULT_DATABASE,
            api_keys=_split(env.get("SUPPORTBOT_API_KEYS")),
            agent_keys=_split(env.get("SUPPORTBOT_AGENT_KEYS")),
            cors_origins=_split(env.get("SUPPORTBOT_CORS_ORIGINS")),
            webhook_url=env.get("SUPPORTBOT_HANDOFF_WEBHOOK") or None,
            webhook_secret=env.get("SUPPORTBOT_WEBHOOK_SECRET") or None,
            metrics_keys=_split(env.get("SUPPORTBOT_METRICS_KEYS")),
            new_conversations_per_minute=_int(env, "SUPPORTBOT_NEW_CONVERSATIONS_PER_MINUTE", 30),
            trusted_proxies=_split(env.get("SUPPORTBOT_TRUSTED_PROXIES")),
            docs=env.get("SUPPORTBOT_DOCS", "").strip().lower() in ("1", "true", "yes", "on"),
            publishable_keys=[e.strip() for e in env.get("SUPPORTBOT_PUBLISHABLE_KEYS", "").split(";") if e.strip()],
            publishable_messages_per_minute=_int(env, "SUPPORTBOT_PUBLISHABLE_MESSAGES_PER_MINUTE", 30),
        )

    @property
    def keys_configured(self) -> bool:
        return bool(self.api_keys or self.agent_keys or self.publishable_keys)

    @cached_property
    def publishable(self) -> dict[str, PublishableKey]:
        """The publishable keys by key, parsed once (entries that do not parse are reported by
        problems())."""
        found = {}
        for entry in self.publishable_keys:
            try:
                parsed = parse_publishable(entry)
            except ValueError:
                continue
            found[parsed.key] = parsed
        return found

    @property
    def allowed_origins(self) -> list[str]:
        """Origins whose pages may call the API: CORS origins and publishable keys' origins."""
        origins = {origin for key in self.publishable.values() for origin in key.origins}
        return sorted(set(self.cors_origins) | origins)

    def problems(self) -> list[str]:
        """What stops the server from starting safely."""
        found = []
        if self.webhook_url and not self.webhook_secret:
            found.append(
                "SUPPORTBOT_HANDOFF_WEBHOOK is set but SUPPORTBOT_WEBHOOK_SECRET is not (webhooks are always signed)"
            )
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            found.append(f"SUPPORTBOT_HANDOFF_WEBHOOK must be an http(s) URL, got '{self.webhook_url}'")
        found += publishable_problems(self.publishable_keys, [*self.api_keys, *self.agent_keys])
        if self.publishable_messages_per_minute < 1:
            found.append("SUPPORTBOT_PUBLISHABLE_MESSAGES_PER_MINUTE must be a whole number >= 1")
        if self.new_conversations_per_minute < 0:
            found.append("SUPPORTBOT_NEW_CONVERSATIONS_PER_MINUTE must be a whole number >= 0 (0: no limit)")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                found.append(
                    f"SUPPORTBOT_TRUSTED_PROXIES: '{proxy}' is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/8)"
                )
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        return cls(**json.loads(text))

    def database_display(self) -> str:
        """The URL without any password, for logs."""
        url = self.database_url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            credentials, host = rest.rsplit("@", 1)
            user = credentials.split(":", 1)[0]
            return f"{scheme}://{user}@{host}"
        return url
