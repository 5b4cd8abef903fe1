"""cross_entropy: softmax cross-entropy from the logits z (U classes), as
torch.nn.functional.cross_entropy (mean over the batch).

    L = logsumexp(z) - z_y = (m - z_y) + log1p(sum over j != argmax of e^(z_j - m)),  m = max z
    (exact: where y is the argmax the first term is 0 and nothing cancels)
    dL/dZ = (a - onehot(y)) / N,    dL/dA = -1/a_y at the true class / N  (display only)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InputError, shown
from engine.losses._base import Array, Loss, label_array


def per_example(z: Array, y: Array) -> Array:
    """logsumexp(z) - z_y for each row, exactly (see the module docstring)."""
    rows = np.arange(z.shape[0])
    top = z.argmax(axis=1)
    m = z[rows, top]
    e = np.exp(z - m[:, None])
    e[rows, top] = 0.0
    return (m - z[rows, y]) + np.log1p(e.sum(axis=1))


class CrossEntropy(Loss):
    name = "cross_entropy"
    label = "softmax + cross-entropy"
    output_layer = "softmax"
    logits_layer = "dense"
    symbol = "CE"
    units_text = "at least 2"
    label_dtype = np.int64

    def units_error(self, units: int) -> str | None:
        return None if units >= 2 else "cross_entropy needs at least 2 output units (one per class)"

    def classes(self, units: int) -> int:
        return units

    def labels(self, y: Any, n: int, units: int) -> Array:
        if n == 1 and type(y) in (int, float) and abs(y) < 2 ** 53 and float(y).is_integer() and 0 <= y < units:
            return np.array([int(y)], dtype=np.int64)
        arr = label_array(y, n)
        if not ((arr == np.floor(arr)) & (arr >= 0) & (arr < units)).all():
            raise InputError(f"label must be a class index from 0 to {units - 1} for cross_entropy, "
                             f"got {shown(arr.tolist())}")
        return arr.astype(np.int64)

    def value(self, z: Array, y: Array) -> float:
        return float(per_example(z, y).sum()) / z.shape[0]

    def dz(self, a: Array, y: Array) -> Array:
        dz = a.copy()
        dz[np.arange(a.shape[0]), y] -= 1.0
        dz /= a.shape[0]
        return dz

    def da(self, z: Array, y: Array) -> Array:
        """-1/a_y = -e^(logsumexp(z) - z_y) = -e^L_i at the true class, 0 elsewhere."""
        n = z.shape[0]
        da = np.zeros_like(z)
        with np.errstate(over="ignore"):
            da[np.arange(n), y] = -np.exp(per_example(z, y)) / n
        return da

    def onehot(self, y: float, idx: tuple[int, ...]) -> float:
        return 1.0 if idx[0] == int(y) else 0.0

    def explain_value(self, ex: Any, idx: tuple[int, ...]) -> dict[str, Any]:
        logits = ex.net.layers[-2].out
        y = int(ex.labels[0])
        terms = [{"factors": [ex.f(logits, (v,))], "value": ex.arrays[logits][v]}
                 for v in range(ex.arrays[logits].shape[0])]
        terms.append({"factors": [ex.const("Y", y)], "value": float(y)})
        return ex.answer("L", idx, rf"L = \log \sum_v e^{{{logits}[v]}} - {logits}[Y]", "cross_entropy", terms,
                         "Cross-entropy, -log of the probability given to the true class, computed from the "
                         "logits so it stays exact for confident predictions.", position=y,
                         how_text="cross-entropy of the logits and the label (the last term)")

    def explain_da(self, ex: Any, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        out = ex.net.layers[-1].out
        onehot = self.onehot(ex.labels[0], idx)
        return ex.answer(array, idx, rf"d{out}[u] = -\frac{{Y[u]}}{{{out}[u]}} \cdot \frac{{1}}{{N}}",
                         "ce_output_grad", [{"factors": [ex.f(out, idx)], "value": ex.arrays[out][idx]},
                                            {"factors": [ex.const("Y", onehot)], "value": onehot}],
                         "The gradient of the loss with respect to a probability: only the true class's is not "
                         "zero. Backprop never needs it: the fused dZ skips it.",
                         how_text="-y / a of a (term 1) and y (term 2)")

    def predicted(self, out: Array) -> Array:
        return out.argmax(axis=1)

    def probabilities(self, out: Array) -> list[float]:
        return out


LOSS = CrossEntropy()
