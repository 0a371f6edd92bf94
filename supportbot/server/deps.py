"""What routes depend on (FastAPI `Depends`): the caller's role, and the service."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, Request

from .publishable import PREFIX, PublishableKey
from .service import SupportService
from .settings import ServerSettings

__all__ = [
    "Agent",
    "Anyone",
    "Customer",
    "Role",
    "Service",
    "Unauthorized",
    "WrongOrigin",
    "bearer",
    "holds",
    "publishable_key",
]


class Unauthorized(Exception):
    """No key, or a key this endpoint does not take."""


class WrongOrigin(Exception):
    """A publishable key used from a web origin it does not list."""


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"  # an agent key, or a server without keys (it listens on loopback only)


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def holds(token: str | None, keys: Sequence[str]) -> bool:
    """Whether `token` is one of `keys`, compared in constant time."""
    return token is not None and any(hmac.compare_digest(token.encode(), key.encode()) for key in keys)


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def _role(request: Request, authorization: str | None, *, customers: bool, agents: bool) -> Role:
    """The caller's role, if it holds a key of a group the endpoint takes.

    Once any keys are configured, a group left empty admits nobody: fail closed."""
    settings = _settings(request)
    if not settings.keys_configured:
        return Role.AGENT
    token = bearer(authorization)
    if agents and holds(token, settings.agent_keys):
        return Role.AGENT
    if customers and holds(token, settings.api_keys):
        return Role.CUSTOMER
    if customers and token and token.startswith(PREFIX):
        key = settings.publishable.get(token)
        if key is not None:
            if request.headers.get("origin", "").rstrip("/") not in key.origins:
                raise WrongOrigin()
            request.state.publishable = key
            return Role.CUSTOMER
    raise Unauthorized()


def publishable_key(request: Request) -> PublishableKey | None:
    """The publishable key the caller used, if it used one: its bots bound what it may reach."""
    key: PublishableKey | None = getattr(request.state, "publishable", None)
    return key


async def _customer(request: Request, authorization: Annotated[str | None, Header()] = None) -> Role:
    return _role(request, authorization, customers=True, agents=False)


async def _agent(request: Request, authorization: Annotated[str | None, Header()] = None) -> Role:
    return _role(request, authorization, customers=False, agents=True)


async def _anyone(request: Request, authorization: Annotated[str | None, Header()] = None) -> Role:
    return _role(request, authorization, customers=True, agents=True)


async def _service(request: Request) -> SupportService:
    # async although it awaits nothing: FastAPI runs a plain `def` dependency in its thread
    # pool, a round trip to another thread on every request for one attribute read.
    service: SupportService = request.app.state.service
    return service


Customer = Annotated[Role, Depends(_customer)]
Agent = Annotated[Role, Depends(_agent)]
Anyone = Annotated[Role, Depends(_anyone)]
Service = Annotated[SupportService, Depends(_service)]
