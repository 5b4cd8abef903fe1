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
from engine.layers._plans import pool_plan, window_shape
from engine.limits import MAX_INPUT_HW, MAX_STRIDE


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W) -> P (N, C, Ho, Wo). Cache: ``winner``, the flat position in the batch
    of the cell that won each window (the first maximum in row-major order on ties)."""
    gather, gather_flat, rows = pool_plan(x.shape[0], *layer.plan)
    flat = x.ravel()
    winner = gather_flat.take(rows + flat.take(gather).argmax(axis=1))
    out = flat.take(winner).reshape(x.shape[0], *layer.out_shape)
    return out, {"winner": winner, "x_shape": x.shape}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dP (N, C, Ho, Wo) -> dA: each window's gradient routed to the cell that won it (summed
    where overlapping windows share a winner), zero elsewhere."""
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    dx = np.bincount(cache["winner"], weights=dout.ravel(), minlength=size)
    return dx.reshape(shape), ()


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
        shape = cache["x_shape"]
        size = shape[0] * shape[1] * shape[2] * shape[3]
        hits = np.bincount(cache["winner"], minlength=size)
        return (hits > 0).astype(np.float64).reshape(shape)


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
            windows.append({"index": [c, i, j], "won": won == (y, x)})
        terms = [term(ex.f(dp, tuple(win["index"]))) for win in windows if win["won"]]
        note = (f"This cell won {len(terms)} window(s), so it receives their gradients." if terms else
                "This cell won no window: it did not affect the output, so its gradient is 0.")
        return ex.answer("d" + below, idx, f"d{below}[c,y,x] = \\sum_{{(i,j):\\ (y,x) \\text{{ won window }} (i,j)}} "
                         f"d{layer.out}[c,i,j]", "sum", terms, note, windows=windows)


LAYER = MaxPool2d()
