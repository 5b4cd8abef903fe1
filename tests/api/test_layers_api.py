"""GET /api/layers: the registry as the page reads it. Every type's description matches what
the engine accepts: each field's default, bounds and kind, and a spec built from the editor
defaults of every type reads, so the page's "Add layer" never offers something the engine refuses."""

from __future__ import annotations

from typing import Any

import pytest
from api_testlib import ApiClient

from engine import read_spec
from engine.layers import REGISTRY
from engine.losses import LOSSES


@pytest.fixture(scope="module")
def registry(client: ApiClient) -> dict[str, Any]:
    r = client.get("/api/layers")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()


def test_every_type_and_loss_is_described(registry: dict[str, Any]) -> None:
    assert [t["type"] for t in registry["layers"]] == list(REGISTRY)
    assert [loss["name"] for loss in registry["losses"]] == list(LOSSES)
    for t in registry["layers"]:
        assert t["input"] in {"maps", "flat", "any"}
        assert set(t) >= {"label", "output_prefix", "params", "fields", "formula", "formula_text", "marks",
                          "output_layer", "description"}
        for f in t["fields"]:
            assert f["kind"] in {"int", "pair", "number"}
            assert f["min"] <= f["editor_default"] <= f["max"]
            assert f["required"] == (f["default"] is None)
    for loss in registry["losses"]:
        assert loss["output_layer"] in REGISTRY and loss["logits_layer"] in REGISTRY


def _with_defaults(t: dict[str, Any]) -> dict[str, Any]:
    return {"type": t["type"], **{f["name"]: f["editor_default"] for f in t["fields"]}}


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_editor_defaults_make_a_valid_layer(registry: dict[str, Any], kind: str, client: ApiClient) -> None:
    t = next(t for t in registry["layers"] if t["type"] == kind)
    layer = _with_defaults(t)
    if t["output_layer"]:
        loss = next(x for x in registry["losses"] if x["output_layer"] == kind)
        layers = [{"type": "flatten"}, {"type": "dense", "units": 3}, layer]
    else:
        loss = registry["losses"][0]
        head = [{"type": "dense", "units": 1}, {"type": "sigmoid"}]
        if t["input"] == "flat":
            layers = [{"type": "flatten"}, layer, *head]
        elif kind == "flatten":
            layers = [layer, *head]
        else:
            layers = [layer, {"type": "flatten"}, *head]
    spec = {"input_shape": [1, 8, 8], "layers": layers, "loss": loss["name"]}
    answer = client.post_ok("/api/network", {"network": spec})
    net = read_spec(spec)
    described = next(x for x in answer["layers"] if x["type"] == kind)
    assert described["output"].startswith(t["output_prefix"])
    assert [p.rstrip("0123456789") for p in described["params"]] == t["params"]
    assert {f["name"] for f in t["fields"]} <= set(described)
    assert net.param_count == answer["param_count"]


def test_default_of_a_field_is_what_the_engine_fills_in(registry: dict[str, Any]) -> None:
    for t in registry["layers"]:
        required = {f["name"]: f["editor_default"] for f in t["fields"] if f["required"]}
        read = REGISTRY[t["type"]]
        for f in t["fields"]:
            if f["required"]:
                continue
            cfg: dict[str, Any] = {}
            for field in read.fields:
                cfg[field.name] = field.read({"type": t["type"], **required}, cfg, 0)
            expected = cfg[f["default"]] if isinstance(f["default"], str) else f["default"]
            got = cfg[f["name"]]
            assert got == expected or got == (expected, expected), (t["type"], f["name"])
