"""Whole-network gradients (every parameter and dL/dX) against finite differences of the
network's batch-mean loss, through engine.gradcheck.

The seed's network is checked with engine.gradcheck at its own defaults, bar 1e-7 with the
default floor (1e-8). Bigger networks have gradient entries as small as 1e-8 (mean over the
batch, small init weights, saturated sigmoids), below what finite differences of an O(1)
float64 loss can resolve (~1e-11 absolute even with Richardson extrapolation, see
engine_testlib). There the relative error uses the floor NET_FLOOR: entries larger than it must
agree to 1e-7 relative, smaller ones to TOL * NET_FLOOR = 1e-10 absolute.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import (
    H_NET,
    NETWORK_CASES,
    TOL,
    TYPE_CASES,
    draw_case,
    max_rel_error,
    numeric_grad,
    richardson,
)

from engine import backward, forward, read_spec
from engine.gradcheck import gradcheck, rel_error
from engine.layers import REGISTRY
from engine.network import Params

Array = np.ndarray

NET_FLOOR = 1e-3


def check_network(net_spec: dict[str, Any], n: int, seed: int, floor: float,
                  labels: Array | None = None) -> None:
    """Params via engine.gradcheck at steps H_NET and 2 H_NET (Richardson-combined), dX via
    the same differences on the input; every entry of every array is checked."""
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed, labels)
    rec = forward(net, params, x, y)
    grads = backward(rec)

    checks_h = gradcheck(net, params, x, y, eps=H_NET)
    checks_2h = gradcheck(net, params, x, y, eps=2 * H_NET)
    assert [c.name for c in checks_h] == list(net.param_shapes)
    for c_h, c_2h in zip(checks_h, checks_2h):
        assert len(c_h.index) == int(np.prod(net.param_shapes[c_h.name]))  # all entries checked
        np.testing.assert_array_equal(c_h.analytic, grads["d" + c_h.name][tuple(np.array(c_h.index).T)])
        err = float(rel_error(c_h.analytic, richardson(c_h.numeric, c_2h.numeric), floor).max())
        assert err < TOL, f"d{c_h.name}: max rel error {err:.3g}"

    def loss() -> float:
        value = forward(net, params, x, y).loss
        assert value is not None
        return value

    assert np.abs(grads["dX"]).max() > 0
    err = max_rel_error(grads["dX"], numeric_grad(loss, x, H_NET), floor)
    assert err < TOL, f"dX: max rel error {err:.3g}"


# ----------------------------------------------------------------------------- the seed network
@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_seed_network_engine_gradcheck_defaults(seed: int, y: float) -> None:
    # The engine's own checker, as the page runs it (h = 1e-5, floor 1e-8), on the seed.
    net = read_spec()
    params, x, labels = draw_case(net, 1, seed, np.array([y]))
    checks = gradcheck(net, params, x, labels)
    assert {c.name: c.analytic.size for c in checks} == {"W1": 9, "b1": 1, "W2": 4, "b2": 1}
    for c in checks:
        assert c.max_rel_error < TOL, f"d{c.name}: {c.max_rel_error:.3g}"


@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_seed_network_params_and_dx(seed: int, y: float) -> None:
    # The seed is small and well conditioned: the default floor (1e-8) holds for dX too.
    check_network(read_spec().spec, 1, seed, floor=1e-8, labels=np.array([y]))


@pytest.mark.parametrize("name", sorted(NETWORK_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_network_params_and_dx(name: str, seed: int) -> None:
    net_spec, n = NETWORK_CASES[name]
    check_network(net_spec, n, seed, floor=NET_FLOOR)


@pytest.mark.parametrize("kind", sorted(TYPE_CASES))
def test_every_layer_type_params_and_dx(kind: str) -> None:
    net_spec, n = TYPE_CASES[kind]
    check_network(net_spec, n, seed=3, floor=NET_FLOOR)


# ----------------------------------------------------------------------------- the batch mean
@pytest.mark.parametrize("name", ["seed_batch4", "stride_pad_softmax3"])
def test_batch_loss_and_gradients_are_means_over_examples(name: str) -> None:
    # A batch of N is N independent examples: loss and parameter gradients are the mean of
    # the per-example ones, and each example's dX is its own gradient divided by N.
    net_spec, n = NETWORK_CASES[name]
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed=5)
    rec = forward(net, params, x, y)
    grads = backward(rec)
    singles = []
    for i in range(n):
        one = forward(net, params, x[i:i + 1], y[i:i + 1])
        singles.append((one.loss, backward(one)))
    assert rec.loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-14)
    for name_ in net.param_shapes:
        np.testing.assert_allclose(grads["d" + name_], np.mean([s[1]["d" + name_] for s in singles], axis=0),
                                   rtol=1e-12, atol=1e-15)
    for i in range(n):
        np.testing.assert_allclose(grads["dX"][i] * n, singles[i][1]["dX"][0], rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- the checker itself
def test_gradcheck_flags_a_wrong_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    # The checks above are only worth something if a wrong chain rule fails them: drop the
    # (1 - a) factor of the sigmoid's derivative and gradcheck must report large errors.
    net_spec, n = NETWORK_CASES["intermediate_sigmoid"]
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed=0)

    def bad_sigmoid_backward(dout: Array, cache: dict[str, Array], need_dx: bool = True) -> tuple[Array, tuple]:
        return dout * cache["a"], ()

    monkeypatch.setattr(REGISTRY["sigmoid"], "backward", bad_sigmoid_backward)
    errors = {c.name: c.max_rel_error for c in gradcheck(net, params, x, y)}
    # Every layer below the hidden sigmoid A3 sees the bug; the last dense (W4, b4) reads the
    # logits' gradient, which the loss computes directly (the final sigmoid has no backward).
    assert min(errors[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")) > 1e-2
    assert errors["W4"] < TOL and errors["b4"] < TOL


def test_gradcheck_max_entries_samples_distinct_entries() -> None:
    net_spec, n = NETWORK_CASES["two_conv_blocks"]
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed=0)
    before: Params = {k: v.copy() for k, v in params.items()}
    checks = gradcheck(net, params, x, y, max_entries=5, seed=3)
    for c in checks:
        size = int(np.prod(net.param_shapes[c.name]))
        assert len(c.index) == min(5, size)
        assert len(set(c.index)) == len(c.index)  # no entry twice
        assert c.index == sorted(c.index)
    # gradcheck works on a copy: the caller's params are untouched.
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
