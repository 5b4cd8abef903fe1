"""Numerical stability at saturated logits, and the input/param/label checks.

Losses are computed from the logits, so they stay finite where a naive log(sigmoid(z)) or
log(softmax(z)) would give log(0) = -inf. pyproject turns every RuntimeWarning into an error,
and the stability tests also run under np.errstate(over/divide/invalid="raise"), so any
overflow, 0/0 or log(0) that is not deliberately silenced fails them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from engine_testlib import FLATTEN, SIGMOID, SOFTMAX, conv, dense, spec

from engine import InputError, backward, check_input, check_labels, check_params, forward, read_spec
from engine.layers.sigmoid import sigmoid
from engine.losses import LOSSES

Array = np.ndarray


@contextmanager
def strict_fp() -> Iterator[None]:
    # Underflow (e.g. exp(-1000) -> 0) is harmless and stays ignored, as NumPy's default.
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        yield


def logit_net(units: int) -> tuple[Any, dict[str, Array]]:
    """A network whose logits are its input: flatten -> dense with W = I, b = 0 -> sigmoid/softmax."""
    if units == 1:
        net = read_spec(spec([1, 1, 1], [FLATTEN, dense(1), SIGMOID]))
    else:
        net = read_spec(spec([1, 1, units], [FLATTEN, dense(units), SOFTMAX], "cross_entropy"))
    return net, {"W1": np.eye(units), "b1": np.zeros(units)}


# ----------------------------------------------------------------------------- saturated logits
@pytest.mark.parametrize("big", [500.0, 800.0])
def test_bce_saturated_logits(big: float) -> None:
    net, params = logit_net(1)
    z = np.array([big, big, -big, -big])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with strict_fp():
        rec = forward(net, params, z.reshape(4, 1, 1, 1), y)
        grads = backward(rec)
    # log(1 + e^-z) is 0 (or ~1e-218) when right, z when wrong: mean (0 + big + big + 0) / 4.
    assert rec.loss is not None and math.isfinite(rec.loss)
    assert rec.loss == pytest.approx(big / 2, rel=1e-15)
    a = rec.activations["A1"]
    assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a[:2], 1.0)
    assert np.all(a[2:] < 1e-200)
    # The fused gradient is exactly (A - Y) / N, with no 0/0 where a is 0 or 1.
    np.testing.assert_array_equal(grads["dZ1"], (a - y.reshape(4, 1)) / 4)
    np.testing.assert_array_equal(grads["dZ1"][:2, 0], [0.0, 0.25])
    np.testing.assert_allclose(grads["dZ1"][2:, 0], [-0.25, 0.0], atol=1e-200)
    for name in ("dW1", "db1", "dX"):
        assert np.all(np.isfinite(grads[name])), name


def test_bce_output_gradient_from_logits() -> None:
    # dL/dA at a = sigmoid(+-500) (which rounds to 1 or ~7e-218) comes from the logit: the
    # right answer gives -1 / (N a) = -(1 + e^-z) / N, the wrong one 1 / (N (1 - a)) = (1 + e^z) / N,
    # ~1e217 but finite (e^z only overflows past z = 709). No 1/0, no 0/0.
    net, params = logit_net(1)
    z = np.array([500.0, 500.0, -500.0, -500.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with strict_fp():
        da = backward(forward(net, params, z.reshape(4, 1, 1, 1), y))["dA1"][:, 0]
    assert np.all(np.isfinite(da))
    np.testing.assert_allclose(da, [-0.25, (1 + math.exp(500)) / 4, -(1 + math.exp(500)) / 4, 0.25], rtol=1e-14)


@pytest.mark.parametrize("big", [500.0, 800.0])
def test_cross_entropy_saturated_logits(big: float) -> None:
    net, params = logit_net(3)
    z = np.array([[big, -big, 0.0], [big, -big, 0.0], [0.0, 0.0, big], [-big, -big, -big]])
    y = np.array([0, 1, 2, 1])
    with strict_fp():
        rec = forward(net, params, z.reshape(4, 1, 1, 3), y)
        grads = backward(rec)
    # logsumexp - z_y per row: 0, 2 big, 0, log 3.
    assert rec.loss is not None and math.isfinite(rec.loss)
    assert rec.loss == pytest.approx((2 * big + math.log(3)) / 4, rel=1e-15)
    a = rec.activations["A1"]
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    onehot = np.eye(3)[y]
    np.testing.assert_array_equal(grads["dZ1"], (a - onehot) / 4)
    np.testing.assert_allclose(grads["dZ1"][1], [0.25, -0.25, 0.0], atol=1e-200)
    for name in ("dW1", "db1", "dX"):
        assert np.all(np.isfinite(grads[name])), name


def test_loss_functions_directly_at_extreme_logits() -> None:
    with strict_fp():
        assert LOSSES["bce"].value(np.array([[1000.0]]), np.array([0.0])) == 1000.0
        assert LOSSES["bce"].value(np.array([[-1000.0]]), np.array([0.0])) == 0.0
        loss = LOSSES["cross_entropy"].value(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert loss == 2000.0


def test_sigmoid_at_800_is_finite() -> None:
    # e^800 overflows float64; the engine's sigmoid silences that one overflow (1 / inf = 0 is
    # the right limit), so nothing warns and the result is exactly 0 and 1.
    with strict_fp():
        out = sigmoid(np.array([800.0, -800.0, 0.0, 36.0, -700.0]))
    np.testing.assert_array_equal(out[:3], [1.0, 0.0, 0.5])
    # Just inside the range, the values are still the right ones, not rounded to 0 or 1 early.
    assert out[3] == pytest.approx(1.0 - math.exp(-36.0), rel=1e-15) and out[3] < 1.0
    assert out[4] == pytest.approx(math.exp(-700.0), rel=1e-12)


# ----------------------------------------------------------------------------- check_input
SEED = read_spec()


@pytest.mark.parametrize("shape, n", [((6, 6), 1), ((1, 6, 6), 1), ((1, 1, 6, 6), 1), ((3, 1, 6, 6), 3)])
def test_check_input_accepts_seed_shapes(shape: tuple[int, ...], n: int) -> None:
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    out = check_input(SEED, x.tolist())  # nested lists, as JSON sends them
    assert out.shape == (n, 1, 6, 6) and out.dtype == np.float64
    np.testing.assert_array_equal(out.ravel(), x.ravel())


@pytest.mark.parametrize("shape", [(5, 6), (6, 7), (2, 6, 6), (1, 2, 6, 6), (0, 1, 6, 6), (36,), (1, 1, 1, 6, 6)])
def test_check_input_rejects_wrong_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError) as info:
        check_input(SEED, np.zeros(shape))
    message = str(info.value)
    assert f"input has shape {list(shape)}" in message
    assert "expected [1, 6, 6] or [6, 6]" in message


def test_check_input_multichannel_needs_the_channel_axis() -> None:
    net = read_spec(spec([3, 5, 5], [conv(1, 3), FLATTEN, dense(1), SIGMOID]))
    assert check_input(net, np.zeros((3, 5, 5))).shape == (1, 3, 5, 5)
    with pytest.raises(InputError, match=r"input has shape \[5, 5\], expected \[3, 5, 5\] for this network"):
        check_input(net, np.zeros((5, 5)))


# ----------------------------------------------------------------------------- check_params
def seed_params_2d() -> dict[str, Any]:
    # The seed writes W1 as 3x3, b1 and b2 as 1x1, W2 as a row of 4.
    return {"W1": np.arange(9.0).reshape(3, 3).tolist(), "b1": [[0.5]], "W2": [[1.0, 2.0, 3.0, 4.0]], "b2": [[-1.5]]}


def test_check_params_accepts_seed_2d_shapes() -> None:
    p = check_params(SEED, seed_params_2d())
    assert {k: v.shape for k, v in p.items()} == SEED.param_shapes
    np.testing.assert_array_equal(p["W1"][0, 0], np.arange(9.0).reshape(3, 3))
    assert p["b1"][0] == 0.5 and p["b2"][0] == -1.5
    np.testing.assert_array_equal(p["W2"], [[1.0, 2.0, 3.0, 4.0]])
    # Scalars and flat vectors are also unambiguous, and the engine layouts pass unchanged.
    p2 = check_params(SEED, {"W1": np.zeros((1, 1, 3, 3)), "b1": 0.5, "W2": [1.0, 2.0, 3.0, 4.0], "b2": [-1.5]})
    assert {k: v.shape for k, v in p2.items()} == SEED.param_shapes


@pytest.mark.parametrize("name, value, expected", [
    ("W1", np.zeros((2, 2)), "W1 has shape [2, 2], expected [1, 1, 3, 3]"),
    ("W1", np.zeros(9), "W1 has shape [9], expected [1, 1, 3, 3]"),  # same size, but not a 3x3
    ("W1", np.zeros((3, 3, 2)), "W1 has shape [3, 3, 2], expected [1, 1, 3, 3]"),
    ("W2", np.zeros((2, 2)), "W2 has shape [2, 2], expected [1, 4]"),  # 4 values, wrong layout
    ("W2", np.zeros(5), "W2 has shape [5], expected [1, 4]"),
    ("b1", [1.0, 2.0], "b1 has shape [2], expected [1]"),
    ("b2", np.zeros((1, 2)), "b2 has shape [1, 2], expected [1]"),
])
def test_check_params_rejects_wrong_shapes(name: str, value: Any, expected: str) -> None:
    params = seed_params_2d()
    params[name] = value
    with pytest.raises(InputError) as info:
        check_params(SEED, params)
    assert expected in str(info.value)


def test_check_params_multi_filter_drops_only_singleton_axes() -> None:
    net = read_spec(spec([1, 6, 6], [conv(2, 3), FLATTEN, dense(1), SIGMOID]))
    ok = {"W1": np.zeros((2, 3, 3)), "b1": [0.0, 0.0], "W2": np.zeros(32), "b2": 0.0}
    assert check_params(net, ok)["W1"].shape == (2, 1, 3, 3)
    with pytest.raises(InputError, match=r"W1 has shape \[3, 3, 2\], expected \[2, 1, 3, 3\]"):
        check_params(net, {**ok, "W1": np.zeros((3, 3, 2))})  # same 18 values, not a reshape we may guess


def test_check_params_missing_and_unexpected_names() -> None:
    params = seed_params_2d()
    del params["b2"]
    params["W3"] = [1.0]
    with pytest.raises(InputError) as info:
        check_params(SEED, params)
    message = str(info.value)
    assert "params: missing ['b2']" in message and "unexpected ['W3']" in message
    assert "this network has ['W1', 'b1', 'W2', 'b2']" in message


def test_check_params_gradients_prefix() -> None:
    grads = {"d" + k: v for k, v in seed_params_2d().items()}
    assert set(check_params(SEED, grads, prefix="d")) == {"dW1", "db1", "dW2", "db2"}
    del grads["dW1"]
    with pytest.raises(InputError, match=r"gradients: missing \['dW1'\]"):
        check_params(SEED, grads, prefix="d")


# ----------------------------------------------------------------------------- check_labels
CE4 = read_spec(spec([1, 1, 4], [FLATTEN, dense(4), SOFTMAX], "cross_entropy"))


@pytest.mark.parametrize("label, expected", [(0, [0.0]), (1, [1.0]), (1.0, [1.0]), ([0], [0.0]), (np.int64(1), [1.0])])
def test_check_labels_bce_accepts_0_and_1(label: Any, expected: list[float]) -> None:
    out = check_labels(SEED, label, 1)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("label", [2, -1, 0.5, np.nan, np.inf])
def test_check_labels_bce_rejects_other_values(label: Any) -> None:
    with pytest.raises(InputError, match="label must be 0 or 1 for the bce loss"):
        check_labels(SEED, label, 1)


@pytest.mark.parametrize("label", [True, "1", None])
def test_check_labels_rejects_non_numbers(label: Any) -> None:
    with pytest.raises(InputError, match="label must be a number"):
        check_labels(SEED, label, 1)


def test_check_labels_cross_entropy_range() -> None:
    out = check_labels(CE4, [0, 3, 2.0], 3)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [0, 3, 2])
    for bad in ([4], [-1], [1.5], [np.nan], [np.inf]):
        with pytest.raises(InputError, match=r"class index from 0 to 3 for cross_entropy"):
            check_labels(CE4, bad, 1)


def test_check_labels_one_per_example() -> None:
    with pytest.raises(InputError, match=r"one value per example \(1\), got shape \[2\]"):
        check_labels(SEED, [0, 1], 1)
    with pytest.raises(InputError, match=r"one value per example \(3\), got shape \[1\]"):
        check_labels(CE4, 2, 3)
