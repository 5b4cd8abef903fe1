"""Every field of every JSON request, at every depth, replaced by every kind of JSON value: the
answer is a 200 or a 4xx with a string ``detail``, never a 5xx.

For each POST route a valid body is built (the seed's network spelt out in full, so the spec's
own fields are walked too); then every path in it (top-level fields, spec fields, each layer and
its fields, each array and its first entry) is replaced in turn by null, a boolean, an integer,
an integer too large for a float, a float, a string, a list and an object, and by a list and an
object nested far past any parser's recursion limit; and every number in it becomes 10**400.
Deterministic and bounded: about 3,000 in-process requests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_testlib import ApiClient, Json, strict_json

from engine import default_spec

HUGE = 10**400  # no float64 holds it; Python's json writes it digit by digit
VALUES: list[Any] = [None, True, 1, HUGE, 0.5, "x", [1, 2], {"a": 1}]
DEPTHS = (1_000, 20_000)  # about Python's recursion limit, and far past it (a 40 KB body)
Path = tuple[str | int, ...]


def bodies(seed_params: Json, bar_input: list[list[float]]) -> dict[str, Json]:
    """A valid body for every JSON POST route, with every optional field given."""
    net = default_spec()
    example = {"network": net, "params": seed_params, "input": bar_input, "label": 1}
    grads = {"d" + k: v for k, v in seed_params.items()}
    return {
        "/api/init": {"network": net, "seed": 0},
        "/api/network": {"network": net},
        "/api/forward": example,
        "/api/backward": example,
        "/api/step": {**example, "learning_rate": 0.1},
        "/api/update": {"network": net, "params": seed_params, "gradients": grads, "learning_rate": 0.1},
        "/api/gradcheck": {**example, "max_entries": 2},
        "/api/train": {"network": net, "params": seed_params, "dataset": "bars", "classes": [0, 1], "iterations": 1,
                       "batch_size": 2, "learning_rate": 0.1, "optimizer": "sgd", "seed": 0, "points": 1,
                       "stream": False},
    }


def is_number_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, (int, float, list)) for v in value) \
        and not any(isinstance(v, bool) for v in value)


def paths(value: Any, at: Path = ()) -> Iterator[Path]:
    """Every field and list entry, except that a numeric array contributes only itself and its
    first entry (one of its 36 cells stands for the rest)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield at + (k,)
            yield from paths(v, at + (k,))
    elif isinstance(value, list):
        entries = value[:1] if is_number_list(value) else value
        for i, v in enumerate(entries):
            yield at + (i,)
            yield from paths(v, at + (i,))


def number_paths(value: Any, at: Path = ()) -> Iterator[Path]:
    """Every number in the body, array cells included."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield at
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from number_paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from number_paths(v, at + (i,))


def replaced(body: Json, path: Path, value: Any) -> Json:
    out = copy.deepcopy(body)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def deep(depth: int, kind: str) -> str:
    """A list or an object nested ``depth`` deep, as JSON text."""
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


PLACEHOLDER = "@@deep@@"


def encode(body: Json, raw: str | None = None) -> bytes:
    text = json.dumps(body)
    return (text.replace(json.dumps(PLACEHOLDER), raw) if raw is not None else text).encode()


def fault(response: httpx.Response) -> str | None:
    """What breaks the contract, or None: never a 5xx; a 4xx is JSON with a non-empty string
    detail; a 200 is strict JSON (or NDJSON, for a streamed training run)."""
    ctype = response.headers.get("content-type", "")
    if response.status_code == 200:
        if ctype.startswith("application/json"):
            strict_json(response.content)
        return None
    if not 400 <= response.status_code < 500 or not ctype.startswith("application/json"):
        return f"{response.status_code} {ctype}: {response.text[:200]}"
    detail = strict_json(response.content).get("detail")
    return None if isinstance(detail, str) and detail else f"no detail: {response.text[:200]}"


class Faults:
    """Every fault of one test, reported together (one wrong type rarely comes alone)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def post(self, client: ApiClient, route: str, body: bytes, what: str) -> None:
        try:  # in process, an exception no handler took reaches the client (the server would send a 500)
            problem = fault(client.post_raw(route, body))
        except Exception as e:
            problem = f"raised {e.__class__.__name__}: {str(e)[:200]}"
        if problem:
            self.found.append(f"{route} {what}: {problem}")

    def assert_none(self) -> None:
        assert not self.found, f"{len(self.found)} faults:\n" + "\n".join(self.found[:40])


ROUTES = ["/api/init", "/api/network", "/api/forward", "/api/backward", "/api/step", "/api/update",
          "/api/gradcheck", "/api/train"]


@pytest.fixture
def route_bodies(seed_params: Json, bar_input: list[list[float]]) -> dict[str, Json]:
    return bodies(seed_params, bar_input)


@pytest.mark.parametrize("route", ROUTES)
def test_the_base_bodies_are_valid(client: ApiClient, route_bodies: dict[str, Json], route: str) -> None:
    """So that each replacement below is the only thing wrong with its body."""
    assert client.post_raw(route, encode(route_bodies[route])).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_every_field_as_every_json_type(client: ApiClient, route_bodies: dict[str, Json], route: str) -> None:
    body = route_bodies[route]
    faults = Faults()
    for path in paths(body):
        for value in VALUES:
            faults.post(client, route, encode(replaced(body, path, value)), f"{path} = {str(value)[:20]}")
    faults.assert_none()


@pytest.mark.parametrize("route", ROUTES)
def test_deep_nesting_at_every_field(client: ApiClient, route_bodies: dict[str, Json], route: str) -> None:
    body = route_bodies[route]
    faults = Faults()
    for path in paths(body):
        for depth in DEPTHS:
            for kind in ("list", "object"):
                raw = encode(replaced(body, path, PLACEHOLDER), deep(depth, kind))
                faults.post(client, route, raw, f"{path} = {kind} nested {depth} deep")
    faults.assert_none()


@pytest.mark.parametrize("route", ROUTES)
def test_a_huge_integer_at_every_number(client: ApiClient, route_bodies: dict[str, Json], route: str) -> None:
    body = route_bodies[route]
    faults = Faults()
    for path in number_paths(body):
        for value, shown in ((HUGE, "10**400"), (-HUGE, "-10**400")):
            faults.post(client, route, encode(replaced(body, path, value)), f"{path} = {shown}")
    faults.assert_none()


@pytest.mark.parametrize(("route", "field"), [
    ("/api/forward", "label"), ("/api/backward", "label"), ("/api/step", "label"), ("/api/step", "learning_rate"),
    ("/api/update", "learning_rate"), ("/api/train", "learning_rate"), ("/api/forward", "input")])
@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_a_number_too_large_for_a_float_is_named(client: ApiClient, route_bodies: dict[str, Json], route: str,
                                                 field: str, loss: str) -> None:
    """10**400 where a number is expected: a 422 that says the number must be finite and in range."""
    body = copy.deepcopy(route_bodies[route])
    if loss == "cross_entropy":  # labels are class indices here, and float(10**400) overflows
        body["network"]["loss"], body["network"]["layers"][-1]["type"] = "cross_entropy", "softmax"
        body["network"]["layers"][-2]["units"] = 2
        body["params"] = client.post_ok("/api/init", {"network": body["network"]})["params"]
        body.pop("classes", None)
        if route == "/api/update":
            body["gradients"] = {"d" + k: v for k, v in body["params"].items()}
        if field != "label" and "label" in body:
            body["label"] = 1
    value: Any = HUGE if field != "input" else [[HUGE] * 6] * 6
    response = client.post_raw(route, encode({**body, field: value}))
    assert response.status_code == 422, response.text[:300]
    detail = response.json()["detail"]
    assert field in detail and "finite" in detail and "range" in detail, detail
