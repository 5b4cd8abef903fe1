"""The engine's JSON API: init, forward, backward, update, step, gradcheck, network check.
Each route reads its body into engine objects (app/compute.py), calls the engine once and
encodes the result (app/arrays.py). Stateless: everything travels in the request."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Response

from app import compute
from app.arrays import json_response, overflowed
from app.body import json_body, openapi_body
from app.errors import ApiError
from app.schemas import (
    SERVER_ERRORS,
    BackwardRequest,
    BackwardResponse,
    ErrorResponse,
    ForwardRequest,
    ForwardResponse,
    GradcheckRequest,
    GradcheckResponse,
    InitRequest,
    InitResponse,
    NetworkRequest,
    NetworkResponse,
    StepRequest,
    StepResponse,
    UpdateRequest,
    UpdateResponse,
)
from app.settings import settings
from engine import Network, backward, forward, init_params, sgd_update, train_step
from engine.gradcheck import EPS, gradcheck

router = APIRouter(prefix="/api", tags=["engine"])

ERRORS: dict[int | str, dict[str, Any]] = {
    **SERVER_ERRORS,
    422: {"model": ErrorResponse,
          "description": "A bad network, array, label or learning rate; `detail` says what and what is allowed."},
}


@router.post("/init", summary="Fresh parameters", response_model=InitResponse, responses=ERRORS,
             openapi_extra=openapi_body(InitRequest))
async def init(req: Annotated[InitRequest, Depends(json_body(InitRequest))]) -> Response:
    """Fresh parameters with PyTorch's default init (U(+-1/sqrt(fan_in))), seeded."""
    net = compute.network(req.network)
    return json_response({"network": net.spec, "params": init_params(net, req.seed)})


@router.post("/forward", summary="Forward pass", response_model=ForwardResponse, responses=ERRORS,
             openapi_extra=openapi_body(ForwardRequest))
async def forward_route(req: Annotated[ForwardRequest, Depends(json_body(ForwardRequest))]) -> Response:
    """Every activation of one forward pass, the max-pool masks, the prediction, and the loss if a label is given."""
    net, params, x, y = compute.request_example(req)
    rec = await compute.run(net, forward, net, params, x, y)
    return json_response(compute.record_body(rec))


def _forward_backward(net: Network, params: Any, x: Any, y: Any) -> Any:
    rec = forward(net, params, x, y)
    backward(rec)
    return rec


@router.post("/backward", summary="Forward and backward pass", response_model=BackwardResponse, responses=ERRORS,
             openapi_extra=openapi_body(BackwardRequest))
async def backward_route(req: Annotated[BackwardRequest, Depends(json_body(BackwardRequest))]) -> Response:
    """The forward fields plus `gradients`: dL/d(name) for every activation and parameter."""
    net, params, x, y = compute.request_example(req)
    rec = await compute.run(net, _forward_backward, net, params, x, y)
    body = compute.record_body(rec)
    return json_response(body, compute.display_only(body, net))


@router.post("/update", summary="SGD update", response_model=UpdateResponse, responses=ERRORS,
             openapi_extra=openapi_body(UpdateRequest))
async def update(req: Annotated[UpdateRequest, Depends(json_body(UpdateRequest))]) -> Response:
    """Plain SGD, the seed's rule: W <- W - learning_rate * dW for every parameter."""
    net = compute.network(req.network)
    params = compute.params(net, req.params, plain=req.plain_numbers)
    grads = compute.params(net, req.gradients, prefix="d", plain=req.plain_numbers)
    new = await compute.run(net, sgd_update, params, grads, req.learning_rate)
    return json_response({"params": new})


@router.post("/step", summary="One whole training iteration", response_model=StepResponse, responses=ERRORS,
             openapi_extra=openapi_body(StepRequest))
async def step(req: Annotated[StepRequest, Depends(json_body(StepRequest))]) -> Response:
    """One whole iteration: forward, backward, update, and the updated network's loss on the same example."""
    net, params, x, y = compute.request_example(req)
    result = await compute.run(net, train_step, net, params, x, y, req.learning_rate)
    body = compute.record_body(result.record)
    body.update(params=result.params, loss_after=result.loss_after, learning_rate=req.learning_rate)
    return json_response(body, compute.display_only(body, net))


def _gradcheck_and_loss(net: Network, params: Any, x: Any, y: Any, per_tensor: int) -> tuple[Any, float | None]:
    # One heavy job: a second one for the loss alone could be refused (503) after the check was done.
    rec = forward(net, params, x, y)
    # A forward pass that overflows makes both sides of the check meaningless (an infinite logit
    # has a zero gradient, so they would agree on zeros): the same 422 as /api/forward's.
    where = [f"activations.{k}" for k, a in rec.activations.items() if not np.isfinite(a).all()]
    if where:
        raise overflowed(where)
    return gradcheck(net, params, x, y, per_tensor), rec.loss


@router.post("/gradcheck", summary="Gradient check by finite differences", response_model=GradcheckResponse,
             responses=ERRORS, openapi_extra=openapi_body(GradcheckRequest))
async def gradcheck_route(req: Annotated[GradcheckRequest, Depends(json_body(GradcheckRequest))]) -> Response:
    """Central finite differences (float64, eps 1e-5) beside the analytic gradient for every parameter entry
    (at most `max_entries` per parameter, sampled with a fixed seed)."""
    net, params, x, y = compute.request_example(req)
    assert y is not None
    tensors = len(net.param_shapes)
    # Two forward passes per checked entry: bound the whole check's multiply-adds.
    per_tensor = min(req.max_entries, settings.gradcheck_macs // max(2 * tensors * net.macs, 1))
    if per_tensor < 1:
        raise ApiError(422, f"this network is too large to gradient-check here ({net.macs} multiply-adds per "
                            f"forward pass; at most {settings.gradcheck_macs // (2 * tensors)} are allowed)")
    checks, loss = await compute.run_heavy(_gradcheck_and_loss, net, params, x, y, per_tensor)
    body = {
        "eps": EPS,
        "loss": loss,
        "max_rel_error": max(c.max_rel_error for c in checks),
        "checks": [{"name": c.name, "index": [list(i) for i in c.index], "analytic": c.analytic.tolist(),
                    "numeric": c.numeric.tolist(), "rel_error": c.rel_error.tolist(),
                    "max_rel_error": c.max_rel_error, "entries_total": int(params[c.name].size)} for c in checks],
    }
    return json_response(body)


@router.post("/network", summary="Check a network spec", response_model=NetworkResponse, responses=ERRORS,
             openapi_extra=openapi_body(NetworkRequest))
async def network_check(req: Annotated[NetworkRequest, Depends(json_body(NetworkRequest))]) -> Response:
    """Check a network spec without running it: per-layer shapes and parameter counts, or a 422 saying what
    does not fit."""
    net = compute.network(req.network)
    return json_response({
        "network": net.spec, "layers": net.summary(), "shapes": {k: list(v) for k, v in net.shapes().items()},
        "param_shapes": {k: list(v) for k, v in net.param_shapes.items()}, "param_count": net.param_count,
        "macs": net.macs,
    })
