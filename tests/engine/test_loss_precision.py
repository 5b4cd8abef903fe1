"""The losses are exact at the edges: the loss and loss_after equal the exact softplus form
max((1-2y) z, 0) + log1p(e^-|z|) to 1e-12 relative for every logit in [-1e4, 1e4] and both
labels (torch where it is exact), and cross-entropy equals (m - z_y) + log1p(sum of the
others' e^(z - m)), so a confident correct prediction keeps its tiny loss instead of 0."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from engine_testlib import FLATTEN, SIGMOID, SOFTMAX, dense, spec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import check_input, check_labels, read_spec, train_step
from engine.losses import LOSSES

BCE, CE = LOSSES["bce"], LOSSES["cross_entropy"]
LOGITS = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


def exact_bce(z: float, y: float) -> float:
    t = (1 - 2 * y) * z
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def exact_ce(z: list[float], y: int) -> float:
    m = max(z)
    top = z.index(m)
    rest = math.fsum(math.exp(v - m) for k, v in enumerate(z) if k != top)
    return (m - z[y]) + math.log1p(rest)


def close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * abs(b)


@settings(max_examples=400, deadline=None)
@given(z=LOGITS, y=st.sampled_from([0.0, 1.0]))
def test_bce_is_exact_for_every_logit(z: float, y: float) -> None:
    assert close(BCE.value(np.array([[z]]), np.array([y])), exact_bce(z, y))


@pytest.mark.parametrize("z, expected", [(10.0, 4.539889921686465e-05), (20.0, 2.061153620314381e-09),
                                         (30.0, 9.357622968839737e-14), (700.0, 9.85967654375977e-305)])
def test_confident_correct_bce_keeps_its_tiny_loss(z: float, expected: float) -> None:
    # y = 1 at logit z: log(1 + e^-z), which the old logaddexp(0, z) - z form rounded to 0 past z = 37
    assert close(BCE.value(np.array([[z]]), np.array([1.0])), expected)
    assert close(BCE.value(np.array([[-z]]), np.array([0.0])), expected)  # the mirror case


@settings(max_examples=300, deadline=None)
@given(z=st.lists(LOGITS, min_size=2, max_size=6), data=st.data())
def test_cross_entropy_is_exact_for_every_logit(z: list[float], data: st.DataObject) -> None:
    y = data.draw(st.integers(0, len(z) - 1))
    assert close(CE.value(np.array([z]), np.array([y])), exact_ce(z, y))


def test_cross_entropy_of_a_confident_correct_prediction_is_not_zero() -> None:
    # logsumexp(z) - z_y gives 0 here; the exact value is log1p(2 e^-40) = 8.5e-18
    assert close(CE.value(np.array([[40.0, 0.0, 0.0]]), np.array([0])), math.log1p(2 * math.exp(-40)))


@pytest.mark.parametrize("z", [-30.0, 5.0, 30.0, 45.0, 200.0])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_loss_after_is_exact_too(z: float, y: float) -> None:
    # A network whose logit is its input: dense W = 1, b = 0; loss_after is the same form.
    net = read_spec(spec([1, 1, 1], [FLATTEN, dense(1), SIGMOID]))
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    step = train_step(net, params, check_input(net, [[[z]]]), check_labels(net, y, 1), 1e-3)
    assert close(step.record.loss, exact_bce(z, y))
    z_after = float(step.params["W1"][0, 0]) * z + float(step.params["b1"][0])
    assert close(step.loss_after, exact_bce(z_after, y))


def test_cross_entropy_network_loss_is_exact() -> None:
    net = read_spec(spec([1, 1, 3], [FLATTEN, dense(3), SOFTMAX], "cross_entropy"))
    params = {"W1": np.eye(3), "b1": np.zeros(3)}
    step = train_step(net, params, check_input(net, [[[40.0, 0.0, 0.0]]]), check_labels(net, 0, 1), 1e-3)
    assert close(step.record.loss, exact_ce([40.0, 0.0, 0.0], 0))


torch = pytest.importorskip("torch")


@settings(max_examples=200, deadline=None)
@given(z=LOGITS)
def test_bce_matches_torch_where_torch_is_exact(z: float) -> None:
    # torch's binary_cross_entropy_with_logits is exact for y = 1 (and loses precision in the
    # mirror case y = 0 at z << 0, where we follow the exact form instead)
    # ... and for results in the normal range: below it (z > 708) float64 has fewer digits, and
    # torch's answer is then an ulp off the correctly rounded e^-z that ours gives.
    ours = BCE.value(np.array([[z]]), np.array([1.0]))
    theirs = float(torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([z], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)))
    if theirs >= sys.float_info.min:
        assert close(ours, theirs)


@settings(max_examples=200, deadline=None)
@given(z=st.lists(st.floats(-50, 50), min_size=2, max_size=5), data=st.data())
def test_cross_entropy_matches_torch(z: list[float], data: st.DataObject) -> None:
    y = data.draw(st.integers(0, len(z) - 1))
    ours = CE.value(np.array([z]), np.array([y]))
    theirs = float(torch.nn.functional.cross_entropy(torch.tensor([z], dtype=torch.float64), torch.tensor([y])))
    assert abs(ours - theirs) <= 1e-12 * max(abs(theirs), 1.0) + 4e-16 * max(map(abs, z))
