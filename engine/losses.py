"""Losses, computed from the logits so they stay finite for |Z| in the hundreds.

``loss_value`` gives the batch-mean loss; ``LOGIT_GRAD`` dL/dZ of the logits (the fused
gradient through sigmoid/softmax, exactly A - Y over N as the seed derives); ``OUTPUT_GRAD``
dL/dA of the probabilities, the seed's (a2 - y) / (a2 (1 - a2)), shown on the page as a
chain-rule factor but never needed to train. dA is computed from the logits too, e.g.
1 / (1 - a) = 1 + e^z, so it has no 0/0 at a saturated sigmoid; it can still overflow to
inf for |z| > 709, which the API reports as an overflow rather than sending.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def bce_value(z: Array, y: Array) -> float:
    """mean(log(1 + e^z) - z y) for z (N, 1), y (N,); logaddexp(0, z) never overflows.
    A sum and a dot rather than np.mean of a product: the same number, half the calls."""
    return float(np.logaddexp(0.0, z).sum() - np.dot(z[:, 0], y)) / z.shape[0]


def ce_parts(z: Array, y: Array) -> tuple[float, Array, Array]:
    """mean(logsumexp(z) - z_y) for z (N, U), y (N,), with logsumexp and z_y for reuse."""
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    zy = z[np.arange(z.shape[0]), y]
    return float((lse - zy).sum()) / z.shape[0], lse, zy


def bce_dz(a: Array, y: Array) -> Array:
    """a (N, 1) = sigmoid(z), y (N,) in {0, 1} -> dL/dZ = (a - y) / N."""
    return (a - y.reshape(-1, 1)) / a.shape[0]


def bce_da(z: Array, y: Array) -> Array:
    """dL/dA from the logits z (N, 1): y = 1 gives -1/a = -(1 + e^-z), y = 0 gives
    1/(1 - a) = 1 + e^z; with s = 1 - 2y both are s (1 + e^(s z)), and no 0/0 at a = 1."""
    s = 1.0 - 2.0 * y.reshape(-1, 1)
    with np.errstate(over="ignore"):
        e = np.exp(s * z)
    return s * (1.0 + e) / z.shape[0]


def ce_dz(a: Array, y: Array) -> Array:
    """a (N, U) = softmax(z), y (N,) class indices -> dL/dZ = (a - onehot(y)) / N."""
    dz = a.copy()
    dz[np.arange(a.shape[0]), y] -= 1.0
    dz /= a.shape[0]
    return dz


def ce_da(z: Array, y: Array) -> Array:
    """dL/dA: -1/a_y at the true class, 0 elsewhere, -1/a_y = -e^(logsumexp(z) - z_y)."""
    n = z.shape[0]
    _, lse, zy = ce_parts(z, y)
    da = np.zeros_like(z)
    with np.errstate(over="ignore"):
        da[np.arange(n), y] = -np.exp(lse - zy) / n
    return da


LOGIT_GRAD = {"bce": bce_dz, "cross_entropy": ce_dz}
OUTPUT_GRAD = {"bce": bce_da, "cross_entropy": ce_da}


def loss_value(kind: str, z: Array, y: Array) -> float:
    """The batch-mean loss from the logits z and labels y."""
    if kind == "bce":
        return bce_value(z, y)
    return ce_parts(z, y)[0]
