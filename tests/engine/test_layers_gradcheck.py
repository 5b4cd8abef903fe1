"""Every layer's backward against central finite differences, one layer at a time.

The scalar checked is L = sum(out * G) for a random G, so dL/dout = G exercises every output
entry with a different weight (a plain sum would hide transposed or permuted gradients).
Layers come from read_spec on small specs, so their shapes are the ones the engine infers.
Every comparison uses engine.gradcheck.rel_error with its floor (1e-8) and must be < 1e-7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import H_LAYER, TOL, bce_head, layer_of, max_rel_error, numeric_grad

from engine.layers import BACKWARD, FORWARD
from engine.spec import Layer

Array = np.ndarray


def check_layer(layer: Layer, x: Array, params: dict[str, Array], seed: int) -> None:
    """Forward, backward with a random G, and compare dx and every param gradient to
    central differences of sum(out * G)."""
    fwd, bwd = FORWARD[layer.type], BACKWARD[layer.type]
    out, cache = fwd(x, layer, params)
    assert out.dtype == np.float64
    assert out.shape == (x.shape[0], *layer.out_shape)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    dx, grads = bwd(g, cache)

    base = out.copy()

    def loss() -> float:
        # sum((out - out0) * G): the same gradient as sum(out * G), but entries the
        # perturbation does not touch cancel exactly, so the round-off is that of the change
        # rather than of a sum of hundreds of terms.
        return float(np.sum((fwd(x, layer, params)[0] - base) * g))

    assert dx is not None and dx.shape == x.shape
    # A backward that returns zeros would pass a comparison with a zero numeric gradient
    # only if the layer truly ignored x; make sure there is signal to compare.
    assert np.abs(dx).max() > 0
    err = max_rel_error(dx, numeric_grad(loss, x, H_LAYER))
    assert err < TOL, f"{layer.type} dx: max rel error {err:.3g}"

    assert len(grads) == len(layer.params)
    for name, grad in zip(layer.params, grads):
        assert grad.shape == params[name].shape, name
        err = max_rel_error(grad, numeric_grad(loss, params[name], H_LAYER))
        assert err < TOL, f"{layer.type} d{name}: max rel error {err:.3g}"


# ----------------------------------------------------------------------------- conv2d
# (N, C, H, W, filters, kernel, stride, padding): hand-picked to cover each feature...
ConvCase = tuple[int, int, int, int, int, tuple[int, int], tuple[int, int], tuple[int, int]]
CONV_CASES: list[ConvCase] = [
    (1, 1, 6, 6, 1, (3, 3), (1, 1), (0, 0)),  # the seed's conv
    (2, 3, 5, 7, 2, (2, 3), (1, 2), (1, 2)),  # non-square kernel, padding 1/2, stride only along W
    (3, 2, 7, 6, 4, (3, 2), (2, 1), (2, 1)),  # non-square the other way, padding 2
    (1, 3, 4, 4, 3, (3, 3), (2, 2), (2, 2)),  # padding 2 + stride 2: windows mostly padding
    (2, 1, 5, 5, 2, (1, 1), (2, 2), (0, 0)),  # 1x1 kernel, stride 2: some inputs feed nothing
    (3, 2, 6, 5, 3, (4, 2), (2, 2), (0, 1)),  # stride that does not divide the input evenly
]


def _random_conv_cases(count: int, seed: int) -> list[ConvCase]:
    """...plus random ones: batch 1-3, channels 1-3, filters 1-4, kernels 1-4 (often non-square),
    strides 1-2, paddings 0-2 (< kernel, as the spec requires)."""
    rng = np.random.default_rng(seed)
    cases: list[ConvCase] = []
    while len(cases) < count:
        kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
        ph, pw = int(rng.integers(0, min(kh, 3))), int(rng.integers(0, min(kw, 3)))
        h, w = (int(v) for v in rng.integers(max(kh, kw), 8, size=2))
        if kh > h + 2 * ph or kw > w + 2 * pw:
            continue
        cases.append((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w, int(rng.integers(1, 5)),
                      (kh, kw), (int(rng.integers(1, 3)), int(rng.integers(1, 3))), (ph, pw)))
    return cases


@pytest.mark.parametrize("case", CONV_CASES + _random_conv_cases(8, seed=7), ids=str)
def test_conv2d_gradients(case: ConvCase) -> None:
    n, c, h, w, f, kernel, stride, padding = case
    conv = {"type": "conv2d", "filters": f, "kernel_size": list(kernel), "stride": list(stride),
            "padding": list(padding)}
    layer = layer_of((c, h, w), [conv, *bce_head()], 0)
    assert layer.param_shape == (f, c, *kernel)
    rng = np.random.default_rng(sum(case[:5]))
    params = {"W1": rng.standard_normal((f, c, *kernel)), "b1": rng.standard_normal(f)}
    check_layer(layer, rng.standard_normal((n, c, h, w)), params, seed=1)


def test_conv2d_need_dx_false_gives_same_param_grads() -> None:
    # Training skips dX of the first layer; the parameter gradients must not change with it.
    layer = layer_of((2, 5, 5), [{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": 1},
                                 *bce_head()], 0)
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 2, 3, 3)), "b1": rng.standard_normal(3)}
    out, cache = FORWARD["conv2d"](rng.standard_normal((2, 2, 5, 5)), layer, params)
    g = rng.standard_normal(out.shape)
    dx, full = BACKWARD["conv2d"](g, cache, True)
    none, lean = BACKWARD["conv2d"](g, cache, False)
    assert dx is not None and none is None
    for a, b in zip(full, lean):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- maxpool2d
PoolCase = tuple[int, int, int, int, tuple[int, int], tuple[int, int]]
POOL_CASES: list[PoolCase] = [
    (1, 1, 4, 4, (2, 2), (2, 2)),  # the seed's pool
    (2, 3, 7, 7, (3, 3), (2, 2)),  # overlapping: kernel 3 stride 2
    (3, 2, 5, 6, (2, 2), (1, 1)),  # overlapping: kernel 2 stride 1
    (2, 1, 6, 7, (2, 3), (1, 2)),  # non-square window and stride
    (1, 2, 7, 7, (2, 2), (3, 3)),  # stride > kernel: some cells are in no window
    (2, 3, 5, 5, (5, 5), (1, 1)),  # one global window per channel
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_maxpool2d_gradients(case: PoolCase) -> None:
    n, c, h, w, kernel, stride = case
    layer = layer_of((c, h, w), [{"type": "maxpool2d", "kernel_size": list(kernel), "stride": list(stride)},
                                 *bce_head()], 0)
    # Distinct values 0.05 apart (>> the 2e-3 widest step), shuffled, so no window is near a tie (a kink).
    rng = np.random.default_rng(sum(case[:4]))
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) * 0.05 - 1.0
    check_layer(layer, x, {}, seed=2)


def test_maxpool2d_overlapping_windows_sum_at_a_shared_winner() -> None:
    # Kernel 3 stride 1 on 4x4: the global max at (1, 1) wins all four windows, so its
    # gradient is the sum of all four upstream gradients and every other cell gets 0.
    layer = layer_of((1, 4, 4), [{"type": "maxpool2d", "kernel_size": 3, "stride": 1}, *bce_head()], 0)
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4) * -1.0
    x[0, 0, 1, 1] = 10.0
    out, cache = FORWARD["maxpool2d"](x, layer, {})
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 10.0))
    g = np.array([1.0, 2.0, 4.0, 8.0]).reshape(1, 1, 2, 2)
    dx, grads = BACKWARD["maxpool2d"](g, cache)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1, 1] = 15.0
    np.testing.assert_array_equal(dx, expected)
    assert grads == ()


# ----------------------------------------------------------------------------- dense
@pytest.mark.parametrize("n, d, units", [(1, 4, 1), (2, 7, 3), (3, 10, 5), (3, 1, 2)])
def test_dense_gradients(n: int, d: int, units: int) -> None:
    layer = layer_of((1, 1, d), [{"type": "flatten"}, {"type": "dense", "units": units}, {"type": "sigmoid"},
                                 *bce_head(flat=True)], 1)
    assert layer.in_shape == (d,) and layer.param_shape == (units, d)
    rng = np.random.default_rng(n * 100 + d * 10 + units)
    params = {"W1": rng.standard_normal((units, d)), "b1": rng.standard_normal(units)}
    check_layer(layer, rng.standard_normal((n, d)), params, seed=3)


def test_dense_need_dx_false_gives_same_param_grads() -> None:
    layer = layer_of((1, 1, 5), [{"type": "flatten"}, *bce_head(flat=True)], 1)
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((1, 5)), "b1": rng.standard_normal(1)}
    out, cache = FORWARD["dense"](rng.standard_normal((3, 5)), layer, params)
    g = rng.standard_normal(out.shape)
    dx, full = BACKWARD["dense"](g, cache, True)
    none, lean = BACKWARD["dense"](g, cache, False)
    assert dx is not None and none is None
    for a, b in zip(full, lean):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- flatten
@pytest.mark.parametrize("n, shape", [(1, (1, 2, 2)), (2, (3, 4, 2)), (3, (2, 1, 5))])
def test_flatten_gradients(n: int, shape: tuple[int, int, int]) -> None:
    layer = layer_of(shape, [{"type": "flatten"}, *bce_head(flat=True)], 0)
    x = np.random.default_rng(n).standard_normal((n, *shape))
    check_layer(layer, x, {}, seed=4)
    # C-order, as torch.flatten(x, 1): a channel's cells stay contiguous.
    out, _ = FORWARD["flatten"](x, layer, {})
    np.testing.assert_array_equal(out[-1], x[-1].ravel())


# ----------------------------------------------------------------------------- activations
def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Random signs, magnitudes in [0.1, 1.5]: never within a step of ReLU's kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.5, size=shape)


ACT_HOSTS: dict[str, tuple[tuple[int, int, int], list[dict[str, Any]], int]] = {
    # activation after a conv: 4-D input (N, F, Ho, Wo)
    "4d": ((2, 5, 5), [{"type": "conv2d", "filters": 3, "kernel_size": [2, 3]}, {"type": "ACT"},
                       *bce_head()], 1),
    # activation between two dense layers: 2-D input (N, U)
    "2d": ((1, 1, 6), [{"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "ACT"},
                       *bce_head(flat=True)], 2),
}


def _act_layer(kind: str, host: str) -> Layer:
    shape, layers, index = ACT_HOSTS[host]
    layers = [dict(layer, type=kind) if layer["type"] == "ACT" else layer for layer in layers]
    return layer_of(shape, layers, index)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("host", ["4d", "2d"])
def test_relu_gradients(host: str, n: int) -> None:
    layer = _act_layer("relu", host)
    x = _away_from_zero(np.random.default_rng(n), (n, *layer.in_shape))
    check_layer(layer, x, {}, seed=5)


def test_relu_gradient_at_zero_is_zero() -> None:
    # ReLU is not differentiable at 0; the engine uses 0 there, as PyTorch does.
    layer = _act_layer("relu", "2d")
    x = np.array([[-1.0, 0.0, 2.0, 0.0]])
    _, cache = FORWARD["relu"](x, layer, {})
    dx, _ = BACKWARD["relu"](np.array([[5.0, 6.0, 7.0, 8.0]]), cache)
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 7.0, 0.0]])


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("host", ["4d", "2d"])
def test_sigmoid_gradients(host: str, n: int) -> None:
    layer = _act_layer("sigmoid", host)
    x = 3.0 * np.random.default_rng(n).standard_normal((n, *layer.in_shape))
    check_layer(layer, x, {}, seed=6)


@pytest.mark.parametrize("n, units", [(1, 2), (2, 3), (3, 10)])
def test_softmax_gradients(n: int, units: int) -> None:
    layer = layer_of((1, 1, 4), [{"type": "flatten"}, {"type": "dense", "units": units}, {"type": "softmax"}],
                     2, loss="cross_entropy")
    x = 2.0 * np.random.default_rng(units).standard_normal((n, units))
    check_layer(layer, x, {}, seed=7)
    # Rows are probability distributions.
    out, _ = FORWARD["softmax"](x, layer, {})
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-15)
