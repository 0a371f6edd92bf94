"""One mapping from what goes wrong to what a client receives: a status and a `detail` that
says what to do, never a traceback and never the client's own input echoed back."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import MessageRejected
from ..store import FeedbackRefused, IllegalTransition, StoreError
from .deps import Unauthorized, WrongOrigin
from .limits import RateLimited
from .metrics import Metrics
from .service import BadCursor, BadWindow, Busy, ConversationNotFound, UnknownBot

__all__ = ["install_error_handlers", "public_error"]

log = logging.getLogger("supportbot.server")


def public_error(exc: Exception) -> str:
    """What a client may read about an unexpected failure."""
    if isinstance(exc, Busy | StoreError):
        return "the service is busy; please try again"
    return "something went wrong on our side; a person will follow up"


def _detail(status: int, message: Any, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)


def _printable(value: object) -> object:
    """A value any JSON encoder takes: lone surrogates shown as escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


# Exceptions that are the client's to fix: (status, message or None for str(exc)).
_CLIENT_ERRORS: dict[type[Exception], tuple[int, str | None]] = {
    UnknownBot: (404, None),
    ConversationNotFound: (404, None),
    MessageRejected: (422, None),
    FeedbackRefused: (422, None),
    BadWindow: (422, None),
    BadCursor: (422, "cursor: not a cursor this server gave out (use the X-Next-Cursor header of the previous page)"),
}


async def _client_error(request: Request, exc: Exception) -> JSONResponse:
    status, message = _CLIENT_ERRORS[type(exc)]
    return _detail(status, message or str(exc))


async def _unauthorized(request: Request, exc: Exception) -> JSONResponse:
    return _detail(401, "missing or wrong API key (send Authorization: Bearer <key>)", {"WWW-Authenticate": "Bearer"})


async def _wrong_origin(request: Request, exc: Exception) -> JSONResponse:
    return _detail(403, "this key may not be used from this web origin (the key's owner lists where it may be used)")


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own body echoes the input, which may hold characters no JSON encoder takes
    # (a lone surrogate): say where and what, never the value.
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [_printable(part) for part in error["loc"]], "msg": _printable(error["msg"]), "type": error["type"]}
        for error in exc.errors()
    ]
    return _detail(422, problems)


async def _limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return _detail(429, str(exc), {"Retry-After": str(exc.retry_after)})


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IllegalTransition)
    return _detail(409, str(exc), state=exc.current)


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    for kind in _CLIENT_ERRORS:
        app.add_exception_handler(kind, _client_error)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(WrongOrigin, _wrong_origin)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RateLimited, _limited)
    app.add_exception_handler(IllegalTransition, _conflict)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("store" if isinstance(exc, StoreError) else "busy").inc()
        log.warning("service unavailable", extra={"error": type(exc).__name__})
        return _detail(503, public_error(exc), {"Retry-After": "2"})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        metrics.errors.labels("internal").inc()
        request_id = request.scope.get("state", {}).get("request_id", "-")
        log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
        return _detail(500, f"internal error (request {request_id}); the message was not lost if a response said so")

    app.add_exception_handler(Busy, unavailable)
    app.add_exception_handler(StoreError, unavailable)
    app.add_exception_handler(Exception, unexpected)
