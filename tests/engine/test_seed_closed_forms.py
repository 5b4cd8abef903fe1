"""The seed's network (6x6 -> conv 3x3 -> ReLU -> pool 2x2 -> flatten 4 -> dense 1 -> sigmoid,
BCE) against the closed forms of its derivation, with explicit Python loops as an oracle that
shares no code (no im2col, no index plans) with the engine.

Seed notation: F is the column of the 4 pooled values; the engine keeps a batch axis first,
so F is (1, 4), and W2^T (A2 - Y) is checked in that (1, 4) layout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import (
    Record,
    backward,
    check_input,
    check_labels,
    check_params,
    forward,
    init_params,
    read_spec,
    sgd_update,
    train_step,
)

Array = np.ndarray
SEEDS = [0, 2, 3, 7]  # each gives a mix of live and dead ReLU cells (asserted below)


def worked_example(seed: int, y: float) -> tuple[Record, dict[str, Array], dict[str, Array]]:
    net = read_spec()
    params = init_params(net, seed)
    x = check_input(net, np.random.default_rng(100 + seed).standard_normal((6, 6)))  # the seed's 2-D input
    rec = forward(net, params, x, check_labels(net, y, 1))
    return rec, backward(rec), params


# ----------------------------------------------------------------------------- loop oracles
def correlate_valid(x: Array, k: Array) -> Array:
    """out[r, c] = sum_ab x[r + a, c + b] k[a, b]."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    total += x[r + a, c + b] * k[a, b]
            out[r, c] = total
    return out


def first_argmax_2x2(a: Array, i: int, j: int) -> tuple[int, int]:
    """The winner of window (i, j) of a 2x2/2 pool: the first maximum in row-major order."""
    best = (2 * i, 2 * j)
    for r in range(2 * i, 2 * i + 2):
        for c in range(2 * j, 2 * j + 2):
            if a[r, c] > a[best]:  # strict: a later equal value does not take over
                best = (r, c)
    return best


def route_pool_gradient(a1: Array, dp1: Array) -> Array:
    da1 = np.zeros_like(a1)
    for i in range(dp1.shape[0]):
        for j in range(dp1.shape[1]):
            da1[first_argmax_2x2(a1, i, j)] += dp1[i, j]
    return da1


def full_conv_input_grad(w: Array, dz: Array, shape: tuple[int, int]) -> Array:
    """dX[p, q] = sum over output cells (r, c) covering (p, q) of W[p - r, q - c] dZ[r, c]."""
    dx = np.zeros(shape)
    for r in range(dz.shape[0]):
        for c in range(dz.shape[1]):
            for a in range(w.shape[0]):
                for b in range(w.shape[1]):
                    dx[r + a, c + b] += w[a, b] * dz[r, c]
    return dx


def close(actual: Array, expected: Array | float) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("seed", SEEDS)
def test_forward_closed_forms(seed: int) -> None:
    rec, _, p = worked_example(seed, 1.0)
    act = {k: v[0] for k, v in rec.activations.items()}  # drop the batch axis
    x, z1, a1, p1 = act["X"][0], act["Z1"][0], act["A1"][0], act["P1"][0]
    assert 0 < (z1 > 0).sum() < z1.size  # the example exercises both sides of the ReLU
    close(z1, correlate_valid(x, p["W1"][0, 0]) + p["b1"][0])
    np.testing.assert_array_equal(a1, np.maximum(z1, 0.0))
    np.testing.assert_array_equal(p1, [[a1[first_argmax_2x2(a1, i, j)] for j in range(2)] for i in range(2)])
    np.testing.assert_array_equal(act["F"], [p1[0, 0], p1[0, 1], p1[1, 0], p1[1, 1]])  # row-major
    z2 = sum(p["W2"][0, i] * act["F"][i] for i in range(4)) + p["b2"][0]
    close(act["Z2"], [z2])
    close(act["A2"], [1.0 / (1.0 + math.exp(-z2))])


@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_loss_is_binary_cross_entropy(seed: int, y: float) -> None:
    rec, _, _ = worked_example(seed, y)
    a = float(rec.activations["A2"][0, 0])
    assert rec.loss == pytest.approx(-y * math.log(a) - (1 - y) * math.log(1 - a), rel=1e-13)


# ----------------------------------------------------------------------------- backward
@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_backward_closed_forms(seed: int, y: float) -> None:
    rec, g, p = worked_example(seed, y)
    act = rec.activations
    a2 = act["A2"]  # (1, 1)
    f = act["F"]  # (1, 4): the seed's column F, transposed

    # Output layer: the fused sigmoid + BCE gradient.
    np.testing.assert_array_equal(g["dZ2"], a2 - y)
    close(g["dW2"], (a2 - y) * f)  # (A2 - Y) F^T
    close(g["db2"], (a2 - y)[0])
    close(g["dF"], (a2 - y) * p["W2"])  # W2^T (A2 - Y), in the (1, 4) layout
    # Flatten: dP1 is dF put back in P1's shape.
    np.testing.assert_array_equal(g["dP1"], g["dF"].reshape(1, 1, 2, 2))
    # Max-pool: each window's gradient goes to its winner only.
    a1 = act["A1"][0, 0]
    np.testing.assert_array_equal(g["dA1"][0, 0], route_pool_gradient(a1, g["dP1"][0, 0]))
    # ReLU: gradient passes where Z1 > 0.
    z1 = act["Z1"][0, 0]
    np.testing.assert_array_equal(g["dZ1"][0, 0], g["dA1"][0, 0] * (z1 > 0))
    # Conv: dW1 is the valid correlation of X with dZ1, db1 the sum of dZ1, dX the full convolution.
    dz1 = g["dZ1"][0, 0]
    close(g["dW1"][0, 0], correlate_valid(act["X"][0, 0], dz1))
    close(g["db1"], [dz1.sum()])
    close(g["dX"][0, 0], full_conv_input_grad(p["W1"][0, 0], dz1, (6, 6)))
    assert np.abs(g["dW1"]).max() > 0  # gradient reached the conv (not all routed to dead cells)


@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_output_gradient_da2(seed: int, y: float) -> None:
    # The chain-rule factor the page shows: dL/dA2 = (a2 - y) / (a2 (1 - a2)), i.e. -1/a2 for
    # y = 1 and 1/(1 - a2) for y = 0; and dA2 * a2 (1 - a2) gives back dZ2.
    rec, g, _ = worked_example(seed, y)
    a2 = float(rec.activations["A2"][0, 0])
    expected = (a2 - y) / (a2 * (1 - a2))
    assert g["dA2"].shape == (1, 1)
    assert g["dA2"][0, 0] == pytest.approx(expected, rel=1e-12)
    assert g["dA2"][0, 0] == pytest.approx(-1 / a2 if y == 1 else 1 / (1 - a2), rel=1e-12)
    assert g["dA2"][0, 0] * a2 * (1 - a2) == pytest.approx(g["dZ2"][0, 0], rel=1e-12)


# ----------------------------------------------------------------------------- update
@pytest.mark.parametrize("eta", [0.01, 0.5])
@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_update_and_train_step(seed: int, eta: float) -> None:
    rec, g, p = worked_example(seed, 1.0)
    new = sgd_update(p, g, eta)
    assert set(new) == {"W1", "b1", "W2", "b2"}
    for name in new:
        np.testing.assert_array_equal(new[name], p[name] - eta * g["d" + name])
    # train_step = forward + backward + the same update, then the loss at the new params.
    step = train_step(rec.net, p, rec.activations["X"], rec.labels, eta)
    for name in new:
        np.testing.assert_array_equal(step.params[name], new[name])
    assert step.record.loss == rec.loss
    assert step.loss_after == forward(rec.net, new, rec.activations["X"], rec.labels).loss
    # A small step down the gradient lowers the loss (first-order descent).
    if eta == 0.01:
        assert step.loss_after < rec.loss


# ----------------------------------------------------------------------------- hand-made examples
def hand_params(b1: float) -> dict[str, Array]:
    # Written as the seed writes them: W1 3x3, b1 a scalar, W2 a flat 4-vector, b2 [[x]].
    return check_params(read_spec(), {"W1": [[0.1] * 3] * 3, "b1": b1, "W2": [1.0, 1.0, 1.0, 1.0], "b2": [[0.0]]})


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_hand_example_all_ones(y: float) -> None:
    # X all ones, W1 all 0.1, b1 = 0, W2 = [1, 1, 1, 1], b2 = 0, by hand:
    #   Z1 = 9 * 0.1 = 0.9 everywhere (4x4); A1 = 0.9; P1 = 0.9 (2x2); F = [0.9] * 4;
    #   Z2 = 4 * 0.9 = 3.6; A2 = sigmoid(3.6).
    # Every pool window is a 4-way tie, so its gradient goes to the window's top-left cell.
    net = read_spec()
    rec = forward(net, hand_params(0.0), check_input(net, np.ones((6, 6))), check_labels(net, y, 1))
    g = backward(rec)
    act = rec.activations
    close(act["Z1"], np.full((1, 1, 4, 4), 0.9))
    close(act["A1"], np.full((1, 1, 4, 4), 0.9))
    close(act["P1"], np.full((1, 1, 2, 2), 0.9))
    close(act["F"], np.full((1, 4), 0.9))
    close(act["Z2"], [[3.6]])
    a2 = 1.0 / (1.0 + math.exp(-3.6))
    close(act["A2"], [[a2]])
    assert rec.loss == pytest.approx(-math.log(a2) if y == 1 else -math.log(1 - a2), rel=1e-13)

    d = a2 - y  # dZ2
    close(g["dZ2"], [[d]])
    close(g["dW2"], np.full((1, 4), 0.9 * d))
    close(g["db2"], [d])
    close(g["dF"], np.full((1, 4), d))
    close(g["dP1"], np.full((1, 1, 2, 2), d))
    winners = np.zeros((4, 4))
    winners[::2, ::2] = 1.0  # (0,0) (0,2) (2,0) (2,2)
    close(g["dA1"][0, 0], d * winners)
    close(g["dZ1"][0, 0], d * winners)  # all of Z1 > 0
    close(g["dW1"], np.full((1, 1, 3, 3), 4 * d))  # X = 1: each entry sums the four winners' dZ1
    close(g["db1"], [4 * d])
    # dX[p, q] = 0.1 d * (#winner rows within reach of p) * (#winner cols within reach of q):
    # a winner at row r reaches p = r..r+2, so with winners at rows 0 and 2 the counts are
    reach = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 0.0])
    close(g["dX"][0, 0], 0.1 * d * np.outer(reach, reach))


def test_hand_example_dead_relu() -> None:
    # Same, but b1 = -1: Z1 = -0.1 everywhere, so A1 = P1 = F = 0, Z2 = 0, A2 = 1/2 and the
    # loss is ln 2 for either label. dZ2 = -1/2 (y = 1) flows back to dA1's winners and stops
    # at the dead ReLU: dZ1, dW1, db1, dX are all 0, and dW2 = dZ2 F^T = 0 too.
    net = read_spec()
    rec = forward(net, hand_params(-1.0), check_input(net, np.ones((6, 6))), check_labels(net, 1, 1))
    g = backward(rec)
    close(rec.activations["Z1"], np.full((1, 1, 4, 4), -0.1))
    np.testing.assert_array_equal(rec.activations["F"], np.zeros((1, 4)))
    np.testing.assert_array_equal(rec.activations["A2"], [[0.5]])
    assert rec.loss == pytest.approx(math.log(2), rel=1e-15)
    np.testing.assert_array_equal(g["dZ2"], [[-0.5]])
    np.testing.assert_array_equal(g["dW2"], np.zeros((1, 4)))
    np.testing.assert_array_equal(g["dF"], np.full((1, 4), -0.5))
    winners = np.zeros((4, 4))
    winners[::2, ::2] = -0.5
    np.testing.assert_array_equal(g["dA1"][0, 0], winners)
    for name in ("dZ1", "dW1", "db1", "dX"):
        np.testing.assert_array_equal(g[name], np.zeros_like(g[name]))


def test_hand_example_update() -> None:
    # One SGD step on the all-ones example with y = 1 and eta = 0.5, by hand:
    # W2 <- 1 - 0.5 * 0.9 d, b2 <- -0.5 d, W1 <- 0.1 - 0.5 * 4 d, b1 <- -0.5 * 4 d, d = A2 - 1.
    net = read_spec()
    step = train_step(net, hand_params(0.0), check_input(net, np.ones((6, 6))), check_labels(net, 1, 1), 0.5)
    d = 1.0 / (1.0 + math.exp(-3.6)) - 1.0
    close(step.params["W2"], np.full((1, 4), 1 - 0.45 * d))
    close(step.params["b2"], [-0.5 * d])
    close(step.params["W1"], np.full((1, 1, 3, 3), 0.1 - 2 * d))
    close(step.params["b1"], [-2 * d])
    assert step.loss_after < step.record.loss
