"""The ASGI application: routes, problem handlers, optional auth, the viewer, the OpenAPI schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_server import _batches, _documents, _evidence, _exports, _extractions, _health, _portfolio
from api_server._auth import api_key_guard
from api_server._metrics import RequestMetrics
from api_server._problems import ErrorCode, Problem, install_problem_handlers, problem_responses
from api_server._services import close_services, open_services
from charmelio import __version__
from charmelio.metrics import telemetry_runtime
from charmelio.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"

_DESCRIPTION = """\
Upload contract PDFs, extract their clauses (each with a verbatim quote and its page), follow an
extraction while it runs, read and list results. Errors are `application/problem+json` with a
stable `code`. When the server has an API key configured, every `/api` route requires it in
`X-API-Key` or `Authorization: Bearer`. The viewer is at `/`.
"""

# The viewer renders contract text (untrusted) with textContent only; the policy backs that up.
# blob: images are the evidence pages, fetched with the API key and shown from memory.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class _SecurityHeaders:
    """Headers on every response; /api answers (contract data) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", _CONTENT_SECURITY_POLICY.encode()),
                ]
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings) -> FastAPI:
    """The API for these settings. Refuses to build without CHARMELIO_DATABASE_URL.

    With CHARMELIO_METRICS_PORT set, this binds the metrics port at once (a taken port fails the
    start, not the first scrape): build one app per process.
    """
    settings.require_database_url()
    runtime = telemetry_runtime(settings, component="api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(settings, runtime)
        app.state.services = services
        try:
            yield
        finally:
            await close_services(services)

    app = FastAPI(
        title="Charmelio API",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI and ReDoc load their code from a CDN at run time: the schema is enough.
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    guarded: dict[str, Any] = {}
    if settings.api_key is not None:
        guarded = {
            "dependencies": [Depends(api_key_guard(settings.api_key))],
            "responses": problem_responses(ErrorCode.UNAUTHORIZED),
        }
    app.include_router(_documents.router, **guarded)
    app.include_router(_extractions.router, **guarded)
    app.include_router(_batches.router, **guarded)
    for portfolio_router in (_portfolio.router, _exports.router, _evidence.router):
        app.include_router(portfolio_router, **guarded)
    app.include_router(_health.router)

    @app.get("/", include_in_schema=False)
    async def viewer() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(_SecurityHeaders)
    if runtime is not None:
        app.add_middleware(RequestMetrics, meter=runtime.metric_meter)
    _with_problem_schema(app)
    return app


def _with_problem_schema(app: FastAPI) -> None:
    """Routes refer to the Problem schema by $ref; put it (and what it uses) in the components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            problem = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="serialization"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
