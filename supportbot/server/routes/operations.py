"""Operations: liveness, readiness, metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..deps import Unauthorized, bearer, holds
from ..service import SupportService

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    svc: SupportService | None = getattr(request.app.state, "service", None)
    bots = len(svc.bots) if svc is not None else 0
    store_ok = svc is not None and await svc.store_reachable()
    ready = store_ok and bots > 0
    body = {"ready": ready, "bots": bots, "store": "ok" if store_ok else "unreachable"}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    settings = request.app.state.settings
    if settings.metrics_keys and not holds(bearer(authorization), settings.metrics_keys):
        raise Unauthorized()
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
