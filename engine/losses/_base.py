"""What a loss is: computed from the logits (the output layer's input) and the labels, it
names the output layer it needs, checks the labels and output units, and gives the fused
gradient of the logits and the display-only gradient of the output probabilities."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.errors import InputError

Array = np.ndarray


class Loss:
    name: ClassVar[str]
    label: ClassVar[str]
    output_layer: ClassVar[str]  # the layer type the network must end with
    logits_layer: ClassVar[str]  # the layer type that must feed it
    symbol: ClassVar[str]  # "BCE", "CE": the page's L = BCE(A, Y)
    units_text: ClassVar[str]  # "exactly 1", "at least 2"
    fixed_classes: ClassVar[int | None] = None  # bce: 2 whatever the units; None: one class per unit
    label_dtype: ClassVar[type] = np.float64

    def units_error(self, units: int) -> str | None:
        """Why ``units`` output units do not fit this loss, or None."""
        raise NotImplementedError

    def classes(self, units: int) -> int:
        """How many classes a network with ``units`` outputs tells apart."""
        raise NotImplementedError

    def dataset_error(self, units: int, k: int, dataset: str) -> str | None:
        """Why a dataset of k classes does not fit a network with ``units`` outputs, or None."""
        if self.classes(units) == k:
            return None
        return f"the network has {units} outputs but {dataset} has {k} classes"

    def labels(self, y: Any, n: int, units: int) -> Array:
        """Labels for a batch of n, checked; InputError says what is allowed."""
        raise NotImplementedError

    def value(self, z: Array, y: Array) -> float:
        """The batch-mean loss from the logits z (N, U)."""
        raise NotImplementedError

    def dz(self, a: Array, y: Array) -> Array:
        """dL/dZ of the logits, fused through the output layer: (A - onehot(Y)) / N."""
        raise NotImplementedError

    def da(self, z: Array, y: Array) -> Array:
        """dL/dA of the output probabilities (display only; may overflow to inf)."""
        raise NotImplementedError

    def predicted(self, out: Array) -> Array:
        raise NotImplementedError

    def probabilities(self, out: Array) -> list[float]:
        """One example's class probabilities from its output row."""
        raise NotImplementedError

    # Explanations (engine/explain.py): the loss from the logits and the label, the fused
    # gradient of the logits, and the display-only gradient of the output.
    def explain_value(self, ex: Any, idx: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError

    def explain_dz(self, ex: Any, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        """dZ[u] = (A[u] - onehot(Y)[u]) / N, the same for every loss here."""
        net = ex.net
        out, logits = net.layers[-1].out, net.layers[-2].out
        onehot = self.onehot(ex.labels[0], idx)
        n = ex.const("1/N", 1.0)
        terms = [{"factors": [ex.f(out, idx), n], "value": ex.arrays[out][idx]},
                 {"factors": [ex.const("-Y", -onehot), n], "value": -onehot}]
        return ex.answer(array, idx, rf"d{logits}[u] = \frac{{{out}[u] - Y[u]}}{{N}}", "sum", terms,
                         f"The loss and the {self.output_layer} fuse into this simple gradient: the predicted "
                         "probability minus the target (1 for the true class, 0 otherwise), over the batch size.")

    def onehot(self, y: float, idx: tuple[int, ...]) -> float:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "output_layer": self.output_layer,
                "logits_layer": self.logits_layer, "formula": f"L = {self.symbol}({{out}}, Y)",
                "output_units": self.units_text, "classes": self.fixed_classes}


def label_array(y: Any, n: int) -> Array:
    """Labels as a numeric array of n, or InputError (also for numbers beyond float64)."""
    try:
        arr = np.atleast_1d(np.asarray(y))
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise InputError("label must be a number, or one number per example") from None
    if arr.shape != (n,):
        raise InputError(f"label must be one value per example ({n}), got shape {list(arr.shape)}")
    if arr.dtype.kind not in "iuf" and arr.dtype.kind != "O":
        raise InputError("label must be a number")
    if arr.dtype.kind == "O":  # integers beyond int64
        raise InputError("label must be a number within float64's range")
    return arr
