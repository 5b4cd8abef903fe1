"""Hostile and mistaken requests: every one is a 4xx JSON body whose string ``detail`` names
the problem, it arrives within a second, and the server keeps answering afterwards."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from api_testlib import BAR_INPUT, ApiClient, Json, encode_image, rejected
from PIL import Image

BAD = "@BAD@"  # placeholder: a raw literal (NaN, Infinity, 1e400) replaces it after json.dumps

DEEP_SPEC: Json = {
    "input_shape": [2, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
        {"type": "dense", "units": 3}, {"type": "softmax"},
    ],
    "loss": "cross_entropy",
}
CONV: Json = {"type": "conv2d", "filters": 1, "kernel_size": 3}
BCE_HEAD: list[Json] = [{"type": "flatten"}, {"type": "dense", "units": 1}, {"type": "sigmoid"}]


def raw(body: Json, literal: str) -> bytes:
    """``body`` as JSON with the placeholder replaced by a literal json.dumps would never write."""
    text = json.dumps(body)
    assert text.count(f'"{BAD}"') == 1
    return text.replace(f'"{BAD}"', literal).encode()


def with_bad(value: Any, index: tuple[int, ...]) -> Any:
    """A deep copy of nested lists with the entry at ``index`` replaced by the placeholder."""
    copy = json.loads(json.dumps(value))
    target = copy
    for i in index[:-1]:
        target = target[i]
    target[index[-1]] = BAD
    return copy


# ----------------------------------------------------------------------------- NaN, Infinity, overflow literals
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]


def nan_cases(p: Json) -> dict[str, tuple[str, Json, tuple[str, ...]]]:
    """name -> (url, body with the placeholder, words the detail must contain)."""
    x = BAR_INPUT
    spec = json.loads(json.dumps(DEEP_SPEC))
    spec["layers"][0]["filters"] = BAD
    shape_spec = {**json.loads(json.dumps(DEEP_SPEC)), "input_shape": [2, BAD, 8]}
    grads = {"d" + k: v for k, v in p.items()}
    return {
        "input": ("/api/forward", {"params": p, "input": with_bad(x, (2, 3))}, ("input", "NaN or Infinity")),
        "input-step": ("/api/step", {"params": p, "input": with_bad(x, (0, 0)), "label": 1, "learning_rate": 0.1},
                       ("input", "NaN or Infinity")),
        "params.W1": ("/api/forward", {"params": {**p, "W1": with_bad(p["W1"], (0, 0, 1, 1))}, "input": x},
                      ("params.W1", "NaN or Infinity")),
        "params.b2": ("/api/backward", {"params": {**p, "b2": [BAD]}, "input": x, "label": 1},
                      ("params.b2", "NaN or Infinity")),
        "gradients.dW2": ("/api/update", {"params": p, "gradients": {**grads, "dW2": with_bad(p["W2"], (0, 2))},
                                          "learning_rate": 0.1}, ("gradients.dW2", "NaN or Infinity")),
        "learning_rate-step": ("/api/step", {"params": p, "input": x, "label": 1, "learning_rate": BAD},
                               ("learning_rate", "finite")),
        "learning_rate-update": ("/api/update", {"params": p, "gradients": grads, "learning_rate": BAD},
                                 ("learning_rate", "finite")),
        "label": ("/api/forward", {"params": p, "input": x, "label": BAD}, ("label", "finite")),
        "label-gradcheck": ("/api/gradcheck", {"params": p, "input": x, "label": BAD}, ("label", "finite")),
        "network.filters": ("/api/network", {"network": spec}, ("network", "finite")),
        "network.input_shape": ("/api/init", {"network": shape_spec}, ("network", "finite")),
        "network-forward": ("/api/forward", {"network": spec, "params": p, "input": x}, ("network", "finite")),
        "seed": ("/api/init", {"seed": BAD}, ("seed", "integer")),
        "max_entries": ("/api/gradcheck", {"params": p, "input": x, "label": 1, "max_entries": BAD},
                        ("max_entries", "integer")),
    }


# Case names are read at collection time, before any fixture: these stand in for the seed's params.
NAMING_PARAMS: Json = {"W1": [[[[0.0] * 3] * 3]], "b1": [0.0], "W2": [[0.0] * 4], "b2": [0.0]}
NAN_CASE_NAMES = list(nan_cases(NAMING_PARAMS))


@pytest.mark.parametrize("literal", LITERALS)
@pytest.mark.parametrize("where", NAN_CASE_NAMES)
def test_non_finite_literals_are_refused(client: ApiClient, seed_params: Json, where: str, literal: str) -> None:
    url, body, words = nan_cases(seed_params)[where]
    response = client.post_raw(url, raw(body, literal))
    rejected(client, response, 422, *words)


# ----------------------------------------------------------------------------- shapes
def shape_cases(p: Json) -> dict[str, tuple[str, Json, tuple[str, ...]]]:
    x = BAR_INPUT
    grads = {"d" + k: v for k, v in p.items()}
    return {
        "W1 2x2": ("/api/forward", {"params": {**p, "W1": [[1, 2], [3, 4]]}, "input": x}, ("W1", "[1, 1, 3, 3]")),
        "W1 4x4": ("/api/forward", {"params": {**p, "W1": np.zeros((4, 4)).tolist()}, "input": x},
                   ("W1", "[4, 4]", "[1, 1, 3, 3]")),
        "W1 1x9": ("/api/forward", {"params": {**p, "W1": [[0.1] * 9]}, "input": x}, ("W1", "[1, 1, 3, 3]")),
        "b1 two": ("/api/backward", {"params": {**p, "b1": [0.1, 0.2]}, "input": x, "label": 0}, ("b1", "[1]")),
        "W2 three": ("/api/step", {"params": {**p, "W2": [[1, 2, 3]]}, "input": x, "label": 0, "learning_rate": 1},
                     ("W2", "[1, 4]")),
        "W2 2x2": ("/api/forward", {"params": {**p, "W2": [[1, 2], [3, 4]]}, "input": x}, ("W2", "[1, 4]")),
        "dW1": ("/api/update", {"params": p, "gradients": {**grads, "dW1": [[0.0] * 3] * 2}, "learning_rate": 0.1},
                ("dW1", "[1, 1, 3, 3]")),
        "input 5x5": ("/api/forward", {"params": p, "input": [[0.0] * 5] * 5}, ("input", "[5, 5]", "[1, 6, 6]")),
        "input 7x6": ("/api/forward", {"params": p, "input": [[0.0] * 6] * 7}, ("input", "[1, 6, 6]")),
        "input 2 channels": ("/api/forward", {"params": p, "input": [x, x]}, ("input", "[1, 6, 6]")),
        "input batch": ("/api/forward", {"params": p, "input": [[x], [x]]}, ("input", "one example")),
        "input scalar": ("/api/forward", {"params": p, "input": 0.5}, ("input", "[1, 6, 6]")),
        "input flat": ("/api/forward", {"params": p, "input": [0.0] * 36}, ("input", "[36]", "[1, 6, 6]")),
    }


@pytest.mark.parametrize("case", list(shape_cases(NAMING_PARAMS)))
def test_wrong_shapes_name_array_and_expected_shape(client: ApiClient, seed_params: Json, case: str) -> None:
    url, body, words = shape_cases(seed_params)[case]
    rejected(client, client.post(url, json=body), 422, *words)


def test_wrong_channels_for_a_custom_network(client: ApiClient) -> None:
    params = client.post_ok("/api/init", {"network": DEEP_SPEC})["params"]
    response = client.post("/api/forward", json={"network": DEEP_SPEC, "params": params,
                                                 "input": np.zeros((1, 8, 8)).tolist()})
    rejected(client, response, 422, "input", "[2, 8, 8]")
    response = client.post("/api/forward", json={"network": DEEP_SPEC, "params": {**params, "W1": [[0.0]]},
                                                 "input": np.zeros((2, 8, 8)).tolist()})
    rejected(client, response, 422, "W1", "[2, 2, 3, 3]")


# ----------------------------------------------------------------------------- non-numbers
def row_with(value: Any) -> list[list[Any]]:
    rows: list[list[Any]] = [row[:] for row in BAR_INPUT]
    rows[1][4] = value
    return rows


def content_cases(p: Json) -> dict[str, tuple[Json, tuple[str, ...]]]:
    """name -> (forward body, words): ragged lists, strings, booleans and null where numbers belong."""
    return {
        "ragged input": ({"params": p, "input": BAR_INPUT[:5] + [[0.0] * 5]}, ("input", "rectangular")),
        "ragged depth": ({"params": p, "input": BAR_INPUT[:5] + [[[0.0]] * 6]}, ("input", "rectangular")),
        "string in input": ({"params": p, "input": row_with("0.5")}, ("input", "strings")),
        "string input": ({"params": p, "input": "a 6x6 image"}, ("input", "strings")),
        "boolean in input": ({"params": p, "input": row_with(True)}, ("input", "booleans")),
        "boolean among floats": ({"params": p, "input": [[0.5, False, 0.5, 0.5, 0.5, 0.5]] * 6},
                                 ("input", "booleans")),
        "all booleans": ({"params": p, "input": [[True] * 6] * 6}, ("input", "booleans")),
        "null in input": ({"params": p, "input": row_with(None)}, ("input", "null")),
        "null input": ({"params": p, "input": None}, ("input", "required")),
        "object in input": ({"params": p, "input": row_with({"v": 1})}, ("input", "numbers")),
        "huge integer": ({"params": p, "input": row_with(10**400)}, ("input", "numbers")),
        "boolean in W1": ({"params": {**p, "W1": [[[[0.1, 0.2, True]] * 3]]}, "input": BAR_INPUT},
                          ("params.W1", "booleans")),
        "boolean b1": ({"params": {**p, "b1": True}, "input": BAR_INPUT}, ("params.b1", "booleans")),
        "null in b2": ({"params": {**p, "b2": [None]}, "input": BAR_INPUT}, ("params.b2", "null")),
        "null W2": ({"params": {**p, "W2": None}, "input": BAR_INPUT}, ("params.W2", "required")),
        "string W2": ({"params": {**p, "W2": "0.1 0.2 0.3 0.4"}, "input": BAR_INPUT}, ("params.W2", "strings")),
        "object W2": ({"params": {**p, "W2": {"0": 0.1}}, "input": BAR_INPUT}, ("params.W2", "numbers")),
        "ragged W1": ({"params": {**p, "W1": [[0.1, 0.2, 0.3], [0.1, 0.2], [0.1]]}, "input": BAR_INPUT},
                      ("params.W1", "rectangular")),
        "params a list": ({"params": [p["W1"], p["b1"]], "input": BAR_INPUT}, ("params", "dictionary")),
        "params null": ({"params": None, "input": BAR_INPUT}, ("params", "dictionary")),
    }


@pytest.mark.parametrize("case", list(content_cases(NAMING_PARAMS)))
def test_non_numbers_in_arrays(client: ApiClient, seed_params: Json, case: str) -> None:
    body, words = content_cases(seed_params)[case]
    rejected(client, client.post("/api/forward", json=body), 422, *words)


# ----------------------------------------------------------------------------- missing / unexpected
def field_cases(p: Json) -> dict[str, tuple[str, Json, tuple[str, ...]]]:
    x = BAR_INPUT
    grads = {"d" + k: v for k, v in p.items()}
    without_w2 = {k: v for k, v in p.items() if k != "W2"}
    return {
        "no params": ("/api/forward", {"input": x}, ("params", "required")),
        "no input": ("/api/backward", {"params": p, "label": 1}, ("input", "required")),
        "no label": ("/api/backward", {"params": p, "input": x}, ("label", "required")),
        "no label step": ("/api/step", {"params": p, "input": x, "learning_rate": 0.1}, ("label", "required")),
        "no learning_rate": ("/api/step", {"params": p, "input": x, "label": 1}, ("learning_rate", "required")),
        "no gradients": ("/api/update", {"params": p, "learning_rate": 0.1}, ("gradients", "required")),
        "missing W2": ("/api/forward", {"params": without_w2, "input": x}, ("missing", "W2")),
        "empty params": ("/api/forward", {"params": {}, "input": x}, ("missing", "W1", "b2")),
        "extra W3": ("/api/forward", {"params": {**p, "W3": [[1.0]]}, "input": x}, ("unexpected", "W3")),
        "renamed w1": ("/api/forward", {"params": {**without_w2, "w2": p["W2"]}, "input": x},
                       ("missing", "W2", "unexpected", "w2")),
        "gradient names": ("/api/update", {"params": p, "gradients": p, "learning_rate": 0.1},
                           ("gradients", "missing", "dW1")),
        "extra gradient": ("/api/update", {"params": p, "gradients": {**grads, "dX": [0.0]}, "learning_rate": 0.1},
                           ("unexpected", "dX")),
        "unknown field": ("/api/forward", {"params": p, "input": x, "foo": 1}, ("foo", "extra")),
        "typo field": ("/api/step", {"params": p, "input": x, "label": 1, "lr": 0.1, "learning_rate": 0.1},
                       ("lr", "extra")),
        "unknown init field": ("/api/init", {"seed": 1, "sede": 2}, ("sede", "extra")),
        "unknown network field": ("/api/network", {"net": {}}, ("net", "extra")),
        "gradcheck max_entries 0": ("/api/gradcheck", {"params": p, "input": x, "label": 1, "max_entries": 0},
                                    ("max_entries", "greater than or equal to 1")),
        "seed negative": ("/api/init", {"seed": -1}, ("seed", "greater than or equal to 0")),
        "seed too big": ("/api/init", {"seed": 2**32}, ("seed", "less than or equal")),
        "seed float": ("/api/init", {"seed": 1.5}, ("seed", "integer")),
    }


@pytest.mark.parametrize("case", list(field_cases(NAMING_PARAMS)))
def test_missing_and_unexpected_fields(client: ApiClient, seed_params: Json, case: str) -> None:
    url, body, words = field_cases(seed_params)[case]
    rejected(client, client.post(url, json=body), 422, *words)


# ----------------------------------------------------------------------------- network specs
def spec(layers: list[Json], loss: str | None = "bce", input_shape: list[int] | None = None) -> Json:
    out: Json = {"input_shape": input_shape or [1, 6, 6], "layers": layers}
    if loss is not None:
        out["loss"] = loss
    return out


SPEC_CASES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "kernel larger than input": (spec([{**CONV, "kernel_size": 7}, *BCE_HEAD]), ("layer 0", "kernel", "larger")),
    "pool larger than input": (spec([CONV, {"type": "maxpool2d", "kernel_size": 5}, *BCE_HEAD]),
                               ("layer 1", "pool", "larger")),
    "unknown layer type": (spec([{"type": "lstm", "units": 4}, *BCE_HEAD]), ("unknown layer type", "lstm")),
    "layer without type": (spec([{"filters": 1}, *BCE_HEAD]), ("layer 0", "type")),
    "dense before flatten": (spec([{"type": "dense", "units": 1}, {"type": "sigmoid"}]), ("dense", "flatten")),
    "conv after flatten": (spec([{"type": "flatten"}, CONV, *BCE_HEAD[1:]]), ("conv", "flatten")),
    "missing loss": (spec([CONV, *BCE_HEAD], loss=None), ("loss", "missing")),
    "unknown loss": (spec([CONV, *BCE_HEAD], loss="mse"), ("loss", "mse")),
    "cross_entropy ending in sigmoid": (spec([CONV, *BCE_HEAD], loss="cross_entropy"),
                                        ("cross_entropy", "softmax", "sigmoid")),
    "bce ending in softmax": (spec([CONV, {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "softmax"}]),
                              ("bce", "sigmoid", "softmax")),
    "bce with two units": (spec([CONV, {"type": "flatten"}, {"type": "dense", "units": 2}, {"type": "sigmoid"}]),
                           ("bce", "1 output unit")),
    "no output layer": (spec([CONV, {"type": "flatten"}, {"type": "dense", "units": 1}]), ("sigmoid", "ends with")),
    "empty layers": (spec([]), ("layers", "non-empty")),
    "missing field": (spec([{"type": "conv2d", "kernel_size": 3}, *BCE_HEAD]), ("conv2d", "filters")),
    "unknown layer field": (spec([{**CONV, "dilation": 2}, *BCE_HEAD]), ("dilation", "allowed")),
    "unknown spec field": ({**spec([CONV, *BCE_HEAD]), "optimizer": "adam"}, ("optimizer", "allowed")),
    "filters zero": (spec([{**CONV, "filters": 0}, *BCE_HEAD]), ("filters", "from 1 to 64")),
    "filters boolean": (spec([{**CONV, "filters": True}, *BCE_HEAD]), ("filters", "integer")),
    "kernel string": (spec([{**CONV, "kernel_size": "3"}, *BCE_HEAD]), ("kernel_size", "integer")),
    "padding not below kernel": (spec([{**CONV, "padding": 3}, *BCE_HEAD]), ("padding", "smaller")),
    "input_shape two dims": (spec([CONV, *BCE_HEAD], input_shape=[6, 6]), ("input_shape", "[channels")),
    "input too large": (spec([CONV, *BCE_HEAD], input_shape=[3, 65, 65]), ("input height", "64", "65")),
    "too many channels": (spec([CONV, *BCE_HEAD], input_shape=[4, 8, 8]), ("channels", "3")),
    "too many parameters": (spec([{"type": "flatten"}, {"type": "dense", "units": 1024}, {"type": "relu"},
                                  {"type": "dense", "units": 1}, {"type": "sigmoid"}], input_shape=[1, 64, 64]),
                            ("parameters", "100000")),
    "too many layers": (spec([CONV] + [{"type": "relu"}] * 24 + BCE_HEAD), ("24 layers",)),
    "two activations": (spec([CONV, {"type": "relu"}, {"type": "relu"}, *BCE_HEAD]), ("second array", "A1")),
    "spec not an object": ("conv-relu-pool", ("network", "dictionary")),
    "layers not a list": ({"input_shape": [1, 6, 6], "layers": {"type": "relu"}, "loss": "bce"},
                          ("layers", "list")),
}


@pytest.mark.parametrize("case", list(SPEC_CASES))
def test_bad_network_specs(client: ApiClient, case: str) -> None:
    network, words = SPEC_CASES[case]
    rejected(client, client.post("/api/network", json={"network": network}), 422, "network", *words)


@pytest.mark.parametrize("url", ["/api/init", "/api/forward", "/api/step", "/api/gradcheck"])
def test_bad_spec_is_refused_by_every_endpoint(client: ApiClient, seed_params: Json, url: str) -> None:
    network, words = SPEC_CASES["kernel larger than input"]
    body: Json = {"network": network, "params": seed_params, "input": BAR_INPUT, "label": 1, "learning_rate": 0.1}
    keep = {"/api/init": {"network"}, "/api/forward": {"network", "params", "input"},
            "/api/step": set(body), "/api/gradcheck": {"network", "params", "input", "label"}}[url]
    response = client.post(url, json={k: v for k, v in body.items() if k in keep})
    rejected(client, response, 422, "network", *words)


def test_input_limit_is_quoted(client: ApiClient) -> None:
    detail = rejected(client, client.post("/api/init", json={"network": SPEC_CASES["input too large"][0]}), 422)
    assert "64" in detail


def test_parameter_limit_is_quoted(client: ApiClient) -> None:
    detail = rejected(client, client.post("/api/init", json={"network": SPEC_CASES["too many parameters"][0]}), 422)
    assert "100000" in detail and "4196353" in detail


# ----------------------------------------------------------------------------- labels
@pytest.mark.parametrize(("label", "words"), [
    (2, ("label", "0 or 1")),
    (-1, ("label", "0 or 1")),
    (0.5, ("label", "0 or 1")),
    (1.0000001, ("label", "0 or 1")),
    (True, ("label", "valid integer")),
    (False, ("label", "valid integer")),
    ("1", ("label", "valid integer")),
    ([1], ("label", "valid integer")),
    (None, ("label", "valid integer")),
])
def test_bad_bce_labels(client: ApiClient, seed_params: Json, label: Any, words: tuple[str, ...]) -> None:
    response = client.post("/api/backward", json={"params": seed_params, "input": BAR_INPUT, "label": label})
    rejected(client, response, 422, *words)


@pytest.mark.parametrize("url", ["/api/forward", "/api/step", "/api/gradcheck"])
def test_bad_label_on_every_endpoint(client: ApiClient, seed_params: Json, url: str) -> None:
    body: Json = {"params": seed_params, "input": BAR_INPUT, "label": 2}
    if url == "/api/step":
        body["learning_rate"] = 0.1
    rejected(client, client.post(url, json=body), 422, "label", "0 or 1")


@pytest.mark.parametrize("label", [3, -1, 1.5, 100])
def test_bad_cross_entropy_labels(client: ApiClient, label: float) -> None:
    params = client.post_ok("/api/init", {"network": DEEP_SPEC})["params"]
    response = client.post("/api/backward", json={"network": DEEP_SPEC, "params": params,
                                                  "input": np.zeros((2, 8, 8)).tolist(), "label": label})
    rejected(client, response, 422, "label", "class index from 0 to 2")


# ----------------------------------------------------------------------------- learning rates
@pytest.mark.parametrize(("rate", "words"), [
    (0, ("learning_rate", "greater than 0")),
    (0.0, ("learning_rate", "greater than 0")),
    (-0.1, ("learning_rate", "greater than 0")),
    (-1e300, ("learning_rate", "greater than 0")),
    (100.0001, ("learning_rate", "less than or equal to 100")),
    (1e6, ("learning_rate", "less than or equal to 100")),
    ("abc", ("learning_rate", "valid number")),
    ("", ("learning_rate", "valid number")),
    (None, ("learning_rate", "valid number")),
    ([0.1], ("learning_rate", "valid number")),
])
@pytest.mark.parametrize("url", ["/api/step", "/api/update"])
def test_bad_learning_rates(client: ApiClient, seed_params: Json, url: str, rate: Any,
                            words: tuple[str, ...]) -> None:
    body: Json = {"params": seed_params, "learning_rate": rate}
    if url == "/api/step":
        body.update(input=BAR_INPUT, label=1)
    else:
        body["gradients"] = {"d" + k: v for k, v in seed_params.items()}
    rejected(client, client.post(url, json=body), 422, *words)


# ----------------------------------------------------------------------------- overflow
def test_update_overflow_is_reported(client: ApiClient, seed_params: Json) -> None:
    grads = {"d" + k: np.full(np.shape(v), 1e307).tolist() for k, v in seed_params.items()}
    response = client.post("/api/update", json={"params": seed_params, "gradients": grads, "learning_rate": 100})
    rejected(client, response, 422, "overflow", "params.W1", "params.b2", "learning rate")


def huge(params: Json, scale: float) -> Json:
    return {k: np.where(np.asarray(v) >= 0, scale, -scale).tolist() for k, v in params.items()}


@pytest.mark.parametrize("url", ["/api/forward", "/api/backward", "/api/step", "/api/gradcheck"])
def test_huge_params_overflow_is_a_422(client: ApiClient, seed_params: Json, url: str) -> None:
    body: Json = {"params": huge(seed_params, 1e200), "input": BAR_INPUT, "label": 1}
    if url == "/api/step":
        body["learning_rate"] = 1.0
    rejected(client, client.post(url, json=body), 422, "overflow")


def test_step_overflowing_only_in_the_update(client: ApiClient) -> None:
    """Forward and backward stay finite; W2 - 100 dW2 does not. The detail says where."""
    params = {"W1": np.zeros((1, 1, 3, 3)).tolist(), "b1": [1e308],  # Z1 = A1 = P1 = F = 1e308
              "W2": [[0.0] * 4], "b2": [0.0]}  # Z2 = 0, A2 = 0.5, dW2 = 0.5 F = 5e307
    body = {"params": params, "input": BAR_INPUT, "label": 0}
    back = client.post_ok("/api/backward", body)
    assert back["gradients"]["dW2"] == [[5e307] * 4]
    response = client.post("/api/step", json={**body, "learning_rate": 100})
    detail = rejected(client, response, 422, "overflow", "params.W2")
    assert "gradients" not in detail and "activations" not in detail


# ----------------------------------------------------------------------------- bodies that are not objects
@pytest.mark.parametrize("payload", [b"[1, 2, 3]", b'"params"', b"null", b"42", b"true", b"[]", b"{}"])
@pytest.mark.parametrize("url", ["/api/forward", "/api/step", "/api/update"])
def test_body_that_is_not_a_request_object(client: ApiClient, url: str, payload: bytes) -> None:
    response = client.post_raw(url, payload)
    detail = rejected(client, response, 422)
    assert any(w in detail for w in ("dictionary or object", "required")), detail


@pytest.mark.parametrize("payload", [b"{bad", b'{"params": ', b"{'params': {}}", b'{"a": 1,}', b"{}{}"])
def test_invalid_json(client: ApiClient, payload: bytes) -> None:
    rejected(client, client.post_raw("/api/forward", payload), 422, "not valid JSON")


def test_empty_body(client: ApiClient) -> None:
    rejected(client, client.post_raw("/api/forward", b""), 422, "required")


@pytest.mark.parametrize("payload", [b'{"input": "\xff\xfe"}', b"\xff\xfe{\x00", b"\x00" * 64])
def test_body_not_utf8(client: ApiClient, payload: bytes) -> None:
    detail = rejected(client, client.post_raw("/api/forward", payload), None)
    assert "could not be parsed" in detail or "not valid JSON" in detail, detail


def test_deeply_nested_json_body(client: ApiClient) -> None:
    depth = 100_000
    response = client.post_raw("/api/forward", b"[" * depth + b"]" * depth)
    rejected(client, response, None, "nested")


def test_deeply_nested_json_object(client: ApiClient) -> None:
    depth = 100_000
    response = client.post_raw("/api/step", b'{"a":' * depth + b"1" + b"}" * depth)
    rejected(client, response, None)


def test_deeply_nested_input_array(client: ApiClient, seed_params: Json) -> None:
    # Within Python's parser's reach but far past NumPy's 64 dimensions.
    nest = "[" * 500 + "0.5" + "]" * 500
    payload = json.dumps({"params": seed_params, "input": BAD}).replace(f'"{BAD}"', nest).encode()
    rejected(client, client.post_raw("/api/forward", payload), 422, "input")


# Body-size caps (1 MiB JSON, declared or streamed; 2 MiB uploads) are tested, with their headers,
# in tests/system/test_limits_and_headers.py.


# ----------------------------------------------------------------------------- uploads
def test_non_image_upload(client: ApiClient) -> None:
    rejected(client, client.upload(b"hello, world\n" * 10, "notes.txt", "text/plain"), 415, "PNG", "JPEG")


def test_html_named_png(client: ApiClient) -> None:
    rejected(client, client.upload(b"<html><script>alert(1)</script></html>", "x.png"), 415, "PNG or JPEG")


def test_empty_upload(client: ApiClient) -> None:
    rejected(client, client.upload(b""), 422, "empty")


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF", "ICO"])
def test_other_image_formats(client: ApiClient, fmt: str) -> None:
    data = encode_image(Image.new("RGB", (16, 16), "white"), fmt)
    rejected(client, client.upload(data, f"image.{fmt.lower()}", f"image/{fmt.lower()}"), 415, "only PNG and JPEG")


def noisy(size: int = 64) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8), "RGB")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_images(client: ApiClient, fmt: str, keep: float) -> None:
    data = encode_image(noisy(), fmt)
    cut = data[:int(len(data) * keep)]
    rejected(client, client.upload(cut, f"cut.{fmt.lower()}", f"image/{fmt.lower()}"), 422, "corrupt")


def test_png_cut_inside_its_header(client: ApiClient) -> None:
    data = encode_image(noisy(), "PNG")
    rejected(client, client.upload(data[:24]), 422, "corrupt")


def test_png_with_corrupt_data(client: ApiClient) -> None:
    data = bytearray(encode_image(noisy(), "PNG"))
    start = data.index(b"IDAT") + 8
    data[start:start + 200] = b"\x00" * 200
    rejected(client, client.upload(bytes(data)), 422, "corrupt")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose IHDR says width x height (CRC fixed up)."""
    data = bytearray(encode_image(Image.new("1", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode_image(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(scope="module")
def real_png_bomb() -> bytes:
    """10000 x 10000 blank pixels (10^8, past Pillow's own warning threshold) in a few KB."""
    return encode_image(Image.new("1", (10_000, 10_000)), "PNG", optimize=True)


def test_decompression_bomb_png(client: ApiClient, real_png_bomb: bytes) -> None:
    assert len(real_png_bomb) < 64 * 1024
    rejected(client, client.upload(real_png_bomb, "bomb.png"), 422, "decompression bomb", "4096x4096")


@pytest.mark.parametrize("make", [png_claiming, jpeg_claiming])
@pytest.mark.parametrize("size", [(20_000, 20_000), (65_535, 65_535), (5_000, 5_000), (4097, 4096), (1, 20_000_000)])
def test_headers_claiming_huge_images(client: ApiClient, make: Callable[[int, int], bytes],
                                      size: tuple[int, int]) -> None:
    if make is jpeg_claiming and max(size) > 65_535:
        size = (65_535, 300)  # a JPEG's dimensions are 16-bit
    data = make(*size)
    rejected(client, client.upload(data, "bomb"), 422, "pixels", "decompression bomb")


def test_zero_sized_png(client: ApiClient) -> None:
    response = client.upload(png_claiming(0, 10))
    assert response.status_code in (415, 422)
    rejected(client, response, None, "PNG")


def test_upload_field_missing(client: ApiClient) -> None:
    response = client.post("/api/images", files={"image": ("a.png", encode_image(Image.new("L", (4, 4))), "image/png")})
    rejected(client, response, 422, "file", "required")


def test_upload_sent_as_json(client: ApiClient) -> None:
    response = client.post("/api/images", json={"file": "iVBORw0KGgo="})
    rejected(client, response, 422, "file")
