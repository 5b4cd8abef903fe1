"""Record.masks(): for each max-pool output P{k}, a 0/1 array shaped like the pool's input that
marks exactly the cells that won a window; on ties, the first maximum in row-major order
(PyTorch's rule, and the cell the backward pass routes the gradient to).

To control the pool's input exactly, most tests put a 1x1 identity convolution (W1 = I,
b1 = 0) in front of the pool, so Z1 == X bit for bit and the mask is "P1"'s, as on the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import FLATTEN, RELU, SIGMOID, conv, dense, draw_case, pool, spec

from engine import Network, Record, backward, forward, init_params, read_spec

Array = np.ndarray


def oracle_mask(a: Array, kernel: tuple[int, int], stride: tuple[int, int]) -> Array:
    """Explicit loops: mark the first maximum (row-major, strict >) of every window."""
    n, c, h, w = a.shape
    kh, kw = kernel
    sh, sw = stride
    mask = np.zeros_like(a)
    for b in range(n):
        for ch in range(c):
            for i in range((h - kh) // sh + 1):
                for j in range((w - kw) // sw + 1):
                    best = (i * sh, j * sw)
                    for r in range(i * sh, i * sh + kh):
                        for q in range(j * sw, j * sw + kw):
                            if a[b, ch, r, q] > a[b, ch, best[0], best[1]]:
                                best = (r, q)
                    mask[b, ch, best[0], best[1]] = 1.0
    return mask


def identity_pool_net(c: int, h: int, w: int, kernel: Any, stride: Any) -> tuple[Network, dict[str, Array]]:
    net = read_spec(spec([c, h, w], [conv(c, 1), pool(kernel, stride), FLATTEN, dense(1), SIGMOID]))
    params = {"W1": np.eye(c).reshape(c, c, 1, 1), "b1": np.zeros(c), "W2": np.ones((1, net.shapes()["F"][0])),
              "b2": np.zeros(1)}
    return net, params


def pooled(net: Network, params: dict[str, Array], x: Array) -> Record:
    rec = forward(net, params, x, np.zeros(x.shape[0]))
    np.testing.assert_array_equal(rec.activations["Z1"], x)  # the pool really sees x
    return rec


def check_mask(rec: Record, name: str, source: str) -> Array:
    layer = next(layer for layer in rec.net.layers if layer.out == name)
    mask = rec.masks()[name]
    a = rec.activations[source]
    assert mask.shape == a.shape and mask.dtype == np.float64
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(mask, oracle_mask(a, layer.kernel, layer.stride))
    # Every pooled value is the value of a marked cell.
    assert set(np.unique(rec.activations[name])) <= set(np.unique(a[mask == 1]))
    return mask


# ----------------------------------------------------------------------------- hand-made
def test_hand_example_non_overlapping_with_ties() -> None:
    x = np.array([[1, 1, 0, 2],
                  [1, 0, 2, 2],
                  [3, 0, 5, 5],
                  [0, 3, 5, 5]], dtype=np.float64).reshape(1, 1, 4, 4)
    net, params = identity_pool_net(1, 4, 4, 2, 2)
    rec = pooled(net, params, x)
    # Windows: [1 1; 1 0] -> (0,0); [0 2; 2 2] -> (0,3); [3 0; 0 3] -> (2,0); all 5 -> (2,2).
    expected = np.array([[1, 0, 0, 1],
                         [0, 0, 0, 0],
                         [1, 0, 1, 0],
                         [0, 0, 0, 0]], dtype=np.float64)
    np.testing.assert_array_equal(rec.masks()["P1"][0, 0], expected)
    np.testing.assert_array_equal(rec.activations["P1"][0, 0], [[1, 2], [3, 5]])


def test_hand_example_overlapping_shared_winner() -> None:
    # Kernel 2 stride 1 on 3x3: (0,1) wins the two top windows (the 2 at (0,1) comes before
    # the 2s at (0,2) and (1,2)); the bottom windows are won by (1,0) and (1,2).
    x = np.array([[1, 2, 2],
                  [2, 0, 2],
                  [1, 2, 1]], dtype=np.float64).reshape(1, 1, 3, 3)
    net, params = identity_pool_net(1, 3, 3, 2, 1)
    rec = pooled(net, params, x)
    np.testing.assert_array_equal(rec.masks()["P1"][0, 0], [[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    # The gradient follows the mask: (0,1) collects both top windows' gradients.
    grads = backward(rec)
    dp = grads["dP1"][0, 0]
    np.testing.assert_allclose(grads["dZ1"][0, 0], [[0, dp[0, 0] + dp[0, 1], 0], [dp[1, 0], 0, dp[1, 1]], [0, 0, 0]],
                               rtol=1e-15)


def test_all_equal_input_marks_each_windows_first_cell() -> None:
    net, params = identity_pool_net(2, 6, 6, 2, 2)
    rec = pooled(net, params, np.full((3, 2, 6, 6), 0.25))
    expected = np.zeros((3, 2, 6, 6))
    expected[:, :, ::2, ::2] = 1.0
    np.testing.assert_array_equal(rec.masks()["P1"], expected)


# ----------------------------------------------------------------------------- random, with and without ties
POOLS: list[tuple[Any, Any]] = [(2, 2), (3, 2), (2, 1), ([2, 3], [1, 2]), (2, 3), (3, 3)]


@pytest.mark.parametrize("kernel, stride", POOLS, ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_mask_matches_oracle(kernel: Any, stride: Any, ties: bool) -> None:
    # Batches of 3, 1-3 channels; values either all distinct or from {0, 1, 2} (ties everywhere).
    rng = np.random.default_rng(0)
    for c in (1, 3):
        net, params = identity_pool_net(c, 7, 8, kernel, stride)
        shape = (3, c, 7, 8)
        x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.standard_normal(shape)
        rec = pooled(net, params, x)
        mask = check_mask(rec, "P1", "Z1")
        layer = net.layers[1]
        windows = layer.out_shape[1] * layer.out_shape[2]  # per (example, channel) map
        per_map = mask.reshape(3 * c, -1).sum(axis=1)
        # Non-overlapping windows have distinct winners; overlapping ones may share.
        overlapping = any(k > s for k, s in zip(layer.kernel, layer.stride))
        assert np.all(per_map == windows) if not overlapping else np.all((per_map >= 1) & (per_map <= windows))


# ----------------------------------------------------------------------------- real networks
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seed_network_mask_on_relu_output(seed: int) -> None:
    # After the ReLU, dead windows are ties of zeros: the first cell is marked.
    net = read_spec()
    x = np.random.default_rng(seed).standard_normal((4, 1, 6, 6))
    rec = forward(net, init_params(net, seed), x, np.zeros(4))
    assert set(rec.masks()) == {"P1"}
    mask = check_mask(rec, "P1", "A1")
    assert np.all(mask.reshape(4, -1).sum(axis=1) == 4)  # 4 non-overlapping windows, 4 winners
    # The backward pass routes dP1 exactly to the marked cells.
    grads = backward(rec)
    assert np.all(grads["dP1"] != 0)
    np.testing.assert_array_equal(grads["dA1"] != 0, mask == 1)


def test_two_pools_each_get_a_mask() -> None:
    net = read_spec(spec([2, 12, 12], [conv(3, 3, 1, 1), RELU, pool(2), conv(2, 3), RELU, pool(3, 2), FLATTEN,
                                       dense(1), SIGMOID]))
    params, x, y = draw_case(net, 2, seed=0)
    rec = forward(net, params, x, y)
    assert set(rec.masks()) == {"P1", "P2"}
    check_mask(rec, "P1", "A1")
    check_mask(rec, "P2", "A2")


def test_no_pool_no_masks() -> None:
    net = read_spec(spec([1, 5, 5], [conv(1, 3), RELU, FLATTEN, dense(1), SIGMOID]))
    rec = forward(net, init_params(net, 0), np.ones((1, 1, 5, 5)), np.zeros(1))
    assert rec.masks() == {}
