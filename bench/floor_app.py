"""The app plus two routes for bench.py. ``POST /bench/floor`` is the least any /api/step can
do in this stack: it receives /api/step's benchmark body through the same server, middleware
and routing, parses it with the same parser, and sends back the bytes /api/step sent for it
(precomputed here), with no validation, no arrays and no engine work. ``POST /bench/engine``
adds only the engine's training step (forward, backward, update, the loss after) on arrays
read once at start-up. Their times over /api/health bound what the step's own work may cost.

Run by bench.py as ``uvicorn bench.floor_app:app``; never part of the served app.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import Request, Response

from app import compute
from app.body import parse
from app.main import app
from app.schemas import StepRequest
from bench.bench import step_body
from engine import train_step

__all__ = ["app"]


async def _step_response(body: bytes) -> bytes:
    """What /api/step answers ``body``, through the ASGI app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        response = await client.post("/api/step", content=body, headers={"content-type": "application/json"})
    response.raise_for_status()
    return response.content


BODY = step_body()
STEP_RESPONSE = asyncio.run(_step_response(BODY))
EXAMPLE = compute.request_example(StepRequest.model_validate(json.loads(BODY)))


async def floor(request: Request) -> Response:
    parse(await request.body())
    return Response(STEP_RESPONSE, media_type="application/json")


async def engine_only(request: Request) -> Response:
    parse(await request.body())
    train_step(*EXAMPLE, 0.1)
    return Response(STEP_RESPONSE, media_type="application/json")


for _path, _endpoint in (("/bench/floor", floor), ("/bench/engine", engine_only)):
    app.add_api_route(_path, _endpoint, methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # matched first: the cheapest routing there is
