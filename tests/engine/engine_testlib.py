"""Helpers shared by the engine tests (imported as a plain module: pytest's default "prepend"
import mode puts this rootless test directory on sys.path).

They build layers and networks from small specs, draw inputs that stay clear of the ReLU and
max-pool kinks (where finite differences are meaningless), and take finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine import Network, Record, forward, init_params, read_spec
from engine.gradcheck import FLOOR, numeric_gradient, rel_error
from engine.spec import Layer

Array = np.ndarray

# Networks the training tests of both layers (engine and API) use.
TWO_BLOCK_SPEC: dict[str, Any] = {  # the page's two-block preset
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"},
    ],
    "loss": "cross_entropy",
}

# No activation between the dense layers: a linear stack whose weights feed each other's
# gradients, so at learning rate 100 (the API's maximum) plain SGD blows up within a few steps.
LINEAR_STACK_SPEC: dict[str, Any] = {
    "input_shape": [1, 6, 6],
    "layers": [{"type": "flatten"}, {"type": "dense", "units": 16}, {"type": "dense", "units": 16},
               {"type": "dense", "units": 1}, {"type": "sigmoid"}],
    "loss": "bce",
}

# The bar for every finite-difference comparison: relative error (engine.gradcheck.rel_error).
TOL = 1e-7
# Finite-difference steps. Central differences D(h) carry an O(h^2) truncation error and an
# O(ulp(L) / h) round-off error; at the engine's default h = 1e-5 the round-off alone is
# ~1e-11 absolute, too coarse for 1e-7 relative on gradient entries of 1e-4. Richardson
# extrapolation (4 D(h) - D(2h)) / 3 cancels the h^2 term, so a 10-100x larger h can be used.
H_LAYER = 1e-3  # single layers: inputs are kept >= 0.05 away from every ReLU / max-pool kink
H_NET = 1e-4  # whole networks: see KINK_MARGIN
# Whole networks: how far every ReLU input and every pool window's top-two gap must stay from
# a kink. The widest perturbation is 2 * H_NET = 2e-4 in one entry; 10x that leaves room
# for the entry's influence on a pre-activation being a few times larger than 1.
KINK_MARGIN = 2e-3


def spec_layer(kind: str, **fields: Any) -> dict[str, Any]:
    """One layer of a spec, e.g. spec_layer("conv2d", filters=2, kernel_size=[2, 3])."""
    return {"type": kind, **fields}


def spec(input_shape: list[int], layers: list[dict[str, Any]], loss: str = "bce") -> dict[str, Any]:
    return {"input_shape": input_shape, "layers": layers, "loss": loss}


def conv(filters: int, kernel: Any, stride: Any = 1, padding: Any = 0) -> dict[str, Any]:
    return spec_layer("conv2d", filters=filters, kernel_size=kernel, stride=stride, padding=padding)


def pool(kernel: Any, stride: Any = None) -> dict[str, Any]:
    return spec_layer("maxpool2d", kernel_size=kernel) if stride is None else \
        spec_layer("maxpool2d", kernel_size=kernel, stride=stride)


def dense(units: int) -> dict[str, Any]:
    return spec_layer("dense", units=units)


RELU, SIGMOID, SOFTMAX, FLATTEN = (spec_layer(k) for k in ("relu", "sigmoid", "softmax", "flatten"))

# Networks beyond the seed, with their batch size: (spec, N). Shared by the finite-difference
# and the PyTorch cross-check tests.
NETWORK_CASES: dict[str, tuple[dict[str, Any], int]] = {
    # the seed's network on a batch: the loss is the batch mean
    "seed_batch4": (spec([1, 6, 6], [conv(1, 3), RELU, pool(2), FLATTEN, dense(1), SIGMOID]), 4),
    # two conv blocks, multi-channel, padding 1 then a non-square kernel with padding [1, 0]
    "two_conv_blocks": (spec([2, 10, 10], [conv(3, 3, 1, 1), RELU, pool(2), conv(2, [2, 3], 1, [1, 0]), RELU,
                                           pool(2, 1), FLATTEN, dense(1), SIGMOID]), 2),
    # stride 2 + padding [2, 1], overlapping pool 3/2, a hidden dense+ReLU, softmax over 3 classes
    "stride_pad_softmax3": (spec([3, 9, 8], [conv(4, [3, 2], 2, [2, 1]), RELU, pool(3, 2), FLATTEN, dense(5), RELU,
                                             dense(3), SOFTMAX], "cross_entropy"), 3),
    # softmax over 10 classes
    "softmax10": (spec([1, 8, 8], [conv(2, 3), RELU, pool(2), FLATTEN, dense(10), SOFTMAX], "cross_entropy"), 5),
    # sigmoid as an intermediate activation (after a conv and after a hidden dense), overlapping
    # pool 2/1, a second conv with padding 2 and stride 2
    "intermediate_sigmoid": (spec([2, 7, 7], [conv(3, 2), SIGMOID, pool(2, 1), conv(2, 3, 2, 2), RELU, FLATTEN,
                                              dense(4), SIGMOID, dense(1), SIGMOID]), 3),
    # no pooling at all; 7 classes; batch of 2
    "no_pool_softmax7": (spec([3, 5, 6], [conv(2, [2, 2], [1, 2]), RELU, FLATTEN, dense(7), SOFTMAX],
                              "cross_entropy"), 2),
}


# One small network per layer type of the registry (one line each): the finite-difference
# and PyTorch checks run over every one, and tests/engine/test_registry.py fails for a
# registered type without a line here.
TYPE_CASES: dict[str, tuple[dict[str, Any], int]] = {
    "conv2d": NETWORK_CASES["two_conv_blocks"],
    "maxpool2d": NETWORK_CASES["stride_pad_softmax3"],
    "dense": NETWORK_CASES["seed_batch4"],
    "flatten": NETWORK_CASES["seed_batch4"],
    "relu": NETWORK_CASES["two_conv_blocks"],
    "sigmoid": NETWORK_CASES["intermediate_sigmoid"],
    "softmax": NETWORK_CASES["softmax10"],
    "avgpool2d": (spec([2, 7, 7], [conv(3, 2), RELU, {"type": "avgpool2d", "kernel_size": 3, "stride": 2}, FLATTEN,
                                   dense(3), SOFTMAX], "cross_entropy"), 3),
    "tanh": (spec([1, 6, 6], [conv(2, 3), {"type": "tanh"}, pool(2), FLATTEN, dense(3), {"type": "tanh"},
                              dense(1), SIGMOID]), 3),
    "leaky_relu": (spec([2, 6, 6], [conv(3, 3, 1, 1), {"type": "leaky_relu", "negative_slope": 0.2}, pool(2), FLATTEN,
                                    dense(4), {"type": "leaky_relu"}, dense(1), SIGMOID]), 3),
}


def bce_head(flat: bool = False) -> list[dict[str, Any]]:
    """[flatten ->] dense(1) -> sigmoid: the seed's head, closing off a layer under test into a
    valid spec; ``flat`` when the input is already flat (no flatten)."""
    head: list[dict[str, Any]] = [] if flat else [{"type": "flatten"}]
    return head + [{"type": "dense", "units": 1}, {"type": "sigmoid"}]


def net_of(input_shape: tuple[int, int, int], layers: list[dict[str, Any]], loss: str = "bce") -> Network:
    return read_spec({"input_shape": list(input_shape), "layers": layers, "loss": loss})


def layer_of(input_shape: tuple[int, int, int], layers: list[dict[str, Any]], index: int,
             loss: str = "bce") -> Layer:
    """The read :class:`Layer` at ``index`` of a small valid spec (so its shapes come from read_spec)."""
    return net_of(input_shape, layers, loss).layers[index]


def richardson(d_h: Array, d_2h: Array) -> Array:
    """Combine central differences at steps h and 2h into one with an O(h^4) error."""
    return (4.0 * d_h - d_2h) / 3.0


def numeric_grad(loss: Callable[[], float], arr: Array, h: float) -> Array:
    """dloss/darr for every entry of ``arr``: engine.gradcheck's central differences at h and
    2h, Richardson-extrapolated (``arr`` is perturbed in place and restored)."""
    indices = list(np.ndindex(arr.shape))
    d_h = numeric_gradient(loss, arr, indices, h)
    d_2h = numeric_gradient(loss, arr, indices, 2 * h)
    return richardson(d_h, d_2h).reshape(arr.shape)


def max_rel_error(analytic: Array, numeric: Array, floor: float = FLOOR) -> float:
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    return float(rel_error(analytic, numeric, floor).max()) if analytic.size else 0.0


def window_view(v: Array, kernel: tuple[int, int], stride: tuple[int, int]) -> Array:
    """(N, C, H, W) -> (N, C, Ho, Wo, kh, kw): every pooling window, cells in row-major order."""
    return sliding_window_view(v, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def kink_distance(rec: Record) -> float:
    """How close the recorded pass is to a point where the loss is not differentiable: the
    smallest |input| of a gate (ReLU, leaky ReLU) and the smallest gap between a pool window's two largest values.
    Windows whose top two are both exact zeros are dead ReLU cells; those stay zero under a
    small perturbation (the ReLU margin guarantees it), so they are not kinks."""
    dist = np.inf
    names = rec.net.activation_names
    for i, layer in enumerate(rec.net.layers):
        v = rec.activations[names[i]]
        if "gate" in layer.kind.marks:  # a gate (ReLU, leaky ReLU) bends at 0
            dist = min(dist, float(np.abs(v).min()))
        elif layer.type == "maxpool2d" and layer.kernel[0] * layer.kernel[1] > 1:
            win = window_view(v, layer.kernel, layer.stride)
            top = np.sort(win.reshape(*win.shape[:4], -1), axis=-1)[..., -2:]
            gap = top[..., 1] - top[..., 0]
            live = ~((top[..., 0] == 0.0) & (top[..., 1] == 0.0))
            if live.any():
                dist = min(dist, float(gap[live].min()))
    return dist


def all_relus_alive(rec: Record) -> bool:
    """Every ReLU layer passes something for every example."""
    n = rec.activations["X"].shape[0]
    return all(bool((rec.activations[layer.out].reshape(n, -1) > 0).any(axis=1).all())
               for layer in rec.net.layers if layer.type == "relu")


def labels_for(net: Network, n: int, rng: np.random.Generator) -> Array:
    if net.loss == "bce":
        return rng.integers(0, 2, size=n).astype(np.float64)
    return rng.integers(0, net.output_units, size=n)


def draw_case(net: Network, n: int, seed: int, labels: Array | None = None,
              scale: float = 1.0) -> tuple[dict[str, Array], Array, Array]:
    """Params (the engine's init), a batch x (N(0, scale^2)) and labels (random unless given)
    whose forward pass is more than KINK_MARGIN from every kink and where no ReLU layer is
    dead for any example (which would make its gradients below trivially zero). Redraws
    deterministically from ``seed``; fails loudly if no such draw is found."""
    rng = np.random.default_rng(seed)
    for attempt in range(500):
        params = init_params(net, seed=seed * 1000 + attempt)
        x = scale * rng.standard_normal((n, *net.input_shape))
        y = labels_for(net, n, rng) if labels is None else labels
        rec = forward(net, params, x, y)
        if kink_distance(rec) > KINK_MARGIN and all_relus_alive(rec):
            return params, x, y
    raise AssertionError(f"no kink-free draw found for {net.spec}")
