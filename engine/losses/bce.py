"""bce: binary cross-entropy from the logit z of one sigmoid output, as
torch.nn.functional.binary_cross_entropy_with_logits (mean over the batch).

    L = mean(log(1 + e^z) - y z) = mean(softplus((1 - 2y) z))
      = mean(max((1 - 2y) z, 0) + log1p(e^-|z|))        (exact: nothing cancels, for any z)
    dL/dZ = (a - y) / N,    dL/dA = (a - y) / (a (1 - a)) / N  (display only)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InputError, shown
from engine.losses._base import Array, Loss, label_array


class BCE(Loss):
    name = "bce"
    label = "sigmoid + binary cross-entropy"
    output_layer = "sigmoid"
    logits_layer = "dense"
    symbol = "BCE"
    units_text = "exactly 1"
    fixed_classes = 2

    def units_error(self, units: int) -> str | None:
        return None if units == 1 else f"bce needs exactly 1 output unit, the last dense layer has {units}"

    def classes(self, units: int) -> int:
        return self.fixed_classes

    def dataset_error(self, units: int, k: int, dataset: str) -> str | None:
        if k == 2:
            return None
        return (f"bce (one sigmoid output) needs exactly 2 classes; {dataset} has {k}: choose 2 "
                "with `classes` or use softmax + cross_entropy")

    def labels(self, y: Any, n: int, units: int) -> Array:
        if n == 1 and type(y) in (int, float) and y in (0, 1):  # one example's label, as the API sends it
            return np.array([float(y)])
        arr = label_array(y, n)
        if not ((arr == 0) | (arr == 1)).all():
            raise InputError(f"label must be 0 or 1 for the bce loss, got {shown(arr.tolist())}")
        return arr.astype(np.float64)

    def value(self, z: Array, y: Array) -> float:
        """z (N, 1), y (N,): the softplus form, exact to round-off for every logit."""
        # logaddexp(0, t) is this very max(t, 0) + log1p(e^-|t|) inside NumPy: one call, not five.
        return float(np.logaddexp(0.0, z[:, 0] * (1.0 - 2.0 * y)).sum()) / z.shape[0]

    def dz(self, a: Array, y: Array) -> Array:
        return (a - y.reshape(-1, 1)) / a.shape[0]

    def da(self, z: Array, y: Array) -> Array:
        """From the logits: y = 1 gives -1/a = -(1 + e^-z), y = 0 gives 1/(1 - a) = 1 + e^z;
        with s = 1 - 2y both are s (1 + e^(s z)), and no 0/0 at a = 1."""
        s = 1.0 - 2.0 * y.reshape(-1, 1)
        with np.errstate(over="ignore"):
            e = np.exp(s * z)
        return s * (1.0 + e) / z.shape[0]

    def onehot(self, y: float, idx: tuple[int, ...]) -> float:
        return float(y)

    def explain_value(self, ex: Any, idx: tuple[int, ...]) -> dict[str, Any]:
        logits = ex.net.layers[-2].out
        y = float(ex.labels[0])
        return ex.answer("L", idx, rf"L = \max((1 - 2Y)\, {logits},\, 0) + \log(1 + e^{{-|{logits}|}})",
                         "bce_logits", [{"factors": [ex.f(logits, (0,))], "value": ex.arrays[logits][0]},
                                        {"factors": [ex.const("Y", y)], "value": y}],
                         "Binary cross-entropy, -log of the probability given to the true label, computed from the "
                         "logit so it stays exact for confident predictions.",
                         how_text="binary cross-entropy of the logit (term 1) and the label (term 2)")

    def explain_da(self, ex: Any, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        out = ex.net.layers[-1].out
        y = float(ex.labels[0])
        return ex.answer(array, idx, rf"d{out} = \frac{{{out} - Y}}{{{out} (1 - {out})}} \cdot \frac{{1}}{{N}}",
                         "bce_output_grad", [{"factors": [ex.f(out, idx)], "value": ex.arrays[out][idx]},
                                             {"factors": [ex.const("Y", y)], "value": y}],
                         "The gradient of the loss with respect to the probability. Backprop never needs it: "
                         "the fused dZ skips it, and it blows up as the probability nears 0 or 1.",
                         how_text="(a - y) / (a (1 - a)) of a (term 1) and y (term 2)")

    def predicted(self, out: Array) -> Array:
        return (out[:, 0] >= 0.5).astype(np.int64)

    def probabilities(self, out: Array) -> list[float]:
        return [1.0 - float(out[0]), float(out[0])]


LOSS = BCE()
