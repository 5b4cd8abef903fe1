"""maxpool2d: the maximum of each kh x kw window, per channel, as torch.nn.MaxPool2d (no padding;
windows may overlap). Output P{k}. On ties the first maximum in row-major order wins, as PyTorch.

Readable form of the rule:
    P[c, i, j] = max_{p,q} A[c, i*s + p, j*s + q]
    dA[c, y, x] = sum of dP[c, i, j] over the windows (i, j) whose winner is (y, x); 0 elsewhere
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Built, Cache, Field, Grads, Layer, LayerType, Shape
from engine.layers._explain import TIE_RULE, term, window_cells, windows_holding
from engine.layers._plans import byte_bounded_cache, pool_plan, window_shape
from engine.limits import MAX_INPUT_HW, MAX_STRIDE

# Input values from which 2x2/2 windows take the halves path instead of the gather (see the README).
HALVES_MIN = 6_000
# Input values per block of planes the halves path works through at a time (see the README).
HALVES_CHUNK = 1 << 15


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W) -> P (N, C, Ho, Wo). Cache: ``winner``, the flat position in the batch
    of the cell that won each window (the first maximum in row-major order on ties)."""
    if x.size >= HALVES_MIN and layer.kernel == (2, 2) and layer.stride == (2, 2):
        return _halves_forward(x, layer)
    gather, gather_flat, rows = pool_plan(x.shape[0], *layer.plan)
    flat = x.ravel()
    winner = gather_flat.take(rows + flat.take(gather).argmax(axis=1))
    out = flat.take(winner).reshape(x.shape[0], *layer.out_shape)
    return out, {"winner": winner, "x_shape": x.shape}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dP (N, C, Ho, Wo) -> dA: each window's gradient routed to the cell that won it (summed
    where overlapping windows share a winner), zero elsewhere."""
    if "planes" in cache:
        return _halves_backward(dout, cache)
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    dx = np.bincount(cache["winner"], weights=dout.ravel(), minlength=size)
    return dx.reshape(shape), ()


def _planes(x: Array) -> tuple[Array, bool]:
    """x (N, C, H, W) as contiguous (planes, H, W) without a copy where possible: the planes
    in (C, N) order when x is a view of a channel-major array (a conv's output), else (N, C)."""
    xt = x.transpose(1, 0, 2, 3)
    if xt.flags.c_contiguous and not x.flags.c_contiguous:
        return xt.reshape(-1, *x.shape[2:]), True
    return np.ascontiguousarray(x).reshape(-1, *x.shape[2:]), False


class _PoolCache(dict):
    """A max-pool's cache whose ``winner`` (positions in the (N, C, H, W) order, read only to
    draw the winners) is computed from the plane-order positions when first asked for."""

    def __missing__(self, key: str) -> Array:
        if key != "winner":
            raise KeyError(key)
        n, c, h, w = self["x_shape"]
        pos = self["pos"].ravel()
        if self["channel_major"]:  # plane m = c * N + n  ->  n * C + c
            plane, cell = np.divmod(pos, h * w)
            pos = (plane % n * c + plane // n) * (h * w) + cell
        self["winner"] = pos
        return pos


def _halves_forward(x: Array, layer: Layer) -> tuple[Array, Cache]:
    """2x2 windows, stride 2: the maximum of each window's top row (its two cells), of its
    bottom row, then of the two; the winner is the first maximum in row-major order as in the
    gather path (a later cell wins only when strictly greater: the right cell within a row,
    then the bottom row). Each block of planes is first copied apart into its windows' four
    corners, four contiguous arrays, so every comparison runs on contiguous values (NumPy's
    loops over a stride of 2 cost several times more; see the README). Rows and columns past
    the last whole window are left out, as PyTorch does."""
    planes, channel_major = _planes(x)
    m, h, w = planes.shape
    _, ho, wo = layer.out_shape
    step = max(1, HALVES_CHUNK // (h * w))  # planes per block, so a block's passes stay in cache
    out, pos = np.empty((m, ho, wo)), np.empty((m, ho, wo), dtype=np.intp)
    origins = _window_origins(m, h, w, ho, wo)
    for s in range(0, m, step):
        _halves(planes[s:s + step], out[s:s + step], pos[s:s + step], origins[s:s + step])
    n, c = x.shape[:2]
    if channel_major:
        out = out.reshape(c, n, ho, wo).transpose(1, 0, 2, 3)
    else:
        out = out.reshape(n, c, ho, wo)
    return out, _PoolCache(pos=pos, planes=(m, h, w), channel_major=channel_major, x_shape=x.shape)


def _halves(planes: Array, out: Array, pos: Array, origins: Array) -> None:
    """Each window's maximum into ``out``, its winner's flat position in the planes into
    ``pos`` (its window's top-left cell, from ``origins``, plus the winner's offset)."""
    m, _, w = planes.shape
    _, ho, wo = out.shape
    corners = np.empty((2, 2, m, ho, wo))  # [row in the window, column in the window]
    np.copyto(corners, planes[:, :2 * ho, :2 * wo].reshape(m, ho, 2, wo, 2).transpose(2, 4, 0, 1, 3))
    (top_left, top_right), (bottom_left, bottom_right) = corners
    top, bottom = np.maximum(top_left, top_right), np.maximum(bottom_left, bottom_right)
    low = bottom > top  # the winner is in the bottom row
    right_top, right_bottom = top_right > top_left, bottom_right > bottom_left
    col = right_top ^ ((right_top ^ right_bottom) & low)  # in the winning row
    np.multiply(low, w, out=pos)
    pos += col
    pos += origins
    np.maximum(top, bottom, out=out)


def _halves_backward(dout: Array, cache: Cache) -> tuple[Array, Grads]:
    """Each window's gradient put at its winner (windows do not overlap), in the planes' order."""
    m, h, w = cache["planes"]
    n, c = cache["x_shape"][:2]
    dx = np.zeros(m * h * w)
    if cache["channel_major"]:
        dx[cache["pos"].ravel()] = dout.transpose(1, 0, 2, 3).ravel()
        return dx.reshape(c, n, h, w).transpose(1, 0, 2, 3), ()
    dx[cache["pos"].ravel()] = dout.ravel()
    return dx.reshape(n, c, h, w), ()


@byte_bounded_cache
def _window_origins(m: int, h: int, w: int, ho: int, wo: int) -> Array:
    """(m, Ho, Wo): the flat position of each 2x2 window's top-left cell in (m, H, W) planes."""
    return ((np.arange(m) * (h * w))[:, None, None] + (np.arange(ho) * (2 * w))[None, :, None]
            + (np.arange(wo) * 2)[None, None, :])


def pool_fields() -> tuple[Field, ...]:
    """A pool's fields: the window, and a stride that defaults to the window (as PyTorch)."""
    return (Field("kernel_size", "pair", 1, MAX_INPUT_HW, editor_default=2, label="kernel"),
            Field("stride", "pair", 1, MAX_STRIDE, default="kernel_size", editor_default=2))


def pool_build(cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
    kernel, stride = cfg["kernel_size"], cfg["stride"]
    return Built(out_shape=window_shape(layer, shape, kernel, stride),
                 attrs={"kernel": kernel, "stride": stride, "plan": (*shape, *kernel, *stride)})


class MaxPool2d(LayerType):
    name = "maxpool2d"
    label = "Max-pool"
    order = 20
    prefix = "P"
    input_rank = 3
    fields = pool_fields()
    marks = ("winners",)
    formula = "{out} = MaxPool({in})"
    formula_text = "P[c,i,j] = max over the window (i, j) of A[c, i s+p, j s+q]"
    description = ("Keeps the largest value of each window. Only the winner affected the output, so the "
                   "backward pass routes each window's gradient to its winner and gives every other cell 0.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        return pool_build(cfg, shape, layer)

    def mask(self, cache: Cache) -> Array:
        """1 where some window's maximum was taken, 0 elsewhere; the shape of the pool's input."""
        out = np.zeros(cache["x_shape"])
        out.reshape(-1)[cache["winner"]] = 1.0  # a winner of several windows is set once all the same
        return out


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        c, i, j = idx
        below = ex.below(layer)
        cells = window_cells(ex, below, c, i, j, layer.kernel, layer.stride)
        top = max(cell["value"] for cell in cells)
        tied = [k for k, cell in enumerate(cells) if cell["value"] == top]
        return ex.answer(layer.out, idx, f"{layer.out}[c,i,j] = \\max_{{p,q}} {below}[c,\\, i s + p,\\, j s + q]",
                         "max", [term(cell) for cell in cells], "Max-pooling keeps the largest value of the window."
                         + (" Several cells tie; the first in row-major order wins, as PyTorch." if len(tied) > 1
                            else ""), winner=tied[0], tied=tied, tie_rule=TIE_RULE)

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        c, y, x = idx
        below, dp = ex.below(layer), "d" + layer.out
        windows = []
        for i, j in windows_holding(y, x, layer.out_shape[1:], layer.kernel, layer.stride):
            values = [cell["value"] for cell in window_cells(ex, below, c, i, j, layer.kernel, layer.stride)]
            first = values.index(max(values))  # the tie rule, as the forward pass applied it
            won = (i * layer.stride[0] + first // layer.kernel[1], j * layer.stride[1] + first % layer.kernel[1])
            windows.append({"array": layer.out, "index": [c, i, j], "won": won == (y, x),
                            "winner": ex.f(below, (c, *won))})
        terms = [term(ex.f(dp, tuple(win["index"]))) for win in windows if win["won"]]
        note = (f"This cell won {len(terms)} window(s), so it receives their gradients." if terms else
                "This cell won no window: it did not affect the output, so its gradient is 0.")
        return ex.answer("d" + below, idx, f"d{below}[c,y,x] = \\sum_{{(i,j):\\ (y,x) \\text{{ won window }} (i,j)}} "
                         f"d{layer.out}[c,i,j]", "sum", terms, note, windows=windows)


LAYER = MaxPool2d()
