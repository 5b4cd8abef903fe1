"""Recompute a value from its explanation, as any client would (the README lists the ops)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Json = dict[str, Any]


def _values(expl: Json) -> list[float]:
    return [math.prod(f["value"] for f in t["factors"]) for t in expl["terms"]]


def recompute(expl: Json) -> float:
    op, v = expl["op"], _values(expl)
    if op == "sum":
        return math.fsum(v)
    if op == "max":
        return max(v)
    if op == "mean":
        return math.fsum(v) / len(v)
    if op == "sigmoid":
        return 1.0 / (1.0 + math.exp(-v[0])) if v[0] > -700 else math.exp(v[0])
    if op == "tanh":
        return math.tanh(v[0])
    if op == "softmax":
        z = np.array(v)
        e = np.exp(z - z.max())
        return float(e[expl["position"]] / e.sum())
    if op == "bce_logits":
        z, y = v
        return max((1 - 2 * y) * z, 0.0) + math.log1p(math.exp(-abs(z)))
    if op == "cross_entropy":
        z, y = np.array(v[:-1]), int(v[-1])
        m = z.max()
        return float(m + math.log(np.exp(z - m).sum()) - z[y])
    if op == "bce_output_grad":
        a, y = v
        return (a - y) / (a * (1 - a))
    if op == "ce_output_grad":
        a, y = v
        return -y / a
    if op == "given":
        return expl["value"]
    raise AssertionError(f"unknown op {op}")


def tolerance(expl: Json) -> float:
    return 1e-12 * max(abs(expl["value"]), math.fsum(abs(t) for t in _values(expl)), 1e-300)
