"""engine.optim against updates worked out by hand in the test, and against torch.optim.

Every optimizer is in PyTorch's formulation: SGD is the seed's W - eta dW; momentum's first
step uses the gradient itself as the velocity (v = g), then v = mu v + g; Adam's moments are
bias-corrected.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.optim import OPTIMIZERS, SGD, Adam, Momentum, make

LR = 0.1
W0 = np.array([1.0, -2.0])
# Three steps' gradients, chosen so every number below can be checked with pencil and paper.
GRADS = [np.array([0.5, 1.0]), np.array([1.0, -1.0]), np.array([-0.5, 2.0])]


def run(opt: SGD | Momentum | Adam, w0: np.ndarray, grads: list[np.ndarray]) -> list[np.ndarray]:
    """The weights after each step (a single parameter named W)."""
    params = {"W": w0.copy()}
    out = []
    for g in grads:
        params = opt.step(params, {"dW": g})
        out.append(params["W"])
    return out


def test_make_builds_each_optimizer_with_pytorch_defaults() -> None:
    assert set(OPTIMIZERS) == {"sgd", "momentum", "adam"}
    assert make("sgd", 0.5) == SGD(lr=0.5)
    mom = make("momentum", 0.5)
    assert isinstance(mom, Momentum) and mom.lr == 0.5 and mom.momentum == 0.9
    adam = make("adam", 0.01)
    assert isinstance(adam, Adam)
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps, adam.t) == (0.01, 0.9, 0.999, 1e-8, 0)
    with pytest.raises(KeyError):
        make("rmsprop", 0.1)


def test_sgd_is_w_minus_lr_dw() -> None:
    steps = run(SGD(lr=LR), W0, GRADS)
    # W1 = [1 - 0.05, -2 - 0.1]; W2 = W1 - 0.1 [1, -1]; W3 = W2 - 0.1 [-0.5, 2]
    expected = [[0.95, -2.1], [0.85, -2.0], [0.9, -2.2]]
    for got, want in zip(steps, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_sgd_updates_every_parameter_and_leaves_the_input_alone() -> None:
    params = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}
    grads = {"dW1": np.full((2, 2), 2.0), "db1": np.array([1.0, -1.0])}
    out = SGD(lr=0.25).step(params, grads)
    np.testing.assert_array_equal(out["W1"], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(out["b1"], [-0.25, 0.25])
    np.testing.assert_array_equal(params["W1"], np.ones((2, 2)))  # not updated in place
    np.testing.assert_array_equal(params["b1"], np.zeros(2))


def test_momentum_three_steps_by_hand() -> None:
    opt = Momentum(lr=LR)
    steps = run(opt, W0, GRADS)
    # step 1: v = g1 = [0.5, 1]                          W = [1, -2] - 0.1 v  = [0.95, -2.1]
    # step 2: v = 0.9 [0.5, 1] + [1, -1] = [1.45, -0.1]  W = [0.95, -2.1] - 0.1 v = [0.805, -2.09]
    # step 3: v = 0.9 [1.45, -0.1] + [-0.5, 2] = [0.805, 1.91]
    #                                                    W = [0.805, -2.09] - 0.1 v = [0.7245, -2.281]
    expected = [[0.95, -2.1], [0.805, -2.09], [0.7245, -2.281]]
    for got, want in zip(steps, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(opt.velocity["W"], [0.805, 1.91], rtol=0, atol=1e-14)


def test_momentum_first_velocity_is_the_gradient_not_a_damped_one() -> None:
    # With v0 = 0 and v = mu v + g the first step would be the same; with a (1 - mu) damping
    # it would be ten times smaller. PyTorch (dampening 0) takes exactly W - lr g.
    opt = Momentum(lr=1.0, momentum=0.5)
    g = np.array([4.0])
    w1 = opt.step({"W": np.zeros(1)}, {"dW": g})["W"]
    assert w1[0] == -4.0
    assert opt.velocity["W"][0] == 4.0
    g[0] = 100.0  # the velocity is a copy: the caller's gradient array may be reused
    assert opt.velocity["W"][0] == 4.0


def adam_by_hand(w0: list[float], grads: list[np.ndarray], lr: float, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8) -> list[list[float]]:
    """Adam, element by element in plain floats, straight from the paper's formulas."""
    w = list(w0)
    m = [0.0] * len(w)
    v = [0.0] * len(w)
    out = []
    for t, g in enumerate(grads, start=1):
        for i in range(len(w)):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            w[i] = w[i] - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(list(w))
    return out


def test_adam_first_step_is_lr_times_the_sign() -> None:
    # Bias correction makes m^ = g and v^ = g^2 after one step: W1 = W0 - lr g / (|g| + eps).
    w1 = run(Adam(lr=LR), W0, GRADS[:1])[0]
    expected = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 - 0.1 * 1.0 / (1.0 + 1e-8)]
    np.testing.assert_allclose(w1, expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(w1, [0.9, -2.1], rtol=0, atol=1e-8)


def test_adam_three_steps_by_hand() -> None:
    opt = Adam(lr=LR)
    steps = run(opt, W0, GRADS)
    expected = adam_by_hand(W0.tolist(), GRADS, LR)
    for got, want in zip(steps, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert opt.t == 3
    # The moments themselves, by hand: m3 = 0.1 (0.81 g1 + 0.9 g2 + g3), v3 = 0.001 (0.998001 g1^2 + ...)
    g1, g2, g3 = GRADS
    np.testing.assert_allclose(opt.m["W"], 0.1 * (0.81 * g1 + 0.9 * g2 + g3), rtol=1e-14)
    np.testing.assert_allclose(opt.v["W"], 0.001 * (0.999**2 * g1**2 + 0.999 * g2**2 + g3**2), rtol=1e-14)


def test_adam_second_step_with_worked_numbers() -> None:
    # One weight, g = 1 then g = 3, lr 1, eps 0:
    #   m1 = 0.1, v1 = 0.001 -> W1 = 0 - 1 * 1 / 1 = -1
    #   m2 = 0.09 + 0.3 = 0.39, v2 = 0.000999 + 0.009 = 0.009999
    #   m^ = 0.39 / 0.19, v^ = 0.009999 / 0.001999 -> W2 = -1 - m^ / sqrt(v^)
    opt = Adam(lr=1.0, eps=0.0)
    w1, w2 = run(opt, np.zeros(1), [np.array([1.0]), np.array([3.0])])
    assert w1[0] == pytest.approx(-1.0, abs=1e-15)
    assert w2[0] == pytest.approx(-1.0 - (0.39 / 0.19) / math.sqrt(0.009999 / 0.001999), rel=1e-13)


# ----------------------------------------------------------------------------- torch.optim
def torch_run(kind: str, params: dict[str, np.ndarray], grads: list[dict[str, np.ndarray]],
              lr: float) -> list[dict[str, np.ndarray]]:
    torch = pytest.importorskip("torch")
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    if kind == "sgd":
        opt = torch.optim.SGD(list(tensors.values()), lr=lr)
    elif kind == "momentum":
        opt = torch.optim.SGD(list(tensors.values()), lr=lr, momentum=0.9)
    else:
        opt = torch.optim.Adam(list(tensors.values()), lr=lr)
    out = []
    for g in grads:
        for k, t in tensors.items():
            t.grad = torch.tensor(g["d" + k], dtype=torch.float64)
        opt.step()
        out.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return out


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("lr", [0.01, 0.5])
def test_matches_torch_optim_over_five_steps(kind: str, lr: float) -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    params = {"W1": rng.standard_normal((2, 1, 3, 3)), "b1": rng.standard_normal(2), "W2": rng.standard_normal((1, 8))}
    # Gradients of mixed scale and sign, including an exact zero (Adam: 0 / (0 + eps)).
    grads = []
    for step in range(5):
        g = {"d" + k: rng.standard_normal(v.shape) * 10.0 ** rng.integers(-3, 2, v.shape) for k, v in params.items()}
        g["db1"][0] = 0.0 if step < 2 else g["db1"][0]
        grads.append(g)
    expected = torch_run(kind, params, grads, lr)
    opt = make(kind, lr)
    current = {k: v.copy() for k, v in params.items()}
    for step, (g, want) in enumerate(zip(grads, expected), start=1):
        current = opt.step(current, g)
        for k in params:
            np.testing.assert_allclose(current[k], want[k], rtol=0, atol=1e-12, err_msg=f"{kind} step {step} {k}")
