"""The layers' fast paths (a conv's strided patch copy and blocked products, the 2x2/2 max-pool
by halves) against the same checks as the paths they replace: the torch cross-check, finite
differences and the pool masks are run again here with every fast path forced on whatever the
size (in both of the conv's ways to dX, its products in blocks of either length, and with the
pool in blocks and not); then the two paths are compared
with each other directly at sizes the server really takes the fast path for, with ties and
channel-major inputs.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from engine_testlib import FLATTEN, SIGMOID, conv, dense, pool, spec
from test_layers_gradcheck import (  # noqa: F401  (collected again here, under each forced path)
    test_conv2d_gradients,
    test_conv2d_need_dx_false_gives_same_param_grads,
    test_maxpool2d_gradients,
)
from test_masks import (  # noqa: F401
    test_all_equal_input_marks_each_windows_first_cell,
    test_hand_example_non_overlapping_with_ties,
    test_mask_matches_oracle,
    test_two_pools_each_get_a_mask,
)
from test_network_gradcheck import test_every_layer_type_params_and_dx, test_network_params_and_dx  # noqa: F401

from engine import backward, forward, init_params, read_spec
from engine.layers import _conv_strided, conv2d, maxpool2d

if importlib.util.find_spec("torch") is not None:
    from test_torch_crosscheck import (  # noqa: F401
        test_all_ones_seed_network_ties_like_torch,
        test_dead_relu_windows_like_torch,
        test_every_layer_type_against_torch,
        test_maxpool_ties_route_like_torch,
        test_networks,
        test_saturated_logits,
        test_seed_network,
    )

ALWAYS, NEVER = 0, 2**62
DEFAULTS = [(m, name, getattr(m, name)) for m, name in (
    (conv2d, "STRIDED_MIN"), (conv2d, "STRIDED_ROWS"), (_conv_strided, "SHORT_ROWS"), (_conv_strided, "BLOCK"),
    (_conv_strided, "NARROW"), (_conv_strided, "BLOCKED_MIN"), (_conv_strided, "ADDS_WHOLE_MAX"),
    (_conv_strided, "ADDS_BLOCK"), (maxpool2d, "HALVES_MIN"), (maxpool2d, "HALVES_CHUNK"))]
Array = np.ndarray


def force(monkeypatch: pytest.MonkeyPatch, threshold: int, correlation: bool = True) -> None:
    monkeypatch.setattr(conv2d, "STRIDED_MIN", threshold)
    monkeypatch.setattr(conv2d, "STRIDED_ROWS", threshold)
    monkeypatch.setattr(_conv_strided, "SHORT_ROWS", NEVER if correlation else ALWAYS)
    # The products go in blocks of 7 columns (dX by correlation) or 5 (by adds), and a shorter
    # rest; those too short for two blocks in one.
    monkeypatch.setattr(_conv_strided, "BLOCK", 7 if correlation else 5)
    monkeypatch.setattr(_conv_strided, "NARROW", 1)
    monkeypatch.setattr(_conv_strided, "BLOCKED_MIN", ALWAYS)
    # dX by adds goes an example at a time; the convs that still add under "correlation"
    # (more filters than twice their channels) add all examples at once.
    monkeypatch.setattr(_conv_strided, "ADDS_WHOLE_MAX", NEVER if correlation else ALWAYS)
    monkeypatch.setattr(_conv_strided, "ADDS_BLOCK", 1)
    # With dX by correlation, every pool plane is a block of its own; by adds, all are one block.
    monkeypatch.setattr(maxpool2d, "HALVES_MIN", threshold)
    monkeypatch.setattr(maxpool2d, "HALVES_CHUNK", 1 if correlation else NEVER)  # a plane per block, or one block


# The gather paths are what the original tests take at their (small) sizes already.
MODES = {"fast paths, conv dX by correlation, pool in blocks": (ALWAYS, True),
         "fast paths, conv dX by adds": (ALWAYS, False)}


@pytest.fixture(autouse=True, params=list(MODES))
def forced_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    force(monkeypatch, *MODES[request.param])
    return request.param


def served_net(c: int, size: int, filters: int):  # noqa: ANN201 (a Network)
    layers = [conv(filters, 3, 1, 1), {"type": "relu"}, pool(2, 2), conv(2 * filters, 3, 1, 1), {"type": "relu"},
              pool(2, 2), FLATTEN, dense(1), SIGMOID]
    return read_spec(spec([c, size, size], layers))


def both_paths(monkeypatch: pytest.MonkeyPatch, run, mode: str):  # noqa: ANN001, ANN201
    """``run`` under the fixture's fast-path mode, and under the gather paths."""
    force(monkeypatch, *MODES[mode])
    fast = run()
    force(monkeypatch, NEVER)
    slow = run()
    return fast, slow


@pytest.mark.parametrize("c, size, filters, n", [(1, 28, 8, 8), (3, 15, 4, 3), (2, 9, 3, 5), (1, 12, 10, 2)])
def test_paths_agree_on_a_whole_step(monkeypatch: pytest.MonkeyPatch, forced_path: str, c: int, size: int,
                                     filters: int, n: int) -> None:
    # Odd sizes leave a row and a column outside the last pool window; inputs from {0, 1}
    # and a bias pushed down give exact ties and all-zero windows after the ReLU.
    net = served_net(c, size, filters)
    params = init_params(net, 0)
    params["b1"] = params["b1"] - 0.3
    rng = np.random.default_rng(c + size)
    x = rng.integers(0, 2, size=(n, c, size, size)).astype(np.float64)
    y = rng.integers(0, 2, size=n).astype(np.float64)

    def run() -> tuple[dict[str, Array], dict[str, Array], dict[str, Array]]:
        rec = forward(net, params, x, y)
        return rec.activations, backward(rec), rec.masks()

    (acts, grads, masks), (acts0, grads0, masks0) = both_paths(monkeypatch, run, forced_path)
    for name, value in acts.items():  # conv sums in another order: round-off only
        np.testing.assert_allclose(value, acts0[name], rtol=1e-12, atol=1e-13, err_msg=name)
    for name, value in grads.items():
        np.testing.assert_allclose(value, grads0[name], rtol=1e-12, atol=1e-13, err_msg=name)
    for name, value in masks.items():  # the same winners, ties included
        np.testing.assert_array_equal(value, masks0[name], err_msg=name)
    assert masks["P1"].sum() == n * filters * (size // 2) ** 2  # one winner per window


def test_pool_halves_ties_exactly_as_the_gather(monkeypatch: pytest.MonkeyPatch, forced_path: str) -> None:
    # Every pattern of ties in a 2x2 window (values 0/1 in all 16 arrangements, and more),
    # fed both as a contiguous array and as a channel-major view (what a conv hands on).
    layer = read_spec(spec([3, 6, 8], [pool(2, 2), FLATTEN, dense(1), SIGMOID])).layers[0]
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, size=(4, 3, 6, 8)).astype(np.float64)
    channel_major = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    d = rng.standard_normal((4, 3, 3, 4))
    for arr in (x, channel_major):
        def run(arr: Array = arr) -> tuple[Array, Array, Array]:
            out, cache = maxpool2d.forward(arr, layer, {})
            return out, maxpool2d.backward(d, cache)[0], maxpool2d.LAYER.mask(cache)

        fast, slow = both_paths(monkeypatch, run, forced_path)
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)


def test_served_sizes_take_the_fast_paths(monkeypatch: pytest.MonkeyPatch, forced_path: str) -> None:
    # With the default thresholds (the fixture's forcing undone), a served batch takes the
    # fast paths and the seed's network the gather.
    for module, name, value in DEFAULTS:
        monkeypatch.setattr(module, name, value)
    net = served_net(1, 28, 8)
    big = forward(net, init_params(net, 0), np.zeros((32, 1, 28, 28)), np.zeros(32))
    assert "gather" not in big.caches[0] and "planes" in big.caches[2]
    seed = forward(read_spec(), init_params(read_spec(), 0), np.zeros((1, 1, 6, 6)), np.zeros(1))
    assert "gather" in seed.caches[0] and "planes" not in seed.caches[2]
