"""The pages: the web chat, the agent console, their static files, and /docs when asked for."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ...insights.html import STYLE_HASH

__all__ = ["PAGE_HEADERS", "add_docs", "router"]

router = APIRouter(include_in_schema=False)

#: The pages load only their own scripts and styles and talk only to this server; no
#: other site may frame them (clickjacking) or learn where a visitor came from. The report's
#: one style block is allowed by its hash: the console opens the report as a page of its own.
PAGE_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; script-src 'self'; style-src 'self' {STYLE_HASH}; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MEDIA = {"css": "text/css", "js": "text/javascript"}
# Only the files we ship, by their exact names.
_STATIC = {
    entry.name: _MEDIA[entry.name.rsplit(".", 1)[-1]]
    for entry in files("supportbot").joinpath("web").iterdir()
    if entry.name.rsplit(".", 1)[-1] in _MEDIA
}
#: Pinned, so what /docs runs does not change under a running server.
_SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"


def _page(name: str) -> str:
    return files("supportbot").joinpath("web", name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def web_chat() -> HTMLResponse:
    return HTMLResponse(_page("index.html"), headers=PAGE_HEADERS)


@router.get("/agent", response_class=HTMLResponse)
async def agent_console() -> HTMLResponse:
    return HTMLResponse(_page("agent.html"), headers=PAGE_HEADERS)


@router.get("/widget.js")
async def widget() -> Response:
    """The chat widget for other sites' pages (README: "Put the chat on your website")."""
    headers = {
        "Cache-Control": "max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    return Response(_page("widget.js"), media_type="text/javascript", headers=headers)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    media = _STATIC.get(name)
    if media is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return Response(_page(name), media_type=media, headers={"Cache-Control": "no-cache", **PAGE_HEADERS})


def add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI, a pinned version from a CDN (SUPPORTBOT_DOCS=1 only)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="supportbot API",
            swagger_js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{_SWAGGER_UI}/swagger-ui.css",
        )
