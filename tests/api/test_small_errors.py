"""Errors stay small: a detail never carries more than about 200 characters of the client's
input, and no error body is over 4 KiB, however much of it the request sent (a 900 KB field
name, dataset name, layer type, loss or parameter key; long lists; 20,000 unknown fields; the
``classes`` query). The input here is made of a character no message uses ("~"), so counting
it counts the echo."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from api_testlib import MAX_ERROR_BYTES, ApiClient, Json

from engine import default_spec

MARK = "~"
BIG = MARK * 900_000  # 900 KB of input in one string
ECHO = 200  # characters of input a detail may carry


def check_small(response: Any) -> Json:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert len(response.content) <= MAX_ERROR_BYTES, (len(response.content), response.text[:300])
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["detail"].count(MARK) <= ECHO, body["detail"]
    assert response.text.count(MARK) <= 2 * ECHO, response.text[:500]  # detail and errors[].loc together
    return body


def post(client: ApiClient, path: str, body: Json) -> Any:
    return client.post_raw(path, json.dumps(body, ensure_ascii=False).encode())


def step_body(seed_params: Json, bar_input: list[list[float]]) -> Json:
    return {"params": seed_params, "input": bar_input, "label": 1, "learning_rate": 0.1}


def with_spec(body: Json, change: Any) -> Json:
    spec = copy.deepcopy(default_spec())
    change(spec)
    return {**body, "network": spec}


def set_layer_type(spec: Json) -> None:
    spec["layers"][0]["type"] = BIG


def set_loss(spec: Json) -> None:
    spec["loss"] = BIG


def set_input_shape(spec: Json) -> None:
    spec["input_shape"] = [1] * 100_000


def set_kernel_size(spec: Json) -> None:
    spec["layers"][0]["kernel_size"] = [3] * 100_000


def set_layer_field(spec: Json) -> None:
    spec["layers"][0][BIG] = 1


def set_kernel_string(spec: Json) -> None:
    spec["layers"][0]["kernel_size"] = BIG


SPEC_CHANGES = {"layer type": set_layer_type, "loss": set_loss, "input_shape list": set_input_shape,
                "kernel_size list": set_kernel_size, "unknown layer field": set_layer_field,
                "kernel_size string": set_kernel_string}


@pytest.mark.parametrize("case", list(SPEC_CHANGES))
@pytest.mark.parametrize("path", ["/api/step", "/api/network"])
def test_huge_spec_values_give_small_errors(client: ApiClient, seed_params: Json, bar_input: list[list[float]],
                                            path: str, case: str) -> None:
    body = step_body(seed_params, bar_input) if path == "/api/step" else {}
    check_small(post(client, path, with_spec(body, SPEC_CHANGES[case])))


def test_a_900_kb_unknown_field_gives_a_small_error(client: ApiClient, seed_params: Json,
                                                     bar_input: list[list[float]]) -> None:
    body = check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), BIG: 1}))
    assert body["errors"][0]["type"] == "extra_forbidden"
    assert "Extra inputs are not permitted" in body["detail"]


def test_twenty_thousand_unknown_fields_give_a_small_error(client: ApiClient, seed_params: Json,
                                                           bar_input: list[list[float]]) -> None:
    extra = {f"{MARK}{i}": i for i in range(20_000)}
    body = check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), **extra}))
    assert "more" in body["detail"]  # says how many it left out


@pytest.mark.parametrize("group", ["params", "gradients"])
def test_a_huge_param_key_gives_a_small_error(client: ApiClient, seed_params: Json, group: str) -> None:
    grads = {"d" + k: v for k, v in seed_params.items()}
    body = {"params": seed_params, "gradients": grads, "learning_rate": 0.1}
    body[group] = {**body[group], BIG: 1}
    check_small(post(client, "/api/update", body))
    body[group] = {**body[group], BIG: "not an array"}
    check_small(post(client, "/api/update", body))


def test_a_huge_dataset_name_gives_a_small_error(client: ApiClient, seed_params: Json) -> None:
    body = {"params": seed_params, "dataset": BIG, "iterations": 1, "learning_rate": 0.1}
    check_small(post(client, "/api/train", body))
    check_small(client.get(f"/api/datasets/{MARK * 30_000}/samples"))


def test_huge_classes_give_small_errors(client: ApiClient, seed_params: Json) -> None:
    body = {"params": seed_params, "dataset": "bars", "iterations": 1, "learning_rate": 0.1,
            "classes": [int("9" * 4000)] * 10}
    response = post(client, "/api/train", body)
    assert len(response.content) <= MAX_ERROR_BYTES and response.text.count("9" * 201) == 0, response.text[:300]
    query = ",".join(["1"] * 20_000)
    response = client.get(f"/api/datasets/bars/samples?classes={query}")
    assert 400 <= response.status_code < 500 and response.text.count("1,1") <= ECHO, response.text[:300]
    check_small(client.get(f"/api/datasets/bars/samples?classes={MARK * 30_000}"))


def test_a_huge_string_where_an_array_is_expected(client: ApiClient, seed_params: Json,
                                                  bar_input: list[list[float]]) -> None:
    check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), "input": [[BIG]]}))
    check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), "input": BIG}))
    check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), "optimizer": BIG}))
    check_small(post(client, "/api/step", {**step_body(seed_params, bar_input), "label": BIG}))
