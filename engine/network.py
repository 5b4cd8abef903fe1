"""A whole network: init, forward (recording every array), backward (recording every
gradient), the SGD update and one full training step, over batches (N, C, H, W).

Names follow the seed: activations X, Z{k}, A{k}, P{k}, F; parameters W{k}, b{k};
gradients "d" + name. The :class:`Record` of a forward pass is the visualisation record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.layers import BACKWARD, FORWARD, pool_mask
from engine.losses import LOGIT_GRAD, OUTPUT_GRAD, loss_value
from engine.spec import Network, Shape

Array = np.ndarray
Params = dict[str, Array]


class InputError(ValueError):
    """An array or label that does not fit the network (the message names it and the shape)."""


@dataclass
class Record:
    """Everything one forward pass computed: activations by name (batch axis first), the
    per-layer caches, and the loss when labels were given."""

    net: Network
    activations: dict[str, Array]
    caches: list[dict[str, Any]]
    labels: Array | None = None
    loss: float | None = None
    gradients: dict[str, Array] = field(default_factory=dict)

    @property
    def output(self) -> Array:
        return self.activations[self.net.layers[-1].out]

    def masks(self) -> dict[str, Array]:
        """For each max-pool output P{k}: 1 where a window's max was taken in its input."""
        return {layer.out: pool_mask(cache) for layer, cache in zip(self.net.layers, self.caches)
                if layer.type == "maxpool2d"}

    def local_derivatives(self) -> dict[str, Array]:
        """The element-wise factors of the chain rule, named as the seed writes them:
        "dA2/dZ2" = a2 (1 - a2) for a sigmoid, "dA1/dZ1" = 1 where Z1 > 0 for a ReLU."""
        out: dict[str, Array] = {}
        below = "X"
        for layer in self.net.layers:
            if layer.type == "relu":
                out[f"d{layer.out}/d{below}"] = (self.activations[below] > 0).astype(np.float64)
            elif layer.type == "sigmoid":
                a = self.activations[layer.out]
                out[f"d{layer.out}/d{below}"] = a * (1.0 - a)
            below = layer.out
        return out

    def predicted_class(self) -> Array:
        out = self.output
        if self.net.loss == "bce":
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)


# ----------------------------------------------------------------------------- init
def init_params(net: Network, seed: int = 0) -> Params:
    """PyTorch's default init, seeded: weights kaiming-uniform with a = sqrt(5), which is
    U(-1/sqrt(fan_in), +1/sqrt(fan_in)), and biases from the same range."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for layer in net.layers:
        if not layer.params:
            continue
        wname, bname = layer.params
        wshape = net.param_shapes[wname]
        fan_in = int(np.prod(wshape[1:]))
        bound = 1.0 / np.sqrt(fan_in)
        params[wname] = rng.uniform(-bound, bound, size=wshape)
        params[bname] = rng.uniform(-bound, bound, size=net.param_shapes[bname])
    return params


# ----------------------------------------------------------------------------- checks
def fit_shape(name: str, value: Any, expected: Shape) -> Array:
    """``value`` as float64 of shape ``expected``. Singleton axes may be dropped or added when
    that is unambiguous (the seed writes W1 as 3x3 and b2 as 1x1), nothing else is reshaped."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == expected:
        return arr
    if arr.size == int(np.prod(expected)) and tuple(s for s in arr.shape if s != 1) == tuple(
            s for s in expected if s != 1):
        return arr.reshape(expected)
    raise InputError(f"{name} has shape {list(arr.shape)}, expected {list(expected)}")


def check_params(net: Network, params: dict[str, Any], prefix: str = "") -> Params:
    """Exactly the network's parameters, each in its layout; ``prefix`` "d" checks gradients."""
    want = [prefix + name for name in net.param_shapes]
    missing = [n for n in want if n not in params]
    extra = [n for n in params if n not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise InputError(f"{'gradients' if prefix else 'params'}: {', '.join(parts)}; "
                         f"this network has {want}")
    return {prefix + n: fit_shape(prefix + n, params[prefix + n], s) for n, s in net.param_shapes.items()}


def check_input(net: Network, x: Any) -> Array:
    """One example (C, H, W), or (H, W) when C = 1, or a batch (N, C, H, W) -> (N, C, H, W)."""
    arr = np.asarray(x, dtype=np.float64)
    c, h, w = net.input_shape
    if arr.ndim == 2 and c == 1 and arr.shape == (h, w):
        return arr.reshape(1, 1, h, w)
    if arr.ndim == 3 and arr.shape == (c, h, w):
        return arr[None]
    if arr.ndim == 4 and arr.shape[1:] == (c, h, w) and arr.shape[0] >= 1:
        return arr
    hint = f" or [{h}, {w}]" if c == 1 else ""
    raise InputError(f"input has shape {list(arr.shape)}, expected [{c}, {h}, {w}]{hint} for this network")


def check_labels(net: Network, y: Any, n: int) -> Array:
    """Labels for a batch of n: 0/1 for bce, a class index 0..U-1 for cross_entropy."""
    if n == 1 and type(y) in (int, float):  # one example's label, as the API sends it: no array work
        if net.loss == "bce" and y in (0, 1):
            return np.array([float(y)])
        if net.loss == "cross_entropy" and float(y).is_integer() and 0 <= y < net.output_units:
            return np.array([int(y)], dtype=np.int64)
    arr = np.atleast_1d(np.asarray(y))
    if arr.shape != (n,):
        raise InputError(f"label must be one value per example ({n}), got shape {list(arr.shape)}")
    if arr.dtype.kind not in "iuf":
        raise InputError("label must be a number")
    if net.loss == "bce":
        if not ((arr == 0) | (arr == 1)).all():
            raise InputError(f"label must be 0 or 1 for the bce loss, got {arr.tolist()}")
        return arr.astype(np.float64)
    units = net.output_units
    if not ((arr == np.floor(arr)) & (arr >= 0) & (arr < units)).all():
        raise InputError(f"label must be a class index from 0 to {units - 1} for cross_entropy, "
                         f"got {arr.tolist()}")
    return arr.astype(np.int64)


# ----------------------------------------------------------------------------- passes
def forward(net: Network, params: Params, x: Array, labels: Array | None = None) -> Record:
    """Run every layer on the batch x (N, C, H, W), recording each output; with labels, the loss."""
    acts: dict[str, Array] = {"X": x}
    caches = []
    for layer in net.layers:
        x, cache = FORWARD[layer.type](x, layer, params)
        acts[layer.out] = x
        caches.append(cache)
    rec = Record(net=net, activations=acts, caches=caches, labels=labels)
    if labels is not None:
        rec.loss = loss_value(net.loss, acts[net.layers[-2].out], labels)
    return rec


def backward(rec: Record, full: bool = True) -> dict[str, Array]:
    """Fill ``rec.gradients`` with dL/d(name) for every activation and parameter.

    The loss hands back dZ of the logits directly (A - Y over N, the seed's fused form);
    every layer below passes its dx down the chain. ``full`` also records what only the page
    shows: dA of the output (the seed's (a2 - y) / (a2 (1 - a2))) and dX; training skips both."""
    net = rec.net
    if rec.labels is None:
        raise InputError("backward needs a label")
    layers = net.layers
    logits = layers[-2].out
    dout = LOGIT_GRAD[net.loss](rec.output, rec.labels)
    grads = {"d" + logits: dout}
    if full:
        grads["d" + layers[-1].out] = OUTPUT_GRAD[net.loss](rec.activations[logits], rec.labels)
    for i in range(len(layers) - 2, -1, -1):
        layer = layers[i]
        dout, pgrads = BACKWARD[layer.type](dout, rec.caches[i], full or i > 0)
        for name, g in zip(layer.params, pgrads):
            grads["d" + name] = g
        if dout is not None:
            grads["d" + (layers[i - 1].out if i else "X")] = dout
    rec.gradients = grads
    return grads


def sgd_update(params: Params, grads: dict[str, Array], learning_rate: float) -> Params:
    """The seed's rule: W <- W - eta * dL/dW for every parameter."""
    return {name: p - learning_rate * grads["d" + name] for name, p in params.items()}


@dataclass
class Step:
    record: Record
    params: Params
    loss_after: float


def train_step(net: Network, params: Params, x: Array, labels: Array, learning_rate: float,
               full: bool = True) -> Step:
    """Forward, backward, update; then the loss of the updated network on the same batch."""
    rec = forward(net, params, x, labels)
    backward(rec, full=full)
    new = sgd_update(params, rec.gradients, learning_rate)
    after = forward(net, new, x, labels).loss
    assert after is not None
    return Step(record=rec, params=new, loss_after=after)
