"""POST /api/explain against /api/step for the same body: the value and every factor are the
entries of /api/step's answer, the value recomputes from the terms, the rule comes as MathML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_testlib import ApiClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from explain_testlib import recompute, tolerance  # noqa: E402

TWO_BLOCK = {"input_shape": [1, 8, 8], "layers": [
    {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10},
    {"type": "softmax"}], "loss": "cross_entropy"}


def step_arrays(step: dict[str, Any], params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every array of /api/step's answer by its API name."""
    out = {k: np.asarray(v) for k, v in params.items()}
    for group in ("activations", "gradients", "local"):
        out.update({k: np.asarray(v) for k, v in step[group].items()})
    out.update({f"{k}_new": np.asarray(v) for k, v in step["params"].items()})
    return out


def body_for(client: ApiClient, network: dict[str, Any] | None, label: int, seed: int) -> dict[str, Any]:
    init = client.post_ok("/api/init", {"seed": seed, **({"network": network} if network else {})})
    shape = init["network"]["input_shape"]
    x = np.random.default_rng(seed).uniform(0, 1, size=shape).round(3).tolist()
    body = {"params": init["params"], "input": x, "label": label, "learning_rate": 0.1}
    return {**body, "network": network} if network else body


def check(client: ApiClient, body: dict[str, Any], arrays: dict[str, np.ndarray], loss: float, array: str,
          index: list[int]) -> dict[str, Any]:
    expl = client.post_ok("/api/explain", {**body, "array": array, "index": index})
    expected = loss if array == "L" else arrays[array][tuple(index)]
    assert expl["value"] == expected, (array, index)
    assert abs(recompute(expl) - expected) <= tolerance(expl), (array, index)
    assert expl["rule_mathml"].startswith("<math") and "</math>" in expl["rule_mathml"]
    for t in expl["terms"]:
        for f in t["factors"]:
            if f["array"] is not None and not f.get("padding"):
                assert f["value"] == arrays[f["array"]][tuple(f["index"])], f
    return expl


@pytest.mark.parametrize("network, label", [(None, 1), (None, 0), (TWO_BLOCK, 3)], ids=["seed1", "seed0", "two"])
def test_explanations_match_step(client: ApiClient, network: dict[str, Any] | None, label: int) -> None:
    body = body_for(client, network, label, seed=4)
    step = client.post_ok("/api/step", body)
    arrays = step_arrays(step, body["params"])
    rng = np.random.default_rng(0)
    for name, values in arrays.items():
        cells = list(np.ndindex(values.shape))
        picks = cells if len(cells) <= 40 else [cells[i] for i in rng.choice(len(cells), 40, replace=False)]
        for idx in picks:
            check(client, body, arrays, step["loss"], name, list(idx))
    check(client, body, arrays, step["loss"], "L", [])


@pytest.mark.parametrize("extra, words", [
    ({"array": "Q7", "index": [0]}, ["Q7", "not one of"]),
    ({"array": "Z1", "index": [0, 9, 0]}, ["index", "[1, 4, 4]"]),
    ({"array": "Z1", "index": [0, 0]}, ["index", "3 integers"]),
    ({"array": "Z1"}, ["index"]),
    ({"array": "Z1", "index": ["a", 0, 0]}, ["index"]),
    ({"array": "x" * 5000, "index": []}, ["array"]),
])
def test_bad_array_or_index(client: ApiClient, extra: dict[str, Any], words: list[str]) -> None:
    body = {**body_for(client, None, 1, seed=0), **extra}
    r = client.post("/api/explain", json=body)
    assert r.status_code == 422, r.text
    assert len(r.content) < 4096
    detail = r.text
    for w in words:
        assert w in detail, (w, detail[:300])


def test_a_display_only_value_float64_cannot_hold_is_null_and_named(client: ApiClient) -> None:
    # Cross-entropy with the true class 900 below another: dA = -1/a overflows; dZ does not.
    net = {"input_shape": [1, 2, 2], "layers": [{"type": "flatten"}, {"type": "dense", "units": 3},
                                                {"type": "softmax"}], "loss": "cross_entropy"}
    body = {"network": net, "params": {"W1": [[0.0] * 4] * 3, "b1": [0.0, 900.0, 0.0]}, "input": [[[0.5, 0.5],
            [0.5, 0.5]]], "label": 0, "learning_rate": 0.1}
    out = client.post_ok("/api/explain", {**body, "array": "dA1", "index": [0]})
    assert out["value"] is None and out["not_representable"] == ["value"]
    fused = client.post_ok("/api/explain", {**body, "array": "dZ1", "index": [0]})
    assert fused["value"] == -1.0 and "not_representable" not in fused
