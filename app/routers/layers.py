"""GET /api/layers: the engine's registry of layer types and losses, for the page's editor
and strip and for any client that builds specs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.arrays import encode
from engine.registry import describe

router = APIRouter(prefix="/api", tags=["meta"])

_BODY = encode(describe())  # the registry is fixed for the life of the process


@router.get("/layers", summary="Layer types and losses")
async def layer_types() -> Response:
    """Every layer type (its spec fields with defaults and bounds, output name prefix, parameters,
    formula, marks the page draws, a learner's description) and every loss with the output
    layer it needs."""
    return Response(_BODY, media_type="application/json")
