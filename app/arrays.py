"""The boundary between JSON and NumPy: nested lists in, float64 arrays out, and back.

Arrays become lists only here. Every incoming array is checked to be a rectangular nest
of finite numbers (strings, booleans, null, ragged lists, NaN and Infinity are refused);
every outgoing body is encoded with ``allow_nan=False`` so a non-finite result is caught
and reported as an overflow instead of being sent as invalid JSON.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi import Response

from app.errors import ApiError

Array = np.ndarray


def to_array(name: str, value: Any) -> Array:
    """A float64 array from a JSON value, or a 422 naming ``name`` and what is allowed."""
    bad = f"{name} must be a number or a rectangular nested list of numbers"
    if value is None:
        raise ApiError(422, f"{name} is required: {bad[len(name) + 1:]}")
    odd = _odd_leaves(value)
    if odd:
        raise ApiError(422, f"{bad} (got {odd})")
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":  # ragged, or ints too big for int64
            arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise ApiError(422, bad) from None
    if arr.dtype.kind not in "iuf":
        raise ApiError(422, f"{bad} (got {_kind_name(arr.dtype.kind)})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ApiError(422, f"{name} contains NaN or Infinity; only finite numbers are allowed")
    return arr


def _odd_leaves(value: Any) -> str | None:
    """What a nest of lists holds that is not a number ("booleans" or "null"), else None:
    NumPy would quietly read a boolean beside numbers as 1/0 and a null as NaN."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            kinds = set(map(type, v))
            if bool in kinds:
                return "booleans"
            if type(None) in kinds:
                return "null"
            if list in kinds:
                stack.extend(v)
    return None


def _kind_name(kind: str) -> str:
    return {"b": "booleans", "U": "strings", "S": "strings", "O": "mixed values"}.get(kind, "non-numbers")


def to_arrays(group: str, values: Any) -> dict[str, Array]:
    if not isinstance(values, dict):
        raise ApiError(422, f"{group} must be an object mapping names to arrays")
    return {str(k): to_array(f"{group}.{k}", v) for k, v in values.items()}


def first(arrays: dict[str, Array]) -> dict[str, Any]:
    """One example's arrays as lists: the batch axis dropped."""
    return {k: v[0].tolist() for k, v in arrays.items()}


def as_lists(arrays: dict[str, Array]) -> dict[str, Any]:
    return {k: v.tolist() for k, v in arrays.items()}


def _non_finite(value: Any, path: str) -> list[str]:
    if isinstance(value, float):
        return [] if np.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        if value and isinstance(value[0], (int, float)) and not isinstance(value[0], bool):
            return [] if np.isfinite(np.asarray(value, dtype=np.float64)).all() else [path]
        return [p for i, v in enumerate(value) for p in _non_finite(v, path)][:1]
    return []


def json_response(body: dict[str, Any]) -> Response:
    """Encode with allow_nan=False; a NaN/inf anywhere becomes a 422 that names where."""
    try:
        payload = json.dumps(body, allow_nan=False, separators=(",", ":"))
    except ValueError:
        where = sorted(set(_non_finite(body, "")))[:8]
        raise ApiError(422, "the result overflowed float64 (it is not a finite number) in "
                            f"{', '.join(where) or 'the response'}: lower the learning rate, or use smaller "
                            "weights or inputs") from None
    return Response(payload, media_type="application/json")
