"""Assemble the app: routers, error handlers, middleware, static files. Nothing else."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import errors
from app.middleware import BodyGuard, ConcurrencyLimit, SecurityHeaders
from app.routers import engine_api, images, meta, pages, training
from app.settings import SECURITY_HEADERS, settings


def body_limit(path: str, content_type: str) -> int:
    if path == "/api/images" or content_type.startswith("multipart/"):
        return settings.max_multipart_bytes
    return settings.max_json_bytes


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
    app.include_router(meta.router)
    app.include_router(engine_api.router)
    app.include_router(images.router)
    app.include_router(training.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(pages.ROOT / "static")), name="static")
    app.mount("/vendor/swagger", StaticFiles(directory=str(pages.SWAGGER_UI)), name="swagger")
    # Outermost last: headers go on every response, including the guard's own 413/408.
    app.add_middleware(BodyGuard, limit_for=body_limit, timeout_s=settings.body_timeout_s)
    app.add_middleware(ConcurrencyLimit, limit=settings.max_in_flight)
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    return app


app = create_app()
