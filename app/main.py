"""Assemble the app: routers, error handlers, middleware, static files. Nothing else."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from app import errors
from app.middleware import BodyGuard, ConcurrencyLimit, SecurityHeaders
from app.routers import engine_api, explain, images, layers, meta, pages, training
from app.settings import SECURITY_HEADERS, settings


def body_limit(path: str, content_type: str) -> int:
    """Bytes a request body may have: by route, never by the type it declares (a JSON body
    declared multipart would otherwise get the upload's cap)."""
    return settings.max_multipart_bytes if path == "/api/images" else settings.max_json_bytes


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, added to the app as they are (each already carries its router's
    prefix, tags and responses). ``app.include_router`` would match them through a wrapper
    per included router and per route, which cost 35-50 us of every request here, a third
    of /api/health's time in the server; the OpenAPI document is the same either way
    (tests/api/test_endpoints.py checks that)."""
    app.router.routes.extend(router.routes)


def create_app() -> FastAPI:
    app = FastAPI(
        docs_url=None,  # served by pages.py from local files: FastAPI's page loads Swagger UI from a CDN
        redoc_url=None,
        title="backprop-viz",
        version=meta.VERSION,
        description="Forward, backward and update of a small CNN, every number as JSON, in the notation of the "
                    "seed tutorial (W1, b1, Z1, A1, P1, F, Z2, A2, dW1, ...).",
    )
    errors.install(app)
    routers = (meta, layers, engine_api, explain, images, training, pages)
    for router in (r.router for r in routers):
        add_routes(app, router)
    # Outermost last: headers go on every response, including the guard's own 413/408; the
    # guard wraps the in-flight limit, so a body still arriving holds no compute slot.
    app.add_middleware(ConcurrencyLimit, limit=settings.max_in_flight)
    app.add_middleware(BodyGuard, limit_for=body_limit, timeout_s=settings.body_timeout_s,
                       min_rate=settings.min_body_rate, grace_s=settings.body_rate_grace_s,
                       max_bodies=settings.max_bodies_in_progress)
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    return app


app = create_app()
