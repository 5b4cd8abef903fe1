"""The app plus two routes for bench.py. ``POST /bench/floor`` is the least any /api/step can
do in this stack: it receives /api/step's benchmark body through the same server, middleware
and routing, parses it with the same parser, and sends back the bytes /api/step sent for it
(precomputed here), with no validation, no arrays and no engine work. ``POST /bench/engine``
adds only the engine's training step (forward, backward, update, the loss after) on arrays
read once at start-up. Their times over /api/health bound what the step's own work may cost.
``POST /bench/bare`` is the step itself with as little as possible around it: a plain
Starlette route (no FastAPI dependency solving), the arrays read by np.asarray without any
check, the engine's step, the same response body and encoder; it answers the step's very
bytes. Its time is the least this stack's /api/step could cost if nothing were validated.

Run by bench.py as ``uvicorn bench.floor_app:app``; never part of the served app.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
from fastapi import Request, Response
from starlette.routing import Route

from app import compute
from app.arrays import encode
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


async def bare(request: Request) -> Response:
    data, _ = parse(await request.body())
    net = compute.DEFAULT_NETWORK
    params = {name: np.asarray(data["params"][name], dtype=np.float64).reshape(shape)
              for name, shape in net.param_shapes.items()}
    x = np.asarray(data["input"], dtype=np.float64).reshape(1, *net.input_shape)
    with np.errstate(over="ignore", invalid="ignore"):
        result = train_step(net, params, x, np.array([float(data["label"])]), data["learning_rate"])
    body = compute.record_body(result.record)
    body.update(params=result.params, loss_after=result.loss_after, learning_rate=data["learning_rate"])
    return Response(encode(body, compute.display_only(body, net)), media_type="application/json")


for _path, _endpoint in (("/bench/floor", floor), ("/bench/engine", engine_only)):
    app.add_api_route(_path, _endpoint, methods=["POST"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # matched first: the cheapest routing there is
app.router.routes.insert(0, Route("/bench/bare", bare, methods=["POST"]))
