"""Training on a dataset: minibatch gradient descent until the loss is minimised, as the
seed puts it, in chunks so a caller can report progress and stop between chunks.

A run that diverges (a non-finite loss or parameter: a runaway learning rate) stops at
that iteration and keeps the last finite parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.datasets import Dataset
from engine.limits import MAX_BATCH_BYTES
from engine.network import Params, backward, forward
from engine.optim import make
from engine.spec import Network

TRAIN_EVAL = 500


class DatasetMismatch(ValueError):
    """The dataset does not fit the network (input shape or number of classes)."""


def check_fit(net: Network, data: Dataset) -> None:
    if tuple(net.input_shape) != tuple(data.input_shape):
        raise DatasetMismatch(f"dataset {data.name} has inputs {list(data.input_shape)} but the network takes "
                              f"{list(net.input_shape)}")
    wrong = net.loss_kind.dataset_error(net.output_units, len(data.classes), data.name)
    if wrong:
        raise DatasetMismatch(wrong)


def labels_for(net: Network, y: np.ndarray) -> np.ndarray:
    return y.astype(net.loss_kind.label_dtype)


def accuracy(net: Network, params: Params, x: np.ndarray, y: np.ndarray, chunk: int = 512) -> float:
    if len(y) == 0:
        return 0.0
    chunk = max(1, min(chunk, MAX_BATCH_BYTES // net.example_bytes))  # big inputs: smaller chunks
    hits = 0
    for i in range(0, len(y), chunk):
        rec = forward(net, params, x[i:i + chunk])
        hits += int((rec.predicted_class() == y[i:i + chunk]).sum())
    return hits / len(y)


def eval_every(iterations: int, points: int) -> int:
    """Iterations between history points, for about ``points`` of them over the run (one more
    when ``points`` does not divide ``iterations``: the last chunk is evaluated too)."""
    return max(1, iterations // points)


def run_macs(net: Network, data: Dataset, iterations: int, batch_size: int, points: int) -> int:
    """About the multiply-adds of a whole run: every step's forward and backward (about three
    forward passes of the batch) and every history point's evaluation (a forward pass over
    the train-accuracy sample and the test set)."""
    every = eval_every(iterations, points)
    evaluations = -(-iterations // every) + 1  # and the accuracies before the first step
    per_evaluation = min(len(data.y_train), TRAIN_EVAL) + len(data.y_test)
    return net.macs * (3 * iterations * min(batch_size, len(data.y_train)) + evaluations * per_evaluation)


def _finite(params: Params) -> bool:
    return all(np.isfinite(p).all() for p in params.values())


@dataclass
class Trainer:
    net: Network
    params: Params
    data: Dataset
    batch_size: int
    learning_rate: float
    optimizer: str = "sgd"
    seed: int = 0
    iteration: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    diverged_at: int | None = None
    initial: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_fit(self.net, self.data)
        self.rng = np.random.default_rng(self.seed)
        self.opt = make(self.optimizer, self.learning_rate)
        self.order = np.empty(0, dtype=np.int64)
        self.cursor = 0
        self.y_train = labels_for(self.net, self.data.y_train)
        self.pending: list[float] = []
        # Train accuracy at each history point on a fixed sample of at most TRAIN_EVAL
        # examples: the whole training set each time made evaluation most of a run's cost.
        n = len(self.data.y_train)
        eval_idx = np.sort(np.random.default_rng(0).choice(n, size=min(n, TRAIN_EVAL), replace=False))
        self.x_eval, self.y_eval = self.data.x_train[eval_idx], self.data.y_train[eval_idx]

    def _batch(self) -> np.ndarray:
        n = len(self.y_train)
        if self.cursor + self.batch_size > len(self.order):  # a new epoch, reshuffled
            self.order = self.rng.permutation(n)
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + min(self.batch_size, n)]
        self.cursor += len(idx)
        return idx

    def run(self, iterations: int) -> bool:
        """Up to ``iterations`` more steps; False once the run has diverged."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(iterations):
                idx = self._batch()
                rec = forward(self.net, self.params, self.data.x_train[idx], self.y_train[idx])
                backward(rec, full=False)
                new = self.opt.step(self.params, rec.gradients)
                if rec.loss is None or not np.isfinite(rec.loss) or not _finite(new):
                    self.diverged_at = self.iteration + 1
                    return False
                self.params = new
                self.iteration += 1
                self.pending.append(rec.loss)
        return True

    def begin(self) -> dict[str, Any]:
        """Where the run starts from: the accuracies before its first step, as a point at this
        iteration with no loss yet (kept as ``initial``, not in the history)."""
        self.initial = {"iteration": self.iteration, "loss": None, **self.accuracies()}
        return self.initial

    def evaluate(self) -> dict[str, Any]:
        """A history point: mean training loss since the last point, accuracy on (a fixed sample
    of at most 500 examples of) the training set and on the whole test set."""
        point = {"iteration": self.iteration, "loss": float(np.mean(self.pending)) if self.pending else None,
                 **self.accuracies()}
        self.pending = []
        self.history.append(point)
        return point

    def points(self, iterations: int, every: int, stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
        """The run up to ``iterations``, ``every`` steps at a time, each chunk's history point as
        it exists; it ends early when the run diverges, or when ``stop()`` says so before a chunk."""
        while self.iteration < iterations and not stop():
            if not self.run(min(every, iterations - self.iteration)):
                return
            yield self.evaluate()

    def accuracies(self) -> dict[str, float]:
        """Accuracy on (a fixed sample of at most 500 examples of) the training set and on the
        whole test set, with the parameters as they are now (before the first step: where the
        run starts from)."""
        # Params just short of divergence are finite but can overflow a forward pass: silenced
        # as in run(), the predictions are still defined (and such a run stops at its next step).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return {"train_accuracy": accuracy(self.net, self.params, self.x_eval, self.y_eval),
                    "test_accuracy": accuracy(self.net, self.params, self.data.x_test, self.data.y_test)}


def train(net: Network, params: Params, data: Dataset, iterations: int, batch_size: int, learning_rate: float,
          optimizer: str = "sgd", seed: int = 0, points: int = 50) -> Trainer:
    """A whole run, evaluated at about ``points`` evenly spaced iterations."""
    t = Trainer(net, {k: v.copy() for k, v in params.items()}, data, batch_size, learning_rate, optimizer, seed)
    every = eval_every(iterations, points)
    t.begin()
    for _ in t.points(iterations, every):
        pass
    return t
