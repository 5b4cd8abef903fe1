"""POST /api/explain: how one number of an iteration was computed. The engine explains
(engine/explain.py, per layer type); this route runs the step, asks it, and adds the rule as
MathML for the page (latex2mathml; the engine stays NumPy only)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from latex2mathml.converter import convert

from app import compute
from app.arrays import json_response
from app.body import json_body, openapi_body
from app.routers.engine_api import ERRORS
from app.schemas import ExplainRequest, ExplainResponse
from engine import Network, train_step
from engine.explain import Explainer

router = APIRouter(prefix="/api", tags=["engine"])


@lru_cache(maxsize=1024)
def mathml(latex: str) -> str:
    """The rule as MathML; rules depend on the layer and names, not the numbers, so few exist."""
    return convert(latex, display="block")


def _explain(net: Network, params: Any, x: Any, y: Any, lr: float, array: str, index: list[int]) -> dict[str, Any]:
    return Explainer(train_step(net, params, x, y, lr), params, lr).explain(array, index)


@router.post("/explain", summary="Explain one number", response_model=ExplainResponse, responses=ERRORS,
             openapi_extra=openapi_body(ExplainRequest))
async def explain(req: Annotated[ExplainRequest, Depends(json_body(ExplainRequest))]) -> Response:
    """`/api/step`'s body plus `array` and `index`: the rule that computed that entry, every term with its
    numbers and where each comes from, and a sentence for a learner. Recomputing the value from the terms
    gives the entry of `/api/step`'s answer for the same body."""
    net, params, x, y = compute.request_example(req)
    body = await compute.run(net, _explain, net, params, x, y, req.learning_rate, req.array, req.index)
    body["rule_mathml"] = mathml(body["rule"])
    if compute.shown_only(net, req.array) and not math.isfinite(body["value"]):  # as /api/step sends it
        body.update(value=None, not_representable=["value"])
    return json_response(body)
