"""Central finite differences in float64: the check that the chain rule was applied right.

For each parameter entry, (L(p + eps) - L(p - eps)) / (2 eps) beside the analytic gradient,
with the relative error |a - n| / max(|a| + |n|, floor). The floor keeps entries whose
gradient is truly zero (a dead ReLU, a pool cell that lost) from dividing noise by noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.network import Params, backward, forward
from engine.spec import Network

Array = np.ndarray

EPS = 1e-5
FLOOR = 1e-8


@dataclass
class Check:
    name: str
    index: list[tuple[int, ...]]
    analytic: Array
    numeric: Array
    rel_error: Array

    @property
    def max_rel_error(self) -> float:
        return float(self.rel_error.max()) if self.rel_error.size else 0.0


def rel_error(a: Array, n: Array, floor: float = FLOOR) -> Array:
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def numeric_gradient(loss: callable, arr: Array, indices: list[tuple[int, ...]], eps: float = EPS) -> Array:
    """dL/d arr[i] by central differences for each index i; ``arr`` is perturbed in place and restored."""
    out = np.empty(len(indices))
    for j, i in enumerate(indices):
        old = arr[i]
        arr[i] = old + eps
        plus = loss()
        arr[i] = old - eps
        minus = loss()
        arr[i] = old
        out[j] = (plus - minus) / (2 * eps)
    return out


def gradcheck(net: Network, params: Params, x: Array, labels: Array, max_entries: int | None = None,
              seed: int = 0, eps: float = EPS) -> list[Check]:
    """Analytic vs numeric gradients for every parameter. With ``max_entries``, each parameter
    is checked on at most that many entries, drawn with ``seed`` (a big net has too many)."""
    work = {k: v.copy() for k, v in params.items()}
    rec = forward(net, work, x, labels)
    grads = backward(rec, full=False)
    rng = np.random.default_rng(seed)

    def loss() -> float:
        value = forward(net, work, x, labels).loss
        assert value is not None
        return value

    checks = []
    for name, arr in work.items():
        flat = np.arange(arr.size)
        if max_entries is not None and arr.size > max_entries:
            flat = np.sort(rng.choice(arr.size, size=max_entries, replace=False))
        indices = [tuple(int(v) for v in np.unravel_index(f, arr.shape)) for f in flat]
        numeric = numeric_gradient(loss, arr, indices, eps)
        analytic = np.array([grads["d" + name][i] for i in indices])
        checks.append(Check(name, indices, analytic, numeric, rel_error(analytic, numeric)))
    return checks
