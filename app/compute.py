"""Glue between the routes and the engine: read a request's network, params, input and
label into engine objects, run engine work off the event loop when it is big, and turn a
:class:`engine.Record` into a response body. No maths here: that is the engine's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from starlette.concurrency import run_in_threadpool

from app.arrays import first, to_array, to_arrays
from app.errors import ApiError
from app.settings import settings
from engine import InputError, Network, Record, SpecError, check_input, check_labels, check_params, read_spec

T = TypeVar("T")

DEFAULT_NETWORK = read_spec()


@lru_cache(maxsize=256)
def _read_cached(canonical: str) -> Network:
    return read_spec(json.loads(canonical))


def network(spec: dict[str, Any] | None) -> Network:
    """The request's network (default: the seed's), read once per distinct spec."""
    if spec is None:
        return DEFAULT_NETWORK
    try:
        canonical = json.dumps(spec, sort_keys=True, allow_nan=False)
    except (ValueError, TypeError):
        raise SpecError("the spec must contain only finite numbers, strings, lists and objects") from None
    except RecursionError:  # json.dumps recurses: a spec nested about 1,000 deep
        raise SpecError("the spec is nested too deeply: a network spec is an object of layers, each a flat "
                        "object of numbers, strings and short lists") from None
    return _read_cached(canonical)


def params(net: Network, values: Any, prefix: str = "", plain: bool = False) -> dict[str, np.ndarray]:
    group = "gradients" if prefix else "params"
    return check_params(net, to_arrays(group, values, plain), prefix)


def example(net: Network, value: Any, label: Any = None, plain: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One example's input as a batch of one, and its label (None if not given)."""
    x = check_input(net, to_array("input", value, plain))
    if x.shape[0] != 1:
        raise InputError(f"input must be one example {list(net.input_shape)}, got a batch of {x.shape[0]}")
    return x, (None if label is None else check_labels(net, label, 1))


def request_example(req: Any) -> tuple[Network, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """A forward/backward/step/gradcheck body read into (network, params, x, y)."""
    net = network(req.network)
    plain = req.plain_numbers
    return net, params(net, req.params, plain=plain), *example(net, req.input, req.label, plain)


def _quiet(fn: Callable[..., T], *args: Any) -> T:
    # A runaway learning rate overflows; the response encoder reports that as a 422, so
    # NumPy's RuntimeWarnings would only be noise in the server log.
    with np.errstate(over="ignore", invalid="ignore"):
        return fn(*args)


_heavy = asyncio.Semaphore(settings.max_heavy_jobs)


async def run(net: Network, fn: Callable[..., T], *args: Any) -> T:
    """Small work inline (a thread hop costs more than the seed network's whole step);
    big work in the thread pool so the event loop keeps serving."""
    if net.macs <= settings.inline_macs:
        return _quiet(fn, *args)
    return await run_heavy(fn, *args)


def prediction(rec: Record) -> dict[str, Any]:
    out = rec.output[0]
    probs = rec.net.loss_kind.probabilities(out)
    return {"class": int(rec.predicted_class()[0]), "probabilities": probs}


def record_body(rec: Record) -> dict[str, Any]:
    """The forward (and, once run, backward) fields of a response for one example."""
    net = rec.net
    body: dict[str, Any] = {
        "network": net.spec,
        "activations": first(rec.activations),
        "masks": first(rec.masks()),
        "prediction": prediction(rec),
    }
    if rec.loss is not None:
        body["loss"] = rec.loss
    if rec.gradients:
        body["local"] = first(rec.local_derivatives())
        body["gradients"] = {k: (g if k[1:] in net.param_shapes else g[0]) for k, g in rec.gradients.items()}
        body["not_representable"] = []  # filled by app/arrays.encode, given display_only(...)
    return body


def shown_only(net: Network, name: str) -> bool:
    """Whether an array is shown but never used for learning: the output layer's dA (-1/a for
    cross-entropy, which overflows when a underflows), dX and every local factor (dA1/dZ1).
    Where float64 cannot hold them they go out as null, named in ``not_representable``."""
    return _shown_only(net.layers[-1].out, name)


def _shown_only(output: str, name: str) -> bool:
    return name in (f"d{output}", "dX") or "/" in name


def display_only(body: dict[str, Any], net: Network) -> frozenset[str]:
    """The paths of a backward answer's display-only arrays (``shown_only``), for app/arrays.encode."""
    return _display_paths(net.layers[-1].out, tuple(body["gradients"]), tuple(body["local"]))


@lru_cache(maxsize=256)
def _display_paths(output: str, gradients: tuple[str, ...], local: tuple[str, ...]) -> frozenset[str]:
    # By names alone (the rule reads only the output layer's name): a network answers the same
    # names every time, so they are worked out once.
    grads = [f"gradients.{k}" for k in gradients if _shown_only(output, k)]
    return frozenset([*grads, *(f"local.{k}" for k in local)])


async def run_heavy(fn: Callable[..., T], *args: Any) -> T:
    """In the thread pool, at most ``max_heavy_jobs`` at once per worker; beyond that a 503
    at once rather than a queue that grows until every request times out."""
    if _heavy.locked():
        raise ApiError(503, f"the server is busy with {settings.max_heavy_jobs} large computations; retry in 1 s",
                       headers={"Retry-After": "1"})
    async with _heavy:
        return await run_in_threadpool(_quiet, fn, *args)
