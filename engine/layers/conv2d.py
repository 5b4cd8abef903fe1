"""conv2d: cross-correlation of (C, H, W) with F filters (C, kh, kw), plus a bias per filter,
as torch.nn.Conv2d (stride, zero padding). Output Z{k}; parameters W{k} (F, C, kh, kw), b{k} (F,).

Readable form of the rule (the fast one below is one gather and one GEMM each way):
    Z[f, i, j]     = b[f] + sum_{c,p,q} W[f, c, p, q] X[c, i*s + p - pad, j*s + q - pad]
    dW[f, c, p, q] = sum_{i,j} X[c, i*s + p - pad, j*s + q - pad] dZ[f, i, j]
    db[f]          = sum_{i,j} dZ[f, i, j]
    dX[c, y, x]    = sum of W[f, c, p, q] dZ[f, i, j] over every (f, i, j, p, q)
                     with y = i*s + p - pad and x = j*s + q - pad
                     with y = i*s + p - pad and x = j*s + q - pad
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.errors import SpecError
from engine.layers._base import Array, Built, Cache, Field, Grads, Layer, LayerType, Shape, prod
from engine.layers._plans import conv_plan
from engine.limits import MAX_FILTERS, MAX_INPUT_HW, MAX_STRIDE

_ZERO = np.zeros(1)
# Patch values (N*Ho*Wo*C*kh*kw) and output row length from which the strided copy beats the
# gather (see the README).
STRIDED_MIN = 16384
STRIDED_ROWS = 8
# Input rows shorter than this take dX by one correlation rather than kh*kw strided adds.
SHORT_ROWS = 12


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W), W (F, C, kh, kw), b (F,) -> Z (N, F, Ho, Wo), as torch.nn.functional.conv2d.
    Small batches gather their patches through a planned index map; larger ones copy them
    through a strided view of the input (see ``_strided_forward``)."""
    f, ho, wo = layer.out_shape
    if wo >= STRIDED_ROWS and x.shape[0] * ho * wo * x.shape[1] * layer.kernel[0] * layer.kernel[1] >= STRIDED_MIN:
        return _strided_forward(x, layer, params)
    weight = params[layer.params[0]]
    n = x.shape[0]
    gather = conv_plan(n, *layer.plan)
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


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array | None, Grads]:
    """dZ (N, F, Ho, Wo) -> dX (N, C, H, W) by scattering dZ W back through the gather map,
    dW = the valid correlation of X with dZ (patches^T dZ), db = sum of dZ."""
    if "gather" not in cache:
        return _strided_backward(dout, cache, need_dx)
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


def _channels_first(x: Array, layer: Layer) -> Array:
    """x (N, C, H, W) as a (C, N, H + 2 ph, W + 2 pw) array (a view when there is no padding),
    the layout whose windows copy into the channel-major patches with contiguous rows."""
    xt = x.transpose(1, 0, 2, 3)
    ph, pw = layer.padding
    if not layer.padded:
        return xt
    c, n, h, w = xt.shape
    xp = np.zeros((c, n, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = xt
    return xp


def _strided_forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """The patches as a (C*kh*kw, N*Ho*Wo) matrix by one copy of a strided window view (no
    index map), one GEMM W (F, C*kh*kw) @ patches, and Z returned as an (N, F, Ho, Wo) view of
    the (F, N, Ho, Wo) result: no transpose is copied, the next layers read any strides."""
    n, c = x.shape[:2]
    f, ho, wo = layer.out_shape
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    xp = _channels_first(x, layer)
    s = xp.strides
    windows = as_strided(xp, (c, kh, kw, n, ho, wo), (s[0], s[2], s[3], s[1], s[2] * sh, s[3] * sw),
                         writeable=False)
    cols = np.empty((c * kh * kw, n * ho * wo))
    np.copyto(cols.reshape(c, kh, kw, n, ho, wo), windows)
    wmat = params[layer.params[0]].reshape(f, -1)
    z = np.dot(wmat, cols)
    z += params[layer.params[1]][:, None]
    out = z.reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
    return out, {"cols": cols, "wmat": wmat, "x_shape": x.shape, "layer": layer}


def _strided_backward(dout: Array, cache: Cache, need_dx: bool) -> tuple[Array | None, Grads]:
    """dW = dZ (F, N*Ho*Wo) @ patches^T, db = row sums; dX by adding each kernel tap's slice of
    W^T dZ into the padded input's window positions (kh*kw strided adds, no scatter)."""
    wmat, layer = cache["wmat"], cache["layer"]
    f = wmat.shape[0]
    dz = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # free when dZ has the (F, N, ...) layout Z had
    grads = (np.dot(dz, cache["cols"].T).reshape(layer.param_shape), np.add.reduce(dz, 1))
    if not need_dx:
        return None, grads
    if layer.stride == (1, 1) and f <= 2 * layer.in_shape[0] and layer.in_shape[2] < SHORT_ROWS:
        return _full_correlation(dz, wmat, cache), grads
    n, c, h, w = cache["x_shape"]
    _, ho, wo = layer.out_shape
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    dcols = np.dot(wmat.T, dz).reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros((c, n, h + 2 * ph, w + 2 * pw))
    for p in range(kh):
        for q in range(kw):
            dxp[:, :, p:p + sh * (ho - 1) + 1:sh, q:q + sw * (wo - 1) + 1:sw] += dcols[:, p, q]
    return dxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3), grads


def _full_correlation(dz: Array, wmat: Array, cache: Cache) -> Array:
    """Stride 1: dX is the correlation of dZ, zero-padded by kh-1-ph (kw-1-pw), with the
    kernels flipped and their channel axes swapped, so it is one strided copy and one GEMM
    like the forward pass (its patches hold F/C times the forward's: used for F <= 2C). On
    short rows this beats the adds, whose inner loops are a row long."""
    layer = cache["layer"]
    n, c, h, w = cache["x_shape"]
    f, ho, wo = layer.out_shape
    (kh, kw), (ph, pw) = layer.kernel, layer.padding
    a, b = kh - 1 - ph, kw - 1 - pw
    dzp = np.zeros((f, n, ho + 2 * a, wo + 2 * b))
    dzp[:, :, a:a + ho, b:b + wo] = dz.reshape(f, n, ho, wo)
    s = dzp.strides
    windows = as_strided(dzp, (f, kh, kw, n, h, w), (s[0], s[2], s[3], s[1], s[2], s[3]), writeable=False)
    cols = np.empty((f * kh * kw, n * h * w))
    np.copyto(cols.reshape(f, kh, kw, n, h, w), windows)
    flipped = wmat.reshape(f, c, kh, kw)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
    return np.dot(flipped, cols).reshape(c, n, h, w).transpose(1, 0, 2, 3)


class Conv2d(LayerType):
    name = "conv2d"
    label = "Convolution"
    order = 10
    prefix = "Z"
    opens_block = True
    input_hint = "conv after flatten"
    input_rank = 3
    fields = (
        Field("filters", "int", 1, MAX_FILTERS, editor_default=4),
        Field("kernel_size", "pair", 1, MAX_INPUT_HW, editor_default=3, label="kernel"),
        Field("stride", "pair", 1, MAX_STRIDE, default=1, editor_default=1),
        Field("padding", "pair", 0, MAX_INPUT_HW, default=0, editor_default=0),
    )
    param_roles = ("W", "b")
    formula = "{out} = Conv({in}, {W}) + {b}"
    formula_text = "Z[f,i,j] = b[f] + sum over c,p,q of W[f,c,p,q] X[c, i s+p-pad, j s+q-pad]"
    description = ("Slides each filter over the input and adds its bias. Each weight touched many input cells, "
                   "so dW sums input x upstream gradient over every position the filter visited; dX sends each "
                   "gradient back through the weights that produced it.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        cin, hin, win = shape
        (kh, kw), (sh, sw), (ph, pw) = cfg["kernel_size"], cfg["stride"], cfg["padding"]
        if ph >= kh or pw >= kw:
            raise SpecError(f"padding {[ph, pw]} must be smaller than kernel_size {[kh, kw]}", layer)
        if kh > hin + 2 * ph or kw > win + 2 * pw:
            raise SpecError(f"kernel {kh}x{kw} is larger than its input {hin}x{win} "
                            f"(padded {hin + 2 * ph}x{win + 2 * pw})", layer)
        filters = cfg["filters"]
        out: Shape = (filters, (hin + 2 * ph - kh) // sh + 1, (win + 2 * pw - kw) // sw + 1)
        taps = cin * kh * kw
        return Built(out_shape=out, params={"W": (filters, cin, kh, kw), "b": (filters,)},
                     macs=prod(out) * taps, patches=prod(out[1:]) * taps,
                     attrs={"kernel": (kh, kw), "stride": (sh, sw), "padding": (ph, pw), "padded": (ph, pw) != (0, 0),
                            "plan": (*shape, kh, kw, sh, sw, ph, pw)})


LAYER = Conv2d()
