"""Pieces of an explanation the layer types share (engine/explain.py builds the rest): a term
is a product of factors, each an entry of a named array or a named constant."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
TIE_RULE = "first maximum in row-major order"


def term(*factors: Json) -> Json:
    value = 1.0
    for fac in factors:
        value *= fac["value"]
    return {"factors": list(factors), "value": value}


def window_cells(ex: Any, array: str, c: int, i: int, j: int, kernel: tuple[int, int],
                 stride: tuple[int, int]) -> list[Json]:
    """The factors of pool window (i, j) of channel c, cells in row-major order."""
    return [ex.f(array, (c, i * stride[0] + p, j * stride[1] + q)) for p in range(kernel[0]) for q in range(kernel[1])]


def windows_holding(y: int, x: int, out_hw: tuple[int, ...], kernel: tuple[int, int],
                    stride: tuple[int, int]) -> list[tuple[int, int]]:
    """The windows (i, j) whose cells include (y, x)."""
    rows = [i for i in range(out_hw[0]) if i * stride[0] <= y < i * stride[0] + kernel[0]]
    cols = [j for j in range(out_hw[1]) if j * stride[1] <= x < j * stride[1] + kernel[1]]
    return [(i, j) for i in rows for j in cols]
