"""engine.train: the seed's network learns its task, a two-block CNN learns the digits, a
runaway learning rate stops the run with its last finite parameters, and a dataset that
does not fit the network is refused before any work."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import LINEAR_STACK_SPEC, TWO_BLOCK_SPEC

from engine import backward, forward, init_params, read_spec
from engine.datasets import load
from engine.optim import SGD
from engine.train import (
    TRAIN_EVAL,
    DatasetMismatch,
    Trainer,
    accuracy,
    check_fit,
    eval_every,
    labels_for,
    run_macs,
    train,
)

SEED_NET = read_spec()

def finite(params: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(v).all() for v in params.values())


def assert_history_well_formed(history: list[dict[str, Any]], iterations: int) -> None:
    assert history, "no history points"
    its = [p["iteration"] for p in history]
    assert its == sorted(set(its)) and its[-1] <= iterations
    for p in history:
        assert set(p) == {"iteration", "loss", "train_accuracy", "test_accuracy"}
        assert isinstance(p["loss"], float) and np.isfinite(p["loss"]) and p["loss"] >= 0.0
        assert 0.0 <= p["train_accuracy"] <= 1.0 and 0.0 <= p["test_accuracy"] <= 1.0


def test_seed_network_learns_bars_to_full_test_accuracy() -> None:
    """The README's claim: the seed's network, SGD lr 0.5, batch 16, 1500 iterations."""
    params = init_params(SEED_NET, seed=0)
    before = {k: v.copy() for k, v in params.items()}
    t = train(SEED_NET, params, load("bars"), iterations=1500, batch_size=16, learning_rate=0.5, optimizer="sgd",
              seed=0)
    assert t.diverged_at is None
    assert t.iteration == 1500
    assert_history_well_formed(t.history, 1500)
    assert len(t.history) == 50 and t.history[0]["iteration"] == 30 and t.history[-1]["iteration"] == 1500
    assert t.history[-1]["test_accuracy"] == 1.0
    assert t.history[-1]["train_accuracy"] == 1.0
    first, last = t.history[0]["loss"], t.history[-1]["loss"]
    assert last < 0.1 * first, (first, last)
    # the caller's params are not trained in place
    for k in before:
        np.testing.assert_array_equal(params[k], before[k])
    assert finite(t.params)
    assert {k: v.shape for k, v in t.params.items()} == {k: v.shape for k, v in params.items()}
    # the final point's accuracy is the final params' accuracy
    d = load("bars")
    assert accuracy(SEED_NET, t.params, d.x_test, d.y_test) == 1.0


def test_two_block_cnn_learns_the_ten_digits() -> None:
    """The README's claim: the page's two-block preset, Adam lr 0.01, batch 32, 600 iterations."""
    net = read_spec(TWO_BLOCK_SPEC)
    t = train(net, init_params(net, seed=0), load("digits"), iterations=600, batch_size=32, learning_rate=0.01,
              optimizer="adam", seed=0, points=10)
    assert t.diverged_at is None and t.iteration == 600
    assert_history_well_formed(t.history, 600)
    assert len(t.history) == 10
    assert t.history[-1]["test_accuracy"] >= 0.97, t.history  # 98.3% here (README)
    first, last = t.history[0]["loss"], t.history[-1]["loss"]
    assert last < 0.5 * first, (first, last)
    # the very first minibatches' loss is about log(10) (uniform guess); it ends far below
    assert last < 0.5


def test_loss_decreases_with_momentum_on_strokes() -> None:
    """A third optimizer and a 4-class softmax network on the 6x6 synthetic set."""
    net = read_spec({"input_shape": [1, 6, 6], "layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": 3}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "softmax"}], "loss": "cross_entropy"})
    t = train(net, init_params(net, seed=0), load("strokes"), iterations=400, batch_size=16, learning_rate=0.05,
              optimizer="momentum", seed=0, points=4)
    assert t.diverged_at is None
    assert_history_well_formed(t.history, 400)
    losses = [p["loss"] for p in t.history]
    assert losses[-1] < losses[0], losses
    assert t.history[-1]["test_accuracy"] > 0.5  # well above the 0.25 of guessing


def test_same_seed_same_run_and_chunking_does_not_matter() -> None:
    d = load("bars")
    params = init_params(SEED_NET, seed=0)
    a = train(SEED_NET, params, d, iterations=90, batch_size=16, learning_rate=0.5, seed=3, points=3)
    b = Trainer(SEED_NET, {k: v.copy() for k, v in params.items()}, d, 16, 0.5, "sgd", seed=3)
    for n in (1, 7, 50, 32):  # other chunk sizes, same minibatch sequence
        assert b.run(n)
    assert b.iteration == a.iteration == 90
    for k in params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    c = train(SEED_NET, params, d, iterations=90, batch_size=16, learning_rate=0.5, seed=4, points=3)
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in params)


def test_minibatches_cover_each_epoch_without_repeats() -> None:
    t = Trainer(SEED_NET, init_params(SEED_NET, 0), load("bars"), batch_size=16, learning_rate=0.5)
    n = len(t.y_train)  # 450: 28 full batches of 16 per epoch, the last 2 examples wait for the next epoch
    batches = [t._batch() for _ in range(n // 16)]
    assert all(len(b) == 16 for b in batches)
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen) == 16 * (n // 16)
    assert seen.min() >= 0 and seen.max() < n


def test_batch_larger_than_the_dataset_uses_all_of_it() -> None:
    d = load("digits").select([3, 8])
    net = read_spec({"input_shape": [1, 8, 8], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 1}, {"type": "sigmoid"}], "loss": "bce"})
    n = len(d.y_train)
    t = Trainer(net, init_params(net, 0), d, batch_size=n + 50, learning_rate=0.1)
    for _ in range(2):
        idx = t._batch()
        assert sorted(idx.tolist()) == list(range(n))
    assert t.run(3) and t.iteration == 3
    point = t.evaluate()
    assert point["iteration"] == 3 and np.isfinite(point["loss"])


def test_labels_follow_the_loss() -> None:
    y = np.array([0, 1, 1])
    bce_net = SEED_NET
    ce_net = read_spec(TWO_BLOCK_SPEC)
    assert labels_for(bce_net, y).dtype == np.float64
    assert labels_for(ce_net, y).dtype == np.int64


def test_evaluate_without_steps_has_no_loss() -> None:
    t = Trainer(SEED_NET, init_params(SEED_NET, 0), load("bars"), batch_size=16, learning_rate=0.5)
    point = t.evaluate()
    assert point["iteration"] == 0 and point["loss"] is None
    assert 0.0 <= point["test_accuracy"] <= 1.0
    assert t.history == [point]


# ----------------------------------------------------------------------------- divergence
def check_diverged_run(net_spec: dict[str, Any] | None, dataset: str, lr: float, optimizer: str) -> Trainer:
    """Train until divergence; the result keeps the params from just before the failing step."""
    net = read_spec(net_spec)
    data = load(dataset)
    params = init_params(net, seed=0)
    t = train(net, params, data, iterations=300, batch_size=16, learning_rate=lr, optimizer=optimizer, seed=0,
              points=300)
    assert t.diverged_at is not None, "expected the run to diverge"
    k = t.diverged_at
    assert 1 <= k <= 300 and t.iteration == k - 1
    assert finite(t.params)
    # every history point is from before the failure and finite
    assert all(p["iteration"] <= k - 1 for p in t.history)
    assert all(np.isfinite(p["loss"]) for p in t.history)
    # A second run with the same seed, stopped one step short, has exactly these params;
    # its next step is the one that fails, and leaves them untouched.
    ref = Trainer(net, {kk: v.copy() for kk, v in params.items()}, data, 16, lr, optimizer, seed=0)
    assert ref.run(k - 1)
    before = {kk: v.copy() for kk, v in ref.params.items()}
    for kk in before:
        np.testing.assert_array_equal(t.params[kk], before[kk])
    assert ref.run(1) is False
    assert ref.diverged_at == k and ref.iteration == k - 1
    for kk in before:
        np.testing.assert_array_equal(ref.params[kk], before[kk])
    # and running on after divergence does not move them either
    assert ref.run(5) is False
    for kk in before:
        np.testing.assert_array_equal(ref.params[kk], before[kk])
    return t


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_huge_learning_rate_stops_with_last_finite_params(optimizer: str) -> None:
    # bce from the logits stays finite however large the logits, so the seed's network
    # only fails once its parameters overflow: lr 1e300 does that on the second step.
    t = check_diverged_run(None, "bars", 1e300, optimizer)
    assert t.diverged_at == 2


def test_an_update_that_overflows_is_not_taken_even_with_a_finite_loss() -> None:
    # Large first-layer weights make dW2 ~ 1e2; at lr 1e307 the update overflows to inf on
    # the very first step while that step's loss (from the logits) is still finite.
    params = init_params(SEED_NET, seed=0)
    params["W1"] = params["W1"] * 1e3
    data = load("bars")
    probe = Trainer(SEED_NET, {k: v.copy() for k, v in params.items()}, data, 16, 1e307)
    idx = probe._batch()
    with np.errstate(over="ignore", invalid="ignore"):
        rec = forward(SEED_NET, params, data.x_train[idx], probe.y_train[idx])
        backward(rec, full=False)
        assert rec.loss is not None and np.isfinite(rec.loss)
        assert not finite(SGD(lr=1e307).step(params, rec.gradients))
    t = Trainer(SEED_NET, {k: v.copy() for k, v in params.items()}, data, 16, 1e307)
    assert t.run(10) is False
    assert t.diverged_at == 1 and t.iteration == 0 and t.pending == []
    for k, v in params.items():
        np.testing.assert_array_equal(t.params[k], v)
    whole = train(SEED_NET, params, data, iterations=10, batch_size=16, learning_rate=1e307)
    assert whole.diverged_at == 1 and whole.history == []


def test_learning_rate_of_1e12_does_not_diverge_the_seed_network() -> None:
    # Documents why the divergence tests need 1e300 or another network: a huge but
    # representable step leaves the seed network's loss (computed from logits) finite.
    t = train(SEED_NET, init_params(SEED_NET, 0), load("bars"), iterations=50, batch_size=16, learning_rate=1e12,
              points=5)
    assert t.diverged_at is None and finite(t.params)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_linear_stack_diverges_within_the_api_learning_rate_limit(optimizer: str) -> None:
    t = check_diverged_run(LINEAR_STACK_SPEC, "bars", 100.0, optimizer)
    assert t.diverged_at is not None and t.diverged_at < 50


def test_divergence_warnings_are_silenced() -> None:
    # pyproject turns RuntimeWarnings into errors: an overflow in a step, or in evaluating the
    # (finite but huge) params just before divergence, must not escape as a warning.
    net = read_spec(LINEAR_STACK_SPEC)
    with np.errstate(over="warn", invalid="warn", divide="warn"):
        for points in (1, 10, 100):
            t = train(net, init_params(net, 0), load("bars"), iterations=100, batch_size=16, learning_rate=100.0,
                      points=points)
            assert t.diverged_at is not None
        t = Trainer(net, init_params(net, 0), load("bars"), 16, 100.0)
        while t.run(1):
            t.evaluate()
    assert t.diverged_at is not None


# ----------------------------------------------------------------------------- check_fit
def test_check_fit_accepts_matching_pairs() -> None:
    check_fit(SEED_NET, load("bars"))
    check_fit(SEED_NET, load("diagonals"))
    check_fit(read_spec(TWO_BLOCK_SPEC), load("digits"))


def test_check_fit_wrong_input_shape() -> None:
    with pytest.raises(DatasetMismatch, match=r"\[1, 8, 8\].*\[1, 6, 6\]"):
        check_fit(SEED_NET, load("digits"))
    with pytest.raises(DatasetMismatch, match=r"\[1, 6, 6\].*\[1, 8, 8\]"):
        check_fit(read_spec(TWO_BLOCK_SPEC), load("bars"))


def test_check_fit_bce_needs_two_classes() -> None:
    with pytest.raises(DatasetMismatch, match="2 classes.*strokes has 4"):
        check_fit(SEED_NET, load("strokes"))
    check_fit(SEED_NET, load("strokes").select([0, 1]))  # two of them are fine


def test_check_fit_class_count_mismatch() -> None:
    net = read_spec(TWO_BLOCK_SPEC)
    with pytest.raises(DatasetMismatch, match="10 outputs.*2 classes"):
        check_fit(net, load("digits").select([3, 8]))
    four = read_spec({**TWO_BLOCK_SPEC, "input_shape": [1, 6, 6], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "softmax"}]})
    check_fit(four, load("strokes"))
    with pytest.raises(DatasetMismatch, match="4 outputs.*2 classes"):
        check_fit(four, load("bars"))


def test_trainer_refuses_a_mismatch_before_any_work() -> None:
    assert issubclass(DatasetMismatch, ValueError)
    with pytest.raises(DatasetMismatch):
        Trainer(SEED_NET, init_params(SEED_NET, 0), load("digits"), batch_size=16, learning_rate=0.5)
    with pytest.raises(DatasetMismatch):
        train(SEED_NET, init_params(SEED_NET, 0), load("strokes"), iterations=10, batch_size=16, learning_rate=0.5)


@pytest.mark.parametrize(("iterations", "points", "evaluations"),
                         [(1500, 50, 50), (750, 500, 750), (10, 3, 4), (7, 7, 7)])
def test_the_cost_estimate_counts_the_history_points_a_run_makes(iterations: int, points: int,
                                                                   evaluations: int) -> None:
    """/api/train refuses a run by run_macs before any work: it must count every evaluation
    train() makes (one more than ``points`` when they do not divide the run, up to twice as many),
    and the one before the first step."""
    data = load("bars")
    t = train(SEED_NET, init_params(SEED_NET, 0), data, iterations=iterations, batch_size=4, learning_rate=0.1,
              points=points)
    assert len(t.history) == evaluations == -(-iterations // eval_every(iterations, points))
    per_evaluation = min(len(data.y_train), TRAIN_EVAL) + len(data.y_test)
    assert run_macs(SEED_NET, data, iterations, 4, points) == SEED_NET.macs * (
        3 * iterations * 4 + (evaluations + 1) * per_evaluation)
    assert t.initial is not None and t.initial["iteration"] == 0 and t.initial["loss"] is None
