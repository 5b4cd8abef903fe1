"""Layers, each forward beside its backward, CS231n-style.

``forward(x, layer, params) -> (out, cache)`` and ``backward(dout, cache) -> (dx, grads)``.
Arrays carry a leading batch axis N. ``grads`` is (dL/dW, dL/db) in the parameters' own
(PyTorch) layouts for a layer with parameters, () otherwise; ``need_dx`` False skips dx
(training never needs dL/dX). The caches are what the visualisation records: the im2col matrix of a
conv, the ReLU input, the max-pool winners.

Speed: the seed's network is tiny, so NumPy's per-call overhead (about 1 us a call) is the
cost to beat, not arithmetic. Index maps for im2col and pooling are planned once per shape
(a byte-bounded cache) and every layer is a handful of NumPy calls: a gather, one GEMM, a bincount.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.spec import Layer

Array = np.ndarray
Cache = dict[str, Any]
Grads = tuple[Array, ...]


# ----------------------------------------------------------------------------- index plans
PLAN_CACHE_BYTES = 256 * 1024 * 1024


def byte_bounded_cache(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Memoise ``fn`` by its (int) arguments, evicting the oldest plans once they hold more
    than PLAN_CACHE_BYTES: a count-bounded cache could pin gigabytes of index maps for big
    batches. A hit costs a dict lookup."""
    cache: dict[tuple[int, ...], tuple[Any, int]] = {}  # args -> (plan, bytes it owns)
    total = 0
    lock = threading.Lock()  # training runs in worker threads

    def cached(*args: int) -> Any:
        nonlocal total
        hit = cache.get(args)
        if hit is not None:
            return hit[0]
        value = fn(*args)
        arrays = value if isinstance(value, tuple) else (value,)
        size = sum(a.nbytes for a in arrays if a.base is None)
        with lock:
            if args not in cache:  # another thread may have planned the same shape meanwhile
                cache[args] = (value, size)
                total += size
            while len(cache) > 1 and total > PLAN_CACHE_BYTES:
                oldest = next(iter(cache))
                total -= cache.pop(oldest)[1]
        return value

    return cached


@byte_bounded_cache
def conv_plan(n: int, c: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int,
              pw: int) -> Array:
    """Gather map (N, Ho*Wo, C*kh*kw) into the batch's flat input: [n, p, k] is the input cell
    under kernel entry k (channel, ki, kj, W's layout) at output pixel p. Padding cells point
    at N*C*H*W, a zero slot the caller appends, so no ``np.pad`` copy is made. The same map,
    raveled, is the scatter target of the backward pass."""
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    r = (np.arange(ho) * sh)[:, None, None, None, None] + np.arange(kh)[None, None, None, :, None] - ph
    q = (np.arange(wo) * sw)[None, :, None, None, None] + np.arange(kw)[None, None, None, None, :] - pw
    ch = np.arange(c)[None, None, :, None, None]
    inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
    local = np.where(inside, ch * h * w + r * w + q, -1)
    local = np.broadcast_to(local, (ho, wo, c, kh, kw)).reshape(ho * wo, c * kh * kw)
    glob = local[None] + (np.arange(n) * (c * h * w))[:, None, None]
    glob[np.broadcast_to(local[None] < 0, glob.shape)] = n * c * h * w
    return np.ascontiguousarray(glob, dtype=np.intp)


@byte_bounded_cache
def pool_plan(n: int, c: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int) -> tuple[Array, Array, Array]:
    """Window map (N*C*Ho*Wo, kh*kw) into the batch's flat input, window cells in row-major
    order so ``argmax`` picks the first maximum as PyTorch does; the same map raveled, and
    each window's offset in it (row * kh*kw) to turn an argmax into a flat position."""
    ho = (h - kh) // sh + 1
    wo = (w - kw) // sw + 1
    r = (np.arange(ho) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    q = (np.arange(wo) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    local = (r * w + q).reshape(1, ho * wo, kh * kw)
    glob = (local + (np.arange(n * c) * (h * w))[:, None, None]).reshape(-1, kh * kw).astype(np.intp)
    rows = np.arange(glob.shape[0], dtype=np.intp) * (kh * kw)
    return glob, glob.ravel(), rows


_ZERO = np.zeros(1)


# ----------------------------------------------------------------------------- conv2d
def conv2d_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W), W (F, C, kh, kw), b (F,) -> Z (N, F, Ho, Wo), cross-correlation as
    torch.nn.functional.conv2d: one gather (im2col) and one GEMM.
    Cache: the patches ``cols`` (N*Ho*Wo, C*kh*kw), the weight as a matrix, the gather map."""
    weight = params[layer.params[0]]
    n = x.shape[0]
    f, ho, wo = layer.out_shape
    gather = conv_plan(n, *layer.in_shape, *layer.kernel, *layer.stride, *layer.padding)
    flat = np.concatenate((x.ravel(), _ZERO)) if layer.padded else x.ravel()
    cols = flat.take(gather).reshape(n * ho * wo, -1)
    wmat = weight.reshape(f, -1)
    z = np.dot(cols, wmat.T)  # np.dot: a third of matmul's call overhead on tiny arrays
    z += params[layer.params[1]]
    if f == 1:
        out = z.reshape(n, 1, ho, wo)
    else:  # (N*P, F) -> (N, F, Ho, Wo), made contiguous once here rather than in every consumer
        out = np.ascontiguousarray(z.reshape(n, ho * wo, f).transpose(0, 2, 1)).reshape(n, f, ho, wo)
    return out, {"cols": cols, "wmat": wmat, "gather": gather, "x_shape": x.shape, "layer": layer}


def conv2d_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array | None, Grads]:
    """dZ (N, F, Ho, Wo) -> dX (N, C, H, W) by scattering dZ W back through the gather map,
    dW = the valid correlation of X with dZ (patches^T dZ), db = sum of dZ."""
    wmat = cache["wmat"]
    f = wmat.shape[0]
    dz = dout.reshape(-1, 1) if f == 1 else dout.transpose(0, 2, 3, 1).reshape(-1, f)
    grads = (np.dot(dz.T, cache["cols"]).reshape(cache["layer"].param_shape), np.add.reduce(dz, 0))
    if not need_dx:
        return None, grads
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    dx = np.bincount(cache["gather"].ravel(), weights=np.dot(dz, wmat).ravel(), minlength=size + 1)
    return dx[:size].reshape(shape), grads


# ----------------------------------------------------------------------------- max-pool
def maxpool2d_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W) -> P (N, C, Ho, Wo). Cache: ``winner``, the flat position in the batch
    of the cell that won each window (the first maximum in row-major order on ties)."""
    gather, gather_flat, rows = pool_plan(x.shape[0], *layer.in_shape, *layer.kernel, *layer.stride)
    flat = x.ravel()
    winner = gather_flat.take(rows + flat.take(gather).argmax(axis=1))
    out = flat.take(winner).reshape(x.shape[0], *layer.out_shape)
    return out, {"winner": winner, "x_shape": x.shape}


def maxpool2d_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dP (N, C, Ho, Wo) -> dA: each window's gradient routed to the cell that won it (summed
    where overlapping windows share a winner), zero elsewhere."""
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    dx = np.bincount(cache["winner"], weights=dout.ravel(), minlength=size)
    return dx.reshape(shape), ()


def pool_mask(cache: Cache) -> Array:
    """1 where some window's maximum was taken, 0 elsewhere; the shape of the pool's input."""
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    hits = np.bincount(cache["winner"], minlength=size)
    return (hits > 0).astype(np.float64).reshape(shape)


# ----------------------------------------------------------------------------- dense
def dense_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, D), W (U, D), b (U,) -> Z = x W^T + b (N, U), as torch.nn.Linear. Cache: x, W."""
    weight = params[layer.params[0]]
    z = np.dot(x, weight.T)
    z += params[layer.params[1]]
    return z, {"x": x, "W": weight}


def dense_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array | None, Grads]:
    """dZ (N, U) -> dx = dZ W (N, D), dW = dZ^T x (U, D), db = sum over the batch (U,)."""
    grads = (np.dot(dout.T, cache["x"]), np.add.reduce(dout, 0))
    return (np.dot(dout, cache["W"]) if need_dx else None), grads


# ----------------------------------------------------------------------------- flatten
def flatten_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """(N, C, H, W) -> (N, C*H*W) in C order, as torch.flatten(x, 1)."""
    return x.reshape(x.shape[0], -1), {"x_shape": x.shape}


def flatten_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    return dout.reshape(cache["x_shape"]), ()


# ----------------------------------------------------------------------------- activations
def relu_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """A = max(Z, 0). Cache: Z, whose sign decides which cells pass gradient."""
    return np.maximum(x, 0.0), {"x": x}


def relu_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dZ = dA where Z > 0, else 0 (0 at Z == 0 too, as PyTorch)."""
    return dout * np.heaviside(cache["x"], 0.0), {}  # float mask: a bool one costs a cast


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z) as e^(-log(1 + e^-z)): logaddexp never overflows and e^(negative) only
    underflows, so no errstate is needed (entering one cost more than the rest of the layer);
    within 4e-15 relative of the direct form everywhere."""
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    a = sigmoid(x)
    return a, {"a": a}


def sigmoid_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dZ = dA * a (1 - a)."""
    a = cache["a"]
    return dout * a * (1.0 - a), ()


def softmax_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """Row-wise softmax over (N, U), shifted by the row max so exp never overflows."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    a = e / e.sum(axis=1, keepdims=True)
    return a, {"a": a}


def softmax_backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dZ = a * (dA - sum(dA * a)) row-wise (the softmax Jacobian applied to dA)."""
    a = cache["a"]
    return a * (dout - (dout * a).sum(axis=1, keepdims=True)), ()


Forward = Callable[[Array, Layer, dict[str, Array]], tuple[Array, Cache]]
Backward = Callable[..., tuple[Array | None, Grads]]

FORWARD: dict[str, Forward] = {
    "conv2d": conv2d_forward,
    "maxpool2d": maxpool2d_forward,
    "dense": dense_forward,
    "flatten": flatten_forward,
    "relu": relu_forward,
    "sigmoid": sigmoid_forward,
    "softmax": softmax_forward,
}
BACKWARD: dict[str, Backward] = {
    "conv2d": conv2d_backward,
    "maxpool2d": maxpool2d_backward,
    "dense": dense_backward,
    "flatten": flatten_backward,
    "relu": relu_backward,
    "sigmoid": sigmoid_backward,
    "softmax": softmax_backward,
}
