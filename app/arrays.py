"""The boundary between JSON and NumPy: nested lists in, float64 arrays out, and back.

Every incoming array is checked to be a rectangular nest of finite numbers (strings,
booleans, null, ragged lists, NaN and Infinity are refused). Outgoing bodies carry NumPy
arrays as they are and are encoded by orjson, which writes float64 in the shortest form
that reads back to the same double (as Python's repr) at a tenth of the json module's
cost: the encoder was the largest single cost of /api/step. orjson writes NaN/inf as
null, so a null in a payload is looked into, and a non-finite result becomes a 422 that
says where it overflowed, never invalid or silently-null JSON; except in arrays that are only
shown (the output's dA, dX, the local factors), whose unrepresentable entries are sent as
null and named in ``not_representable``, since the learner's iteration is otherwise sound.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from fastapi import Response

from app.errors import ApiError, shown

Array = np.ndarray
FLOAT_MAX = float(np.finfo(np.float64).max)


def to_array(name: str, value: Any, plain: bool = False) -> Array:
    """A float64 array from a JSON value, or a 422 naming ``name`` and what is allowed.
    ``plain``: the body it came from has only finite numbers and no boolean or null
    (app/body.py's ``parse``), so the leaf walk and the finiteness check are skipped; strings,
    objects and ragged nests are still refused through NumPy's dtype."""
    if value is None:
        raise ApiError(422, f"{name} is required: {_allowed(name)[len(name) + 1:]}")
    odd = None if plain else _odd_leaves(value)
    if odd:
        raise ApiError(422, f"{_allowed(name)} (got {odd})")
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":  # ragged, or ints too big for int64
            arr = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an integer beyond float64 (10**400)
        raise ApiError(422, f"{name} holds a number too large for float64: only finite numbers in range "
                            f"(|x| <= {FLOAT_MAX:.4g}) are allowed") from None
    except (ValueError, TypeError, RecursionError):
        raise ApiError(422, _allowed(name)) from None
    if arr.dtype.kind not in "iuf":
        raise ApiError(422, f"{_allowed(name)} (got {_kind_name(arr.dtype.kind)})")
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if not plain and not np.isfinite(arr).all():
        raise ApiError(422, f"{name} contains NaN or Infinity; only finite numbers are allowed")
    return arr


def _allowed(name: str) -> str:
    return f"{name} must be a number or a rectangular nested list of numbers"


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


def to_arrays(group: str, values: Any, plain: bool = False) -> dict[str, Array]:
    if not isinstance(values, dict):
        raise ApiError(422, f"{group} must be an object mapping names to arrays")
    return {str(k): to_array(f"{group}.{shown(k)}", v, plain) for k, v in values.items()}


def first(arrays: dict[str, Array]) -> dict[str, Array]:
    """One example's arrays: the batch axis dropped."""
    return {k: v[0] for k, v in arrays.items()}


def _non_finite(value: Any, path: str) -> list[str]:
    if isinstance(value, np.ndarray):
        return [] if np.isfinite(value).all() else [path]
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _non_finite(v, path)][:1]
    return []


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):  # not C-contiguous (a view): copy once
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


def encode(body: Any, display: frozenset[str] = frozenset()) -> bytes:
    """JSON bytes for ``body``; ApiError 422 if any number in it is not finite, except in the
    arrays named in ``display`` (paths such as "gradients.dA2": shown, never used for learning),
    whose entries float64 cannot hold go out as null and are named in ``not_representable``."""
    payload = _dumps(body)
    if b"null" in payload:  # NaN/inf become null; a legitimate None also does, so look
        where = sorted(set(_non_finite(body, "")))
        learned = [w for w in where if w not in display]
        if learned:
            raise overflowed(learned)
        if where:
            payload = _dumps(_with_nulls(body, where))
    return payload


MAX_LISTED = 1000  # not_representable entries named in one answer


def _with_nulls(body: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``body`` with each array at ``paths`` ("group.name") as nested lists, null where it is
    not finite, and every such entry named in ``not_representable`` as "group.name[i,j]"."""
    out = {**body}
    missing: list[str] = []
    for path in paths:
        group, name = path.split(".", 1)
        arr = np.asarray(out[group][name], dtype=np.float64)
        bad = ~np.isfinite(arr)
        missing.extend(f"{path}[{','.join(map(str, i))}]" for i in np.argwhere(bad)[:MAX_LISTED])
        held = arr.astype(object)
        held[bad] = None
        out[group] = {**out[group], name: held.tolist()}
    out["not_representable"] = missing[:MAX_LISTED]
    return out


def json_response(body: dict[str, Any], display: frozenset[str] = frozenset()) -> Response:
    return Response(encode(body, display), media_type="application/json")


def overflowed(where: list[str]) -> ApiError:
    """The 422 for a result float64 could not hold, naming where (e.g. ``activations.Z2``)."""
    return ApiError(422, "the result overflowed float64 (it is not a finite number) in "
                         f"{', '.join(where[:8])}: lower the learning rate, or use smaller weights or inputs")
