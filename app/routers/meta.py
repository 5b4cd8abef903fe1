"""Health and limits: what a load balancer or a notebook asks before anything else."""

from __future__ import annotations

import importlib.metadata

from fastapi import APIRouter, Response

from app.arrays import json_response
from app.schemas import HealthResponse
from app.settings import settings

router = APIRouter(prefix="/api", tags=["meta"])

def _version() -> str:
    try:
        return importlib.metadata.version("backprop-viz")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "0+unknown"


VERSION = _version()
LIMITS = settings.page_limits()


@router.get("/health", response_model=HealthResponse)
async def health() -> Response:
    """Liveness, the version and the server's limits."""
    return json_response({"status": "ok", "version": VERSION, "limits": LIMITS})
