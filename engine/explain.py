"""Explain any number of one training iteration: the rule that made it, every term with its
numbers, and where each term comes from (an entry of another array, or a named constant).

``Explainer(step, params, learning_rate).explain(array, index)`` answers for an activation
(X, Z1, A1, P1, F, ...), a gradient (dZ1, dW1, dX, ...), a local derivative (dA1/dZ1), the
loss L, a parameter (W1: given) or an updated one (W1_new). A layer's output and gradients
are explained by its type (``explain_forward``, ``explain_backward`` beside its forward and
backward in engine/layers/), the loss and the logits' gradient by the loss (engine/losses/),
the update here. Every factor's value is the entry of the step's arrays it names, so a
client recomputes each value from the terms (the ops are listed in the README).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import InputError, shown
from engine.layers._explain import term
from engine.network import Params, Step

Array = np.ndarray
Json = dict[str, Any]


# How the generic ops make the value from the terms, in words (the page prints it before the
# result); a function op (sigmoid, a loss, ...) says it in its own answer.
HOW = {"sum": "the sum of the {n} terms", "max": "the largest of the {n} terms", "mean": "the mean of the {n} terms",
       "given": "given"}


def how(op: str, n: int) -> str:
    if op == "sum" and n == 0:
        return "no terms: the sum is 0"
    return HOW[op].format(n=n).replace("the 1 terms", "the 1 term")


class Explainer:
    """One iteration's arrays by the API's names, one example (batch axis dropped), and what
    explains each name."""

    def __init__(self, step: Step, params: Params, learning_rate: float) -> None:
        rec = step.record
        net = rec.net
        self.net = net
        self.learning_rate = learning_rate
        self.labels = rec.labels
        self.loss = rec.loss
        arrays: dict[str, Array] = dict(params)
        arrays.update({k: v[0] for k, v in rec.activations.items()})
        arrays.update({k: (g if k[1:] in net.param_shapes else g[0]) for k, g in rec.gradients.items()})
        arrays.update({k: v[0] for k, v in rec.local_derivatives().items()})
        arrays.update({f"{k}_new": v for k, v in step.params.items()})
        self.arrays = arrays
        self.producers = self._producers()

    def _producers(self) -> dict[str, tuple[str, Any]]:
        layers = self.net.layers
        out: dict[str, tuple[str, Any]] = {"X": ("given", None), "L": ("loss", None)}
        below = "X"
        for i, layer in enumerate(layers):
            out[layer.out] = ("forward", layer)
            if f"d{layer.out}/d{below}" in self.arrays:  # element-wise layers only
                out[f"d{layer.out}/d{below}"] = ("local", layer)
            for name, role in zip(layer.params, layer.kind.param_roles):
                out[name] = ("given", None)
                out[f"{name}_new"] = ("update", name)
                out["d" + name] = ("backward", (layer, role))
            if i < len(layers) - 1:  # the output layer's input is the logits: the loss fuses it
                out["d" + below] = ("backward", (layer, "input"))
            below = layer.out
        out["d" + layers[-2].out] = ("logit_grad", None)
        out["d" + layers[-1].out] = ("output_grad", None)
        return out

    # ------------------------------------------------------------------ factors
    def f(self, array: str, index: tuple[int, ...] | list[int]) -> Json:
        """A factor that is an entry of an array."""
        idx = tuple(int(i) for i in index)
        return {"array": array, "index": list(idx), "value": float(self.arrays[array][idx])}

    @staticmethod
    def const(label: str, value: float) -> Json:
        return {"array": None, "label": label, "value": float(value)}

    @staticmethod
    def pad(array: str, index: tuple[int, ...] | list[int]) -> Json:
        """A padding cell: outside the array it pads, value 0."""
        return {"array": array, "index": [int(i) for i in index], "value": 0.0, "padding": True}

    def answer(self, array: str, index: tuple[int, ...], rule: str, op: str, terms: list[Json], note: str,
               how_text: str | None = None, **extra: Any) -> Json:
        value = self.loss if array == "L" else self.arrays[array][index]
        return {"array": array, "index": list(index), "value": float(value), "rule": rule, "op": op,
                "how": how_text or how(op, len(terms)), "terms": terms, "note": note, **extra}

    # ------------------------------------------------------------------ dispatch
    def explain(self, array: Any, index: Any) -> Json:
        """The explanation of ``array[index]``; InputError for an unknown name or a bad index."""
        if not isinstance(array, str) or array not in self.producers:
            names = ", ".join(n for n in self.producers if "/" not in n)
            raise InputError(f"array {shown(array)} is not one of this iteration's arrays: {names} "
                             "(or a local derivative such as dA1/dZ1)")
        idx = self._index(array, index)
        kind, what = self.producers[array]
        if kind == "forward":
            return what.kind.explain_forward(self, what, idx)
        if kind == "backward":
            layer, role = what
            return layer.kind.explain_backward(self, layer, role, idx)
        if kind == "local":
            return what.kind.explain_local(self, what, array, idx)
        if kind == "loss":
            return self.net.loss_kind.explain_value(self, idx)
        if kind == "logit_grad":
            return self.net.loss_kind.explain_dz(self, array, idx)
        if kind == "output_grad":
            return self.net.loss_kind.explain_da(self, array, idx)
        if kind == "update":
            return self._update(array, idx, what)
        return self._given(array, idx)

    def _index(self, array: str, index: Any) -> tuple[int, ...]:
        shape = () if array == "L" else self.arrays[array].shape
        ok = isinstance(index, list) and len(index) == len(shape) and all(
            type(i) is int and 0 <= i < s for i, s in zip(index, shape))
        if not ok:
            raise InputError(f"index must be a list of {len(shape)} integers within {array}'s shape "
                             f"{list(shape)}, got {shown(index)}")
        return tuple(index)

    def _given(self, array: str, idx: tuple[int, ...]) -> Json:
        what = "the input" if array == "X" else "a parameter"
        return self.answer(array, idx, f"\\text{{{array} is {what}, given}}", "given", [],
                           f"{array} is {what}: this iteration does not compute it, it starts from it.")

    def _update(self, array: str, idx: tuple[int, ...], param: str) -> Json:
        terms = [term(self.f(param, idx)), term(self.const("-eta", -self.learning_rate), self.f("d" + param, idx))]
        return self.answer(array, idx, f"{param}^{{new}} = {param} - \\eta \\, d{param}", "sum", terms,
                           "Gradient descent: each parameter takes a step of size eta against its gradient, "
                           "the direction in which the loss falls fastest.")

    # ------------------------------------------------------------------ helpers the types share
    def gate_backward(self, layer: Any, below: str, idx: tuple[int, ...], why: str) -> Json:
        """dZ = dA x local for an element-wise layer (one term)."""
        local = f"d{layer.out}/d{below}"
        rule = f"d{below}[\\ldots] = d{layer.out}[\\ldots] \\cdot \\frac{{\\partial {layer.out}}}{{\\partial {below}}}"
        return self.answer("d" + below, idx, rule, "sum", [term(self.f("d" + layer.out, idx), self.f(local, idx))],
                           why)

    def below(self, layer: Any) -> str:
        """The name of a layer's input array."""
        return self.net.layers[layer.index - 1].out if layer.index else "X"
