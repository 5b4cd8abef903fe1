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

from engine.errors import SpecError
from engine.layers._base import Array, Built, Cache, Field, Grads, Layer, LayerType, Shape, prod
from engine.layers._conv_strided import strided_backward, strided_forward
from engine.layers._explain import term
from engine.layers._plans import conv_plan
from engine.limits import MAX_FILTERS, MAX_INPUT_HW, MAX_STRIDE

_ZERO = np.zeros(1)
# Patch values (N*Ho*Wo*C*kh*kw) and output row length from which the strided copy of
# _conv_strided beats the gather (see the README).
STRIDED_MIN = 16384
STRIDED_ROWS = 8


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W), W (F, C, kh, kw), b (F,) -> Z (N, F, Ho, Wo), as torch.nn.functional.conv2d.
    Small inputs gather their patches through a planned index map (one take, one GEMM); larger
    ones copy them through a strided view of the input (engine/layers/_conv_strided.py)."""
    f, ho, wo = layer.out_shape
    if wo >= STRIDED_ROWS and x.shape[0] * ho * wo * x.shape[1] * layer.kernel[0] * layer.kernel[1] >= STRIDED_MIN:
        return strided_forward(x, layer, params)
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
        return strided_backward(dout, cache, need_dx)
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


    # ------------------------------------------------------------------ explanations
    @staticmethod
    def _source(ex: Any, below: str, layer: Layer, c: int, y: int, x: int) -> dict[str, Any]:
        """The input cell (c, y, x), or a padding factor when it lies outside the input."""
        _, h, w = layer.in_shape
        return ex.f(below, (c, y, x)) if 0 <= y < h and 0 <= x < w else ex.pad(below, (c, y, x))

    @staticmethod
    def _geometry(layer: Layer) -> str:
        (sh, sw), (ph, pw) = layer.stride, layer.padding
        return f"\\quad (s = ({sh}, {sw}),\\ \\mathrm{{pad}} = ({ph}, {pw}))"

    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        f, i, j = idx
        below, (w, b) = ex.below(layer), layer.params
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
        terms = [term(ex.f(w, (f, c, p, q)), self._source(ex, below, layer, c, i * sh + p - ph, j * sw + q - pw))
                 for c in range(layer.in_shape[0]) for p in range(kh) for q in range(kw)]
        terms.append(term(ex.f(b, (f,))))
        rule = (f"{layer.out}[f,i,j] = {b}[f] + \\sum_{{c,p,q}} {w}[f,c,p,q] \\, "
                f"{below}[c,\\, i s + p - \\mathrm{{pad}},\\, j s + q - \\mathrm{{pad}}]" + self._geometry(layer))
        return ex.answer(layer.out, idx, rule, "sum", terms, "The filter lies on the input window under this "
                         "cell: each weight times the input under it, summed, plus the filter's bias.")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below, (w, b), dz = ex.below(layer), layer.params, "d" + layer.out
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
        _, ho, wo = layer.out_shape
        if role == "W":
            f, c, p, q = idx
            terms = [term(self._source(ex, below, layer, c, i * sh + p - ph, j * sw + q - pw), ex.f(dz, (f, i, j)))
                     for i in range(ho) for j in range(wo)]
            rule = (f"d{w}[f,c,p,q] = \\sum_{{i,j}} {below}[c,\\, i s + p - \\mathrm{{pad}},\\, j s + q - "
                    f"\\mathrm{{pad}}] \\, d{layer.out}[f,i,j]" + self._geometry(layer))
            return ex.answer("d" + w, idx, rule, "sum", terms, "One weight was used at every position the filter "
                             "visited, so its gradient sums, over those positions, the input it met times the "
                             "output's gradient there.")
        if role == "b":
            (f,) = idx
            terms = [term(ex.f(dz, (f, i, j))) for i in range(ho) for j in range(wo)]
            return ex.answer("d" + b, idx, f"d{b}[f] = \\sum_{{i,j}} d{layer.out}[f,i,j]", "sum", terms,
                             "The bias was added to every output cell of its filter, so its gradient is the sum "
                             "of their gradients.")
        c, y, x = idx
        terms = []
        for f in range(layer.out_shape[0]):
            for p in range(kh):
                i, r = divmod(y + ph - p, sh)
                if r or not 0 <= i < ho:
                    continue
                for q in range(kw):
                    j, r = divmod(x + pw - q, sw)
                    if not r and 0 <= j < wo:
                        terms.append(term(ex.f(w, (f, c, p, q)), ex.f(dz, (f, i, j))))
        rule = (f"d{below}[c,y,x] = \\sum_{{f,p,q:\\ y = i s + p - \\mathrm{{pad}},\\ x = j s + q - \\mathrm{{pad}}}}"
                f" {w}[f,c,p,q] \\, d{layer.out}[f,i,j]" + self._geometry(layer))
        return ex.answer("d" + below, idx, rule, "sum", terms, "This input cell fed every output cell whose "
                         "window covered it: its gradient sums those outputs' gradients, each through the weight "
                         "that touched the cell.")


LAYER = Conv2d()
