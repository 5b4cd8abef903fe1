"""The engine against PyTorch (float64, CPU) on the same network and parameters: the loss,
every activation, and every gradient (parameters, dX and each intermediate array, the
latter through retain_grad). Agreement is to round-off (rtol 1e-10, atol 1e-12), which a
different convention anywhere (cross-correlation vs convolution, flatten order, max-pool
tie-breaking, the 1/N of the mean) would break.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import FLATTEN, NETWORK_CASES, SIGMOID, TYPE_CASES, conv, dense, draw_case, pool, spec, window_view

from engine import Network, backward, check_input, check_labels, check_params, forward, init_params, read_spec
from engine.layers import REGISTRY

torch = pytest.importorskip("torch")
F = torch.nn.functional

Array = np.ndarray
RTOL, ATOL = 1e-10, 1e-12


# Each layer type of the registry as PyTorch computes it: one line per type, and a test below
# fails when a type of the registry has none, so a new type cannot be left out of the check.
TORCH_OPS: dict[str, Any] = {
    "conv2d": lambda h, layer, p: F.conv2d(h, *p, stride=layer.stride, padding=layer.padding),
    "maxpool2d": lambda h, layer, p: F.max_pool2d(h, layer.kernel, layer.stride),
    "avgpool2d": lambda h, layer, p: F.avg_pool2d(h, layer.kernel, layer.stride),
    "flatten": lambda h, layer, p: torch.flatten(h, 1),
    "dense": lambda h, layer, p: F.linear(h, *p),
    "relu": lambda h, layer, p: F.relu(h),
    "leaky_relu": lambda h, layer, p: F.leaky_relu(h, layer.negative_slope),
    "sigmoid": lambda h, layer, p: torch.sigmoid(h),
    "tanh": lambda h, layer, p: torch.tanh(h),
    "softmax": lambda h, layer, p: torch.softmax(h, dim=1),
}


def test_every_registered_type_has_a_torch_counterpart() -> None:
    assert set(TORCH_OPS) == set(REGISTRY)


@pytest.mark.parametrize("kind", sorted(TYPE_CASES))
def test_every_layer_type_against_torch(kind: str) -> None:
    net_spec, n = TYPE_CASES[kind]
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed=13)
    crosscheck(net, params, x, y)


def torch_pass(net: Network, params: dict[str, Array], x: Array,
               y: Array) -> tuple[float, dict[str, Array], dict[str, Array]]:
    """The network in PyTorch: (loss, activations, gradients) with our names. The loss is
    computed from the logits (BCE-with-logits / cross_entropy, mean over the batch); the
    final sigmoid/softmax output gets its gradient from the same loss written on the
    probabilities (binary_cross_entropy / -mean log a_y), which is what our dA reports."""
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    acts = {"X": tx}
    h = tx
    for layer in net.layers:
        h = TORCH_OPS[layer.type](h, layer, [tp[n] for n in layer.params])
        h.retain_grad()
        acts[layer.out] = h

    logits = acts[net.layers[-2].out]
    if net.loss == "bce":
        ty = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
        loss = F.binary_cross_entropy_with_logits(logits, ty)
    else:
        ty = torch.tensor(y, dtype=torch.int64)
        loss = F.cross_entropy(logits, ty)
    loss.backward()

    out_name = net.layers[-1].out
    a = acts[out_name].detach().clone().requires_grad_(True)
    if net.loss == "bce":
        prob_loss = F.binary_cross_entropy(a, ty)
    else:  # log of the true class only: log(0) at a saturated wrong class would make NaNs
        prob_loss = -torch.log(a.gather(1, ty.reshape(-1, 1))).mean()
    prob_loss.backward()

    grads = {"d" + k: t.grad.numpy() for k, t in tp.items()}
    grads.update({"d" + k: t.grad.numpy() for k, t in acts.items() if k != out_name})
    grads["d" + out_name] = a.grad.numpy()
    return float(loss.detach()), {k: t.detach().numpy() for k, t in acts.items()}, grads


def crosscheck(net: Network, params: dict[str, Array], x: Array, y: Array,
               output_grad: bool = True) -> dict[str, Array]:
    """Compare everything; ``output_grad`` False leaves out dL/dA of the final sigmoid, which
    torch cannot give accurately once a = 1.0 or 0.0 in float64 (see test_saturated_logits)."""
    rec = forward(net, params, x, y)
    ours = backward(rec)
    loss, acts, grads = torch_pass(net, params, x, y)
    assert rec.loss == pytest.approx(loss, rel=RTOL, abs=ATOL)
    assert list(rec.activations) == list(acts)
    for name, value in rec.activations.items():
        np.testing.assert_allclose(value, acts[name], rtol=RTOL, atol=ATOL, err_msg=name)
    # Every gradient we record has a torch counterpart: all parameters and all activations.
    assert set(ours) == set(grads) == {"d" + n for n in [*net.param_shapes, *net.activation_names]}
    for name, value in ours.items():
        assert value.shape == grads[name].shape, name
        if not output_grad and name == "d" + net.layers[-1].out:
            continue
        np.testing.assert_allclose(value, grads[name], rtol=RTOL, atol=ATOL, err_msg=name)
    return ours


# ----------------------------------------------------------------------------- networks
@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seed_network(seed: int, y: float) -> None:
    net = read_spec()
    params = init_params(net, seed)
    x = check_input(net, np.random.default_rng(seed).standard_normal((6, 6)))
    crosscheck(net, params, x, check_labels(net, y, 1))


@pytest.mark.parametrize("name", sorted(NETWORK_CASES))
def test_networks(name: str) -> None:
    # Multi-channel two-block net with padding, stride + padding, overlapping pools
    # (3/2 and 2/1), intermediate sigmoids, softmax + cross-entropy over 3, 7 and 10 classes,
    # batches of 2-5 with the mean loss.
    net_spec, n = NETWORK_CASES[name]
    net = read_spec(net_spec)
    params, x, y = draw_case(net, n, seed=11)
    crosscheck(net, params, x, y)


def test_saturated_logits() -> None:
    # Large weights push the logits to |z| of 30-60: loss and gradients computed from the
    # logits must still agree with torch's.
    net = read_spec(NETWORK_CASES["softmax10"][0])
    params, x, y = draw_case(net, 5, seed=3)
    params = {k: 40.0 * v for k, v in params.items()}
    crosscheck(net, params, x, y)

    net = read_spec()
    params = {k: 20.0 * v for k, v in init_params(net, 4).items()}
    x = np.random.default_rng(4).standard_normal((3, 1, 6, 6))
    y = np.array([0.0, 1.0, 1.0])
    grads = crosscheck(net, params, x, y, output_grad=False)
    # Here a2 rounds to 1.0 or 0.0, where torch's binary_cross_entropy clamps a (1 - a) at
    # 1e-12 (so its dA is off by orders of magnitude); ours comes from the logit z and is the
    # exact derivative: (1 + e^z) / N for y = 0, -(1 + e^-z) / N for y = 1.
    z = forward(net, params, x, y).activations["Z2"][:, 0]
    assert np.abs(z).min() > 28  # saturated: 1 - sigmoid(28) < 1e-12
    expected = np.where(y == 0, 1 + np.exp(z), -(1 + np.exp(-z))) / 3
    np.testing.assert_allclose(grads["dA2"][:, 0], expected, rtol=1e-14)


# ----------------------------------------------------------------------------- max-pool ties
TIE_POOLS: list[tuple[Any, Any]] = [(2, 2), (3, 2), (2, 1), ([2, 3], [1, 2])]


@pytest.mark.parametrize("kernel, stride", TIE_POOLS, ids=str)
def test_maxpool_ties_route_like_torch(kernel: Any, stride: Any) -> None:
    # The pool reads the input directly, and the input only takes the values 0, 1, 2, so
    # nearly every window has tied maxima. Both engines must send the gradient to the first
    # maximum in row-major order: dX (checked in crosscheck) must match exactly.
    net = read_spec(spec([2, 7, 7], [pool(kernel, stride), FLATTEN, dense(3), SIGMOID, dense(1), SIGMOID]))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(3, 2, 7, 7)).astype(np.float64)
    layer = net.layers[0]
    windows = window_view(x, layer.kernel, layer.stride)
    flat = windows.reshape(*windows.shape[:4], -1)
    assert ((flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).mean() > 0.3  # many ties
    params, _, _ = draw_case(net, 3, seed=1)
    grads = crosscheck(net, params, x, np.array([0.0, 1.0, 1.0]))
    # At most one cell per window receives gradient (fewer when windows share a winner).
    hit = (grads["dX"] != 0).reshape(3, -1).sum(axis=1)
    assert np.all(hit >= 1) and np.all(hit <= int(np.prod(layer.out_shape)))


def test_all_ones_seed_network_ties_like_torch() -> None:
    # The hand example: every pool window of A1 is a 4-way tie of 0.9.
    net = read_spec()
    params = check_params(net, {"W1": np.full((3, 3), 0.1), "b1": 0.0, "W2": np.ones(4), "b2": 0.0})
    grads = crosscheck(net, params, np.ones((1, 1, 6, 6)), np.array([1.0]))
    np.testing.assert_array_equal(grads["dA1"][0, 0] != 0, np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]) == 1)


def test_dead_relu_windows_like_torch() -> None:
    # A negative bias kills most of Z1: windows of A1 full of tied zeros route their gradient
    # to their first cell (torch does too), where the ReLU then stops it.
    net = read_spec(NETWORK_CASES["two_conv_blocks"][0])
    params, x, y = draw_case(net, 2, seed=2)
    params["b1"] = params["b1"] - 1.0
    a1 = forward(net, params, x, y).activations["A1"]
    assert (window_view(a1, (2, 2), (2, 2)).max(axis=(-2, -1)) == 0).sum() > 10  # all-zero windows
    crosscheck(net, params, x, y)


# ----------------------------------------------------------------------------- init
def _fan_in(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[1:]))


INIT_NET = spec([3, 16, 16], [conv(64, 3), SIGMOID, pool(4), FLATTEN, dense(40), SIGMOID, dense(1), SIGMOID])


def test_init_params_follow_uniform_fan_in_bounds() -> None:
    # PyTorch's default init: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
    # fan_in = C kh kw for a conv and D for a dense layer. Statistical check on large arrays:
    # nothing outside the bound, the extremes close to it, mean ~ 0, std ~ bound / sqrt(3).
    net = read_spec(INIT_NET)
    params = init_params(net, seed=0)
    assert {k: v.shape for k, v in params.items()} == net.param_shapes
    for k, v in params.items():
        assert v.dtype == np.float64
        bound = 1.0 / np.sqrt(_fan_in(net.param_shapes["W" + k[1:]]))
        assert np.abs(v).max() <= bound, k
        if v.size >= 500:  # W1: 1728 entries, W2: 40 * 64 * 3 * 3 = 23040 entries
            assert v.max() > 0.99 * bound and v.min() < -0.99 * bound, k
            assert abs(v.mean()) < 4 * bound / np.sqrt(3 * v.size), k
            assert v.std() == pytest.approx(bound / np.sqrt(3), rel=0.05), k
    # Biases are small arrays: pool them over many seeds.
    b1 = np.concatenate([init_params(net, seed=s)["b1"] for s in range(20)])  # 1280 values
    bound = 1.0 / np.sqrt(3 * 3 * 3)
    assert np.abs(b1).max() <= bound and b1.max() > 0.99 * bound and b1.min() < -0.99 * bound


def test_init_params_is_seeded() -> None:
    net = read_spec()
    a, b, c = init_params(net, 5), init_params(net, 5), init_params(net, 6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_init_bounds_match_torch_layers() -> None:
    # Same distribution as torch.nn.Conv2d / nn.Linear (not the same RNG): torch's samples
    # also stay inside our bound and reach close to it.
    torch.manual_seed(0)
    net = read_spec(INIT_NET)
    conv_layer, dense_layer = torch.nn.Conv2d(3, 64, 3), torch.nn.Linear(64 * 3 * 3, 40)
    for module, wname in ((conv_layer, "W1"), (dense_layer, "W2")):
        bound = 1.0 / np.sqrt(_fan_in(net.param_shapes[wname]))
        w = module.weight.detach().double().numpy()
        assert w.shape == net.param_shapes[wname]
        assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.99 * bound
        assert np.abs(module.bias.detach().double().numpy()).max() <= bound * (1 + 1e-6)


def test_leaky_relu_at_zero_takes_the_slope_as_torch() -> None:
    net = read_spec(spec([1, 1, 4], [FLATTEN, dense(4), {"type": "leaky_relu", "negative_slope": 0.3}, dense(1),
                                     SIGMOID]))
    params = init_params(net, 0)
    params["W1"], params["b1"] = np.eye(4), np.zeros(4)
    x = check_input(net, np.array([[[-2.0, 0.0, 0.0, 3.0]]]))
    ours = crosscheck(net, params, x, check_labels(net, 1.0, 1))
    rec = forward(net, params, x, check_labels(net, 1.0, 1))
    backward(rec)
    np.testing.assert_array_equal(rec.local_derivatives()["dA1/dZ1"], [[0.3, 0.3, 0.3, 1.0]])
    assert ours["dZ1"][0, 1] == 0.3 * ours["dA1"][0, 1]
