"""Optimizers, in PyTorch's formulation so the numbers match torch.optim.

SGD is the seed's rule, W <- W - eta dW. Momentum: v <- mu v + dW, W <- W - eta v.
Adam: m <- b1 m + (1 - b1) dW, v <- b2 v + (1 - b2) dW^2, W <- W - eta m^ / (sqrt(v^) + eps)
with bias-corrected m^ = m / (1 - b1^t), v^ = v / (1 - b2^t).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.network import sgd_update

Params = dict[str, np.ndarray]


@dataclass
class SGD:
    lr: float

    def step(self, params: Params, grads: dict[str, np.ndarray]) -> Params:
        return sgd_update(params, grads, self.lr)


@dataclass
class Momentum:
    lr: float
    momentum: float = 0.9
    velocity: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, params: Params, grads: dict[str, np.ndarray]) -> Params:
        out = {}
        for k, p in params.items():
            g = grads["d" + k]
            v = self.velocity.get(k)
            v = g.copy() if v is None else self.momentum * v + g  # torch: the first step's buffer is dW
            self.velocity[k] = v
            out[k] = p - self.lr * v
        return out


@dataclass
class Adam:
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, params: Params, grads: dict[str, np.ndarray]) -> Params:
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        out = {}
        for k, p in params.items():
            g = grads["d" + k]
            m = self.beta1 * self.m.get(k, 0.0) + (1.0 - self.beta1) * g
            v = self.beta2 * self.v.get(k, 0.0) + (1.0 - self.beta2) * g * g
            self.m[k], self.v[k] = m, v
            # torch.optim.Adam's own arrangement of the same formula, for identical rounding.
            out[k] = p - (self.lr / c1) * m / (np.sqrt(v) / np.sqrt(c2) + self.eps)
        return out


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make(name: str, lr: float) -> SGD | Momentum | Adam:
    return OPTIMIZERS[name](lr=lr)
