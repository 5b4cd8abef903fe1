"""Health and limits: what a load balancer or a notebook asks before anything else."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.arrays import json_response
from app.schemas import HealthResponse
from app.settings import limits, settings

router = APIRouter(prefix="/api", tags=["meta"])

VERSION = "0.1.0"
LIMITS = {
    "max_input": [limits.MAX_CHANNELS, limits.MAX_INPUT_HW, limits.MAX_INPUT_HW],
    "max_params": limits.MAX_PARAMS,
    "max_layers": limits.MAX_LAYERS,
    "max_macs": limits.MAX_MACS,
    "max_json_bytes": settings.max_json_bytes,
    "max_upload_bytes": settings.max_upload_bytes,
    "max_learning_rate": settings.max_learning_rate,
}


@router.get("/health", response_model=HealthResponse)
async def health() -> Response:
    """Liveness, the version and the server's limits."""
    return json_response({"status": "ok", "version": VERSION, "limits": LIMITS})
