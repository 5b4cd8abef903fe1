"""conv2d's path for larger inputs: no index map. The input is laid out channel-major,
(C, N, H, W), and its patches are copied out of a strided window view into a (C*kh*kw + 1,
N*Ho*Wo) matrix whose last row is ones, so the product [W | b] (F, C*kh*kw + 1) @ patches
gives Z as (F, N, Ho, Wo), bias included: handed on as an (N, F, Ho, Wo) view, with no
transpose copied (the layers after it read any strides). Backward, dZ @ patches^T is
[dW | db] in one product, db being dZ's row sums. The rule is conv2d's (see its docstring);
the tests run this path against the gather path, torch and finite differences.

Products with short sides (at most SHORT_SIDE) and a long one (N*Ho*Wo) run block by
block along the long side (``product``, ``gram``): the same sums, in an order OpenBLAS
computes faster, each block's operands staying in cache (see the README).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.layers._base import Array, Cache, Grads, Layer

# Input rows shorter than this take dX by one correlation rather than kh*kw strided adds.
SHORT_ROWS = 12
# Products whose short sides are from NARROW to SHORT_SIDE long, and whose long operands hold
# BLOCKED_MIN values or more, go BLOCK columns at a time; 4 * BLOCK when the product's output
# has more rows than SHORT_SIDE (see ``_block``).
NARROW, SHORT_SIDE, BLOCKED_MIN = 8, 80, 1 << 17
BLOCK = 512
# dX's W^T dZ bytes from which it is made and added in blocks of examples, and a block's bytes.
ADDS_WHOLE_MAX, ADDS_BLOCK = 16 << 20, 2 << 20


def _block(rows: int, inner: int, t: int, gram: bool) -> int:
    """Columns per block for a product of a (rows, T) output over ``inner`` terms (``gram``:
    over T, of (rows, T) and (inner, T)), or 0 for one product. Blocks pay where OpenBLAS is
    slow on one long product with short sides (their operands out of cache), not for a
    matrix-vector-like one (a side under NARROW) nor a small one (measured; see the README)."""
    if min(rows, inner) < NARROW or inner > SHORT_SIDE or (rows + inner) * t < BLOCKED_MIN:
        return 0
    if rows <= SHORT_SIDE:
        return BLOCK if t >= 2 * BLOCK else 0
    return 4 * BLOCK if not gram and t >= 8 * BLOCK else 0


def _blocks(a: Array, count: int, length: int) -> Array:
    """The first ``count`` whole blocks of ``length`` columns of a (r, T) matrix, as a
    (count, r, length) view."""
    return a[:, :count * length].reshape(a.shape[0], count, length).transpose(1, 0, 2)


def product(a: Array, b: Array) -> Array:
    """a (M, K) @ b (K, T), block by block along T (then the rest) where ``_block`` says."""
    t = b.shape[1]
    length = _block(*a.shape, t, gram=False)
    if not length:
        return np.dot(a, b)
    count, end = t // length, t // length * length
    out = np.empty((a.shape[0], t))
    np.matmul(a, _blocks(b, count, length), out=_blocks(out, count, length))
    if end < t:
        np.matmul(a, b[:, end:], out=out[:, end:])
    return out


def gram(a: Array, b: Array) -> Array:
    """a (M, T) @ b (K, T)^T, summed over blocks along T where ``_block`` says."""
    t = a.shape[1]
    length = _block(a.shape[0], b.shape[0], t, gram=True)
    if not length:
        return np.dot(b, a.T).T  # in this order OpenBLAS is a little faster (see the README)
    count, end = t // length, t // length * length
    out = np.add.reduce(np.matmul(_blocks(a, count, length), _blocks(b, count, length).transpose(0, 2, 1)), 0)
    if end < t:
        out += np.dot(a[:, end:], b[:, end:].T)
    return out


def channels_first(x: Array, pad: tuple[int, int]) -> Array:
    """x (N, C, H, W) as (C, N, H + 2 ph, W + 2 pw): a view when there is no padding."""
    xt = x.transpose(1, 0, 2, 3)
    ph, pw = pad
    if not (ph or pw):
        return xt
    c, n, h, w = xt.shape
    xp = np.zeros((c, n, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = xt
    return xp


def patches(xp: Array, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int],
            ones: bool = False) -> Array:
    """The (C*kh*kw, m*Ho*Wo) patches of a channel-major (C, m, H, W) array, by one copy;
    with ``ones``, a row of ones below them (the bias's input)."""
    c, m = xp.shape[:2]
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    s = xp.strides
    windows = as_strided(xp, (c, kh, kw, m, ho, wo), (s[0], s[2], s[3], s[1], s[2] * sh, s[3] * sw),
                         writeable=False)
    taps = c * kh * kw
    cols = np.empty((taps + ones, m * ho * wo))
    np.copyto(cols[:taps].reshape(c, kh, kw, m, ho, wo), windows)
    if ones:
        cols[taps] = 1.0
    return cols


def strided_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    n = x.shape[0]
    f, ho, wo = layer.out_shape
    cols = patches(channels_first(x, layer.padding), layer.kernel, layer.stride, (ho, wo), ones=True)
    wmat = np.concatenate((params[layer.params[0]].reshape(f, -1), params[layer.params[1]][:, None]), axis=1)  # [W | b]
    out = product(wmat, cols).reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
    return out, {"cols": cols, "wmat": wmat, "x_shape": x.shape, "layer": layer}


def strided_backward(dout: Array, cache: Cache, need_dx: bool) -> tuple[Array | None, Grads]:
    """[dW | db] = dZ (F, N*Ho*Wo) @ [patches; ones]^T, dX (see ``_dx``)."""
    wmat, layer = cache["wmat"], cache["layer"]
    f = wmat.shape[0]
    dz = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # free when dZ has the (F, N, ...) layout Z had
    dwb = gram(dz, cache["cols"])
    grads = (dwb[:, :-1].reshape(layer.param_shape), dwb[:, -1].copy())
    if not need_dx:
        return None, grads
    return _dx(dz, wmat[:, :-1], layer, cache["x_shape"][0]).transpose(1, 0, 2, 3), grads


def _dx(dz: Array, wmat: Array, layer: Layer, m: int) -> Array:
    """dX (C, m, H, W) of m examples' dZ (F, m*Ho*Wo)."""
    if layer.stride == (1, 1) and wmat.shape[0] <= 2 * layer.in_shape[0] and layer.in_shape[2] < SHORT_ROWS:
        return _dx_correlation(dz, wmat, layer, m)
    return _dx_adds(dz, wmat, layer, m)


def _dx_adds(dz: Array, wmat: Array, layer: Layer, m: int) -> Array:
    """Each kernel tap's slice of W^T dZ added into the padded input at the cells it read
    (kh*kw strided adds, no scatter), then the padding cut off. Where W^T dZ would outgrow
    the cache (ADDS_WHOLE_MAX bytes), it is made and added a few examples at a time, each
    block's about ADDS_BLOCK bytes, so the adds read it from cache (see the README)."""
    c, h, w = layer.in_shape
    f, ho, wo = layer.out_shape
    kh, kw = layer.kernel
    ph, pw = layer.padding
    dxp = np.zeros((c, m, h + 2 * ph, w + 2 * pw))
    per_example = c * kh * kw * ho * wo * 8
    step = m if per_example * m <= ADDS_WHOLE_MAX else max(1, ADDS_BLOCK // per_example)
    dz3 = dz.reshape(f, m, ho * wo)
    for s in range(0, m, step):
        e = min(m, s + step)
        dcols = product(wmat.T, dz3[:, s:e].reshape(f, -1)).reshape(c, kh, kw, e - s, ho, wo)
        _add_taps(dxp[:, s:e], dcols, layer)
    return dxp[:, :, ph:ph + h, pw:pw + w]


def _add_taps(dxp: Array, dcols: Array, layer: Layer) -> None:
    """dxp (C, m, H + 2 ph, W + 2 pw) += each tap (p, q)'s (C, m, Ho, Wo) slice of dcols at the
    cells that tap read."""
    _, kh, kw, _, ho, wo = dcols.shape
    sh, sw = layer.stride
    for p in range(kh):
        for q in range(kw):
            dxp[:, :, p:p + sh * (ho - 1) + 1:sh, q:q + sw * (wo - 1) + 1:sw] += dcols[:, p, q]


def _dx_correlation(dz: Array, wmat: Array, layer: Layer, m: int) -> Array:
    """Stride 1: dX is the correlation of dZ, zero-padded by kh-1-ph (kw-1-pw), with the
    kernels flipped and their channel axes swapped, so it is one strided copy and one GEMM
    like the forward pass (its patches hold F/C times the forward's: used for F <= 2C). On
    short rows this beats the adds, whose inner loops are a row long."""
    c, h, w = layer.in_shape
    f, ho, wo = layer.out_shape
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    a, b = kh - 1 - ph, kw - 1 - pw
    dzp = np.zeros((f, m, ho + 2 * a, wo + 2 * b))
    dzp[:, :, a:a + ho, b:b + wo] = dz.reshape(f, m, ho, wo)
    cols = patches(dzp, layer.kernel, (1, 1), (h, w))
    flipped = wmat.reshape(f, c, kh, kw)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
    return product(flipped, cols).reshape(c, m, h, w)
