"""Display-only values float64 cannot hold: a 200 that sends them as null and names them.

Cross-entropy where the true class's probability underflows (a wrong-class margin over about
709): the loss (about the margin) and every gradient used for learning are finite, but the
displayed dA = -1/a is not. /api/backward and /api/step answer 200, with the entries as JSON
null and listed in ``not_representable`` (indices in the response's own, one-example, layout).
Display-only means the output layer's dA, dX and the ``local`` factors; anything used for
learning that overflows is still a 422.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from api_testlib import ApiClient, Json, strict_json

from engine import backward, forward, read_spec

CE = {"input_shape": [1, 2, 2], "layers": [{"type": "flatten"}, {"type": "dense", "units": 3}, {"type": "softmax"}],
      "loss": "cross_entropy"}
BCE = {"input_shape": [1, 2, 2], "layers": [{"type": "flatten"}, {"type": "dense", "units": 1}, {"type": "sigmoid"}],
       "loss": "bce"}
X = [[[0.5, -0.5], [0.25, 1.0]]]


def ce_body(margin: float, label: int = 0) -> Json:
    """Logits z = [0, margin, 0] (zero weights, the bias carries them)."""
    return {"network": CE, "params": {"W1": [[0.0] * 4] * 3, "b1": [0.0, margin, 0.0]}, "input": X, "label": label}


def bce_body(z: float, label: int) -> Json:
    return {"network": BCE, "params": {"W1": [[0.0] * 4], "b1": [z]}, "input": X, "label": label}


@pytest.mark.parametrize("path", ["/api/backward", "/api/step"])
@pytest.mark.parametrize("margin", [710.0, 800.0, 1400.0])
def test_cross_entropy_past_the_underflow_is_a_200(client: ApiClient, path: str, margin: float) -> None:
    body = ce_body(margin) | ({"learning_rate": 0.1} if path == "/api/step" else {})
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text[:300]
    out = strict_json(response.content)
    assert out["not_representable"] == ["gradients.dA1[0]"]
    assert out["gradients"]["dA1"] == [None, 0.0, 0.0]
    # The loss is the exact margin (log(1 + 2 e^-margin) is far below its last bit) and finite,
    # and so is every gradient used for learning: dZ = a - onehot(y).
    assert out["loss"] == pytest.approx(margin, rel=1e-15)
    dz = out["gradients"]["dZ1"]
    assert dz[:2] == [-1.0, 1.0] and dz[2] == pytest.approx(math.exp(-margin), rel=1e-6, abs=1e-320)
    assert all(math.isfinite(v) for row in out["gradients"]["dW1"] for v in row)
    if path == "/api/step":
        assert math.isfinite(out["loss_after"]) and out["loss_after"] < out["loss"]


def test_the_answer_matches_the_engine_where_it_is_finite(client: ApiClient) -> None:
    out = client.post_ok("/api/backward", ce_body(900.0, label=2))
    net = read_spec(CE)
    params = {"W1": np.zeros((3, 4)), "b1": np.array([0.0, 900.0, 0.0])}
    with np.errstate(over="ignore", divide="ignore"):
        rec = forward(net, params, np.asarray(X)[None], np.array([2]))
        backward(rec)
    expected = rec.gradients["dA1"][0]
    assert not np.isfinite(expected[2])
    assert out["gradients"]["dA1"][:2] == expected[:2].tolist() and out["gradients"]["dA1"][2] is None
    assert out["not_representable"] == ["gradients.dA1[2]"]


@pytest.mark.parametrize("path", ["/api/backward", "/api/step"])
def test_bce_past_the_underflow_is_a_200(client: ApiClient, path: str) -> None:
    """A sigmoid output confidently wrong: dA = -1/a with a = sigmoid(-800) = 0 in float64."""
    body = bce_body(-800.0, 1) | ({"learning_rate": 0.1} if path == "/api/step" else {})
    out = client.post_ok(path, body)
    assert out["not_representable"] == ["gradients.dA1[0]"]
    assert out["gradients"]["dA1"] == [None]
    assert out["gradients"]["dZ1"] == [-1.0]
    assert out["loss"] == pytest.approx(800.0, rel=1e-15)


@pytest.mark.parametrize("path", ["/api/backward", "/api/step"])
def test_an_ordinary_answer_says_nothing_is_unrepresentable(client: ApiClient, path: str) -> None:
    body = ce_body(2.0) | ({"learning_rate": 0.1} if path == "/api/step" else {})
    assert client.post_ok(path, body)["not_representable"] == []


def test_overflow_in_what_is_learned_is_still_a_422(client: ApiClient) -> None:
    """Weights so large that Z overflows: the activations (and dZ, dW) are not finite."""
    body = ce_body(1.0) | {"params": {"W1": [[1e308] * 4] * 3, "b1": [1e308, 0.0, 0.0]}}
    for path in ("/api/backward", "/api/step"):
        response = client.post(path, json=body | ({"learning_rate": 0.1} if path == "/api/step" else {}))
        assert response.status_code == 422, response.text[:300]
        assert "overflowed" in response.json()["detail"]


def test_forward_has_no_such_field(client: ApiClient) -> None:
    assert "not_representable" not in client.post_ok("/api/forward", ce_body(800.0))


def test_the_schema_documents_it(client: ApiClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("BackwardResponse", "StepResponse"):
        assert "not_representable" in schemas[name]["properties"], name
