"""A whole network: init, forward (recording every array), backward (recording every
gradient), the SGD update and one full training step, over batches (N, C, H, W).

Names follow the seed: activations X, Z{k}, A{k}, P{k}, F; parameters W{k}, b{k};
gradients "d" + name. The :class:`Record` of a forward pass is the visualisation record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.spec import Network, Shape

Array = np.ndarray
Params = dict[str, Array]
__all__ = ["InputError", "Record", "Step", "backward", "check_input", "check_labels", "check_params", "forward",
           "init_params", "loss", "sgd_update", "train_step"]


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
        """For each layer that records winners (max-pool), by its output's name: 1 where a
        window's max was taken in its input."""
        out = {}
        for layer, cache in zip(self.net.layers, self.caches):
            mask = layer.kind.mask(cache)
            if mask is not None:
                out[layer.out] = mask
        return out

    def local_derivatives(self) -> dict[str, Array]:
        """The element-wise factors of the chain rule, named as the seed writes them:
        "dA2/dZ2" = a2 (1 - a2) for a sigmoid, "dA1/dZ1" = 1 where Z1 > 0 for a ReLU."""
        out: dict[str, Array] = {}
        below = "X"
        for layer in self.net.layers:
            local = layer.kind.local(self.activations[below], self.activations[layer.out], layer)
            if local is not None:
                out[f"d{layer.out}/d{below}"] = local
            below = layer.out
        return out

    def predicted_class(self) -> Array:
        return self.net.loss_kind.predicted(self.output)


# ----------------------------------------------------------------------------- init
def init_params(net: Network, seed: int = 0) -> Params:
    """Every layer's parameters by its type's init (PyTorch's default for conv2d and dense), seeded."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for layer in net.layers:
        if layer.params:
            roles = layer.kind.param_roles
            drawn = layer.kind.init(dict(zip(roles, layer.param_shapes)), rng)
            params.update({name: drawn[role] for name, role in zip(layer.params, roles)})
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
    if params.keys() != set(want):
        missing = [n for n in want if n not in params]
        extra = [n for n in params if n not in want]
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
    """Labels for a batch of n, as the network's loss reads them (0/1 for bce, a class index
    0..U-1 for cross_entropy)."""
    return net.loss_kind.labels(y, n, net.output_units)


# ----------------------------------------------------------------------------- passes
def forward(net: Network, params: Params, x: Array, labels: Array | None = None) -> Record:
    """Run every layer on the batch x (N, C, H, W), recording each output; with labels, the loss."""
    acts: dict[str, Array] = {"X": x}
    caches = []
    for layer in net.layers:
        x, cache = layer.kind.forward(x, layer, params)
        acts[layer.out] = x
        caches.append(cache)
    rec = Record(net=net, activations=acts, caches=caches, labels=labels)
    if labels is not None:
        rec.loss = net.loss_kind.value(acts[net.layers[-2].out], labels)
    return rec


def loss(net: Network, params: Params, x: Array, labels: Array) -> float:
    """The loss alone: the layers up to the logits, nothing recorded (the loss is computed from
    the logits, so the output layer itself is not run)."""
    for layer in net.layers[:-1]:
        x, _ = layer.kind.forward(x, layer, params)
    return net.loss_kind.value(x, labels)


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
    loss = net.loss_kind
    dout = loss.dz(rec.output, rec.labels)
    grads = {"d" + logits: dout}
    if full:
        grads["d" + layers[-1].out] = loss.da(rec.activations[logits], rec.labels)
    for i in range(len(layers) - 2, -1, -1):
        layer = layers[i]
        dout, pgrads = layer.kind.backward(dout, rec.caches[i], full or i > 0)
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
    return Step(record=rec, params=new, loss_after=loss(net, new, x, labels))
