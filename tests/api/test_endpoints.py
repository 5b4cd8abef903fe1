"""Happy paths of every endpoint, with the numbers checked against the engine called directly
on the same arrays (the JSON round trip of a float64 is exact, so 1e-12 is generous)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from api_testlib import ApiClient, Json, as_arrays

from app import assets
from engine import backward, forward, init_params, read_spec, sgd_update, train_step

TOL = 1e-12
SEED_NET = read_spec()
SEED_GRADIENTS = {"dA2", "dZ2", "dW2", "db2", "dF", "dP1", "dA1", "dZ1", "dW1", "db1", "dX"}

# Two conv blocks with padding, softmax + cross-entropy over 3 classes, a 2-channel 8x8 input.
DEEP_SPEC: Json = {
    "input_shape": [2, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "stride": 1, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2, "stride": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 3},
        {"type": "softmax"},
    ],
    "loss": "cross_entropy",
}


def close(actual: Any, expected: Any) -> None:
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_allclose(a, e, rtol=0, atol=TOL)


def batch(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(1, *shape)


# ----------------------------------------------------------------------------- health, docs
def test_health(client: ApiClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["limits"]["max_input"] == [3, 64, 64]
    assert body["limits"]["max_params"] == 100_000
    assert body["limits"]["max_json_bytes"] == 1024 * 1024


def test_docs_page_is_html(client: ApiClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    # Served offline: Swagger UI from the installed package, no CDN, no inline script.
    assert "http" not in response.text.replace("http-equiv", "")
    assert "<script>" not in response.text
    for asset in (assets.SWAGGER_JS_URL, assets.SWAGGER_CSS_URL, "/static/js/docs.js"):
        assert asset in response.text
        assert client.get(asset).status_code == 200
    assert "/openapi.json" in client.get("/static/js/docs.js").text


def json_post_operations(spec: Json) -> dict[str, Json]:
    """path -> requestBody JSON schema (with $ref resolved) of every POST taking JSON."""
    out = {}
    for path, item in spec["paths"].items():
        content = item.get("post", {}).get("requestBody", {}).get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            out[path] = schema
    return out


# The engine endpoints this suite covers; their documented examples are also run.
ENGINE_POSTS = {"/api/init", "/api/forward", "/api/backward", "/api/update", "/api/step", "/api/gradcheck",
                "/api/network"}


def test_openapi_has_a_working_example_for_every_post(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json()
    posts = {path for path, item in spec["paths"].items() if "post" in item}
    assert ENGINE_POSTS | {"/api/images"} <= posts
    schemas = json_post_operations(spec)
    assert set(schemas) == posts - {"/api/images"}  # every POST takes JSON but the (multipart) upload
    for path, schema in schemas.items():
        assert schema.get("examples"), f"{path} has no example body"
    for path in sorted(ENGINE_POSTS):
        for example in schemas[path]["examples"]:  # the docs' examples must be bodies the API accepts
            response = client.post(path, json=example)
            assert response.status_code == 200, (path, response.text)
    upload = spec["paths"]["/api/images"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload



def test_routes_added_directly_serve_and_document_what_include_router_would(
        client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """app/main.py adds each router's routes to the app itself (include_router's per-request
    matching cost a third of /api/health): the same paths, methods and OpenAPI document."""
    import app.main

    monkeypatch.setattr(app.main, "add_routes", lambda target, router: target.include_router(router))
    included = app.main.create_app()

    def routes(a: Any) -> list[tuple[str, list[str]]]:
        # include_router leaves one wrapper per router in app.routes; look through it
        flat = [r for top in a.routes for r in getattr(getattr(top, "original_router", None), "routes", [top])]
        return sorted((r.path, sorted(getattr(r, "methods", None) or [])) for r in flat)

    assert routes(app.main.app) == routes(included)
    assert client.get("/openapi.json").json() == included.openapi()


# ----------------------------------------------------------------------------- init
def test_init_matches_engine_and_is_reproducible(client: ApiClient) -> None:
    first = client.post_ok("/api/init", {"seed": 7})
    again = client.post_ok("/api/init", {"seed": 7})
    assert first == again
    assert first["network"] == SEED_NET.spec
    expected = init_params(SEED_NET, 7)
    assert set(first["params"]) == {"W1", "b1", "W2", "b2"}
    for name, value in first["params"].items():
        close(value, expected[name])


def test_init_differs_across_seeds(client: ApiClient) -> None:
    draws = [client.post_ok("/api/init", {"seed": s})["params"] for s in (0, 1, 2)]
    for name in ("W1", "b1", "W2", "b2"):
        values = [np.asarray(d[name]) for d in draws]
        assert not np.array_equal(values[0], values[1]) and not np.array_equal(values[1], values[2]), name


def test_init_default_seed_is_zero(client: ApiClient) -> None:
    assert client.post_ok("/api/init", {}) == client.post_ok("/api/init", {"seed": 0})


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1])
def test_init_within_pytorch_bounds(client: ApiClient, seed: int) -> None:
    params = client.post_ok("/api/init", {"seed": seed})["params"]
    shapes = {"W1": (1, 1, 3, 3), "b1": (1,), "W2": (1, 4), "b2": (1,)}
    bounds = {"W1": 1 / 3, "b1": 1 / 3, "W2": 1 / 2, "b2": 1 / 2}  # 1/sqrt(fan_in): 9 for conv, 4 for dense
    for name, value in params.items():
        arr = np.asarray(value)
        assert arr.shape == shapes[name]
        assert np.all(np.abs(arr) <= bounds[name]), name
    spread = np.asarray(params["W1"])
    assert spread.std() > 0.05  # not all zeros / constant


def test_init_custom_network(client: ApiClient) -> None:
    body = client.post_ok("/api/init", {"network": DEEP_SPEC, "seed": 3})
    net = read_spec(DEEP_SPEC)
    assert body["network"] == net.spec
    expected = init_params(net, 3)
    assert set(body["params"]) == set(expected)
    for name, value in body["params"].items():
        close(value, expected[name])
        fan_in = int(np.prod(net.param_shapes[name.replace("b", "W")][1:]))
        assert np.all(np.abs(expected[name]) <= 1 / np.sqrt(fan_in))


# ----------------------------------------------------------------------------- forward
def test_forward_matches_engine(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    body = client.post_ok("/api/forward", {"params": seed_params, "input": bar_input, "label": 1})
    rec = forward(SEED_NET, as_arrays(seed_params), batch(bar_input, (1, 6, 6)), np.array([1.0]))
    assert set(body["activations"]) == {"X", "Z1", "A1", "P1", "F", "Z2", "A2"}
    for name, value in body["activations"].items():
        close(value, rec.activations[name][0])
    assert body["loss"] == pytest.approx(rec.loss, abs=TOL)
    a2 = float(rec.activations["A2"][0, 0])
    assert body["prediction"]["class"] == int(a2 >= 0.5)
    close(body["prediction"]["probabilities"], [1 - a2, a2])
    assert body["network"] == SEED_NET.spec
    assert "gradients" not in body


def test_forward_without_label_has_no_loss(client: ApiClient, seed_params: Json,
                                           bar_input: list[list[float]]) -> None:
    body = client.post_ok("/api/forward", {"params": seed_params, "input": bar_input})
    assert "loss" not in body
    assert set(body["activations"]) == {"X", "Z1", "A1", "P1", "F", "Z2", "A2"}


def test_forward_loss_is_bce_of_a2(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    for label in (0, 1):
        body = client.post_ok("/api/forward", {"params": seed_params, "input": bar_input, "label": label})
        a2 = body["activations"]["A2"][0]
        expected = -np.log(a2) if label == 1 else -np.log(1 - a2)
        assert body["loss"] == pytest.approx(expected, rel=1e-12)


def test_masks_mark_each_pool_windows_winner(client: ApiClient, seed_params: Json) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(6, 6)).tolist()  # no ties: every window has one maximum
    body = client.post_ok("/api/forward", {"params": seed_params, "input": x})
    a1 = np.asarray(body["activations"]["A1"])  # (1, 4, 4)
    p1 = np.asarray(body["activations"]["P1"])  # (1, 2, 2)
    mask = np.asarray(body["masks"]["P1"])
    assert set(body["masks"]) == {"P1"}
    assert mask.shape == a1.shape == (1, 4, 4)
    expected = np.zeros_like(a1)
    for i in range(2):
        for j in range(2):
            window = a1[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            r, c = np.unravel_index(np.argmax(window), (2, 2))  # first maximum, row-major (PyTorch)
            expected[0, 2 * i + r, 2 * j + c] = 1.0
            assert p1[0, i, j] == window.max()
    close(mask, expected)
    assert mask.sum() == 4  # one winner per window


def test_masks_on_ties_pick_the_first_cell(client: ApiClient, seed_params: Json) -> None:
    # Zero weights: A1 is relu(b1) everywhere, all four cells of every window tie.
    params = {**seed_params, "W1": np.zeros((1, 1, 3, 3)).tolist()}
    body = client.post_ok("/api/forward", {"params": params, "input": np.zeros((6, 6)).tolist()})
    expected = np.zeros((1, 4, 4))
    expected[0, ::2, ::2] = 1.0
    close(body["masks"]["P1"], expected)


def test_seed_layouts_are_accepted(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    """The seed writes W1 as 3x3, b1 as a scalar list and b2 as [[x]]; X may be (1, 6, 6) or 6x6."""
    seed_style = {
        "W1": np.asarray(seed_params["W1"]).reshape(3, 3).tolist(),
        "b1": seed_params["b1"],
        "W2": seed_params["W2"],
        "b2": [[seed_params["b2"][0]]],
    }
    canonical = client.post_ok("/api/backward", {"params": seed_params, "input": [bar_input], "label": 1})
    seeded = client.post_ok("/api/backward", {"params": seed_style, "input": bar_input, "label": 1})
    assert seeded["activations"] == canonical["activations"]
    assert seeded["gradients"] == canonical["gradients"]
    assert seeded["loss"] == canonical["loss"]


# ----------------------------------------------------------------------------- backward
def test_backward_matches_engine(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    body = client.post_ok("/api/backward", {"params": seed_params, "input": bar_input, "label": 0})
    rec = forward(SEED_NET, as_arrays(seed_params), batch(bar_input, (1, 6, 6)), np.array([0.0]))
    grads = backward(rec)
    assert set(body["gradients"]) == SEED_GRADIENTS
    for name, value in body["gradients"].items():
        expected = grads[name] if name[1:] in SEED_NET.param_shapes else grads[name][0]
        close(value, expected)
    for name, value in body["activations"].items():
        close(value, rec.activations[name][0])
    assert body["loss"] == pytest.approx(rec.loss, abs=TOL)
    # Parameter gradients come in the parameters' own layouts.
    assert np.shape(body["gradients"]["dW1"]) == (1, 1, 3, 3)
    assert np.shape(body["gradients"]["dW2"]) == (1, 4)
    assert np.shape(body["gradients"]["db1"]) == (1,)
    assert np.shape(body["gradients"]["dX"]) == (1, 6, 6)


def test_backward_seed_formulas(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    """The seed's closed forms: dZ2 = A2 - y, dW2 = dZ2 F^T, db2 = dZ2, dA2 = (a - y) / (a (1 - a))."""
    body = client.post_ok("/api/backward", {"params": seed_params, "input": bar_input, "label": 1})
    a2 = body["activations"]["A2"][0]
    f = np.asarray(body["activations"]["F"])
    g = body["gradients"]
    close(g["dZ2"], [a2 - 1])
    close(g["dW2"], (a2 - 1) * f[None, :])
    close(g["db2"], [a2 - 1])
    assert g["dA2"][0] == pytest.approx((a2 - 1) / (a2 * (1 - a2)), rel=1e-10)
    close(g["dF"], (a2 - 1) * np.asarray(seed_params["W2"])[0])


# ----------------------------------------------------------------------------- update, step
def test_update_is_w_minus_eta_dw(client: ApiClient, seed_params: Json) -> None:
    rng = np.random.default_rng(1)
    grads = {"d" + k: rng.normal(size=np.shape(v)).tolist() for k, v in seed_params.items()}
    body = client.post_ok("/api/update", {"params": seed_params, "gradients": grads, "learning_rate": 0.25})
    assert set(body) == {"params"}
    for name, value in body["params"].items():
        close(value, np.asarray(seed_params[name]) - 0.25 * np.asarray(grads["d" + name]))
    expected = sgd_update(as_arrays(seed_params), as_arrays(grads), 0.25)
    for name, value in body["params"].items():
        close(value, expected[name])


def test_step_is_backward_then_update(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    lr = 0.5
    request = {"params": seed_params, "input": bar_input, "label": 1}
    step = client.post_ok("/api/step", {**request, "learning_rate": lr})
    back = client.post_ok("/api/backward", request)
    assert step["gradients"] == back["gradients"]
    assert step["activations"] == back["activations"]
    assert step["loss"] == back["loss"]
    assert step["learning_rate"] == lr
    param_grads = {"d" + k: back["gradients"]["d" + k] for k in seed_params}
    updated = client.post_ok("/api/update", {"params": seed_params, "gradients": param_grads, "learning_rate": lr})
    for name, value in step["params"].items():
        close(value, updated["params"][name])
    after = client.post_ok("/api/forward", {"params": step["params"], "input": bar_input, "label": 1})
    assert step["loss_after"] == pytest.approx(after["loss"], abs=TOL)
    assert step["loss_after"] < step["loss"]  # a small step downhill lowers the loss


def test_step_matches_engine_train_step(client: ApiClient, seed_params: Json,
                                        bar_input: list[list[float]]) -> None:
    step = client.post_ok("/api/step", {"params": seed_params, "input": bar_input, "label": 0, "learning_rate": 0.1})
    expected = train_step(SEED_NET, as_arrays(seed_params), batch(bar_input, (1, 6, 6)), np.array([0.0]), 0.1)
    for name, value in step["params"].items():
        close(value, expected.params[name])
    assert step["loss_after"] == pytest.approx(expected.loss_after, abs=TOL)
    assert step["loss"] == pytest.approx(expected.record.loss, abs=TOL)


def test_repeated_steps_learn_the_bar(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    params, losses = seed_params, []
    for _ in range(20):
        step = client.post_ok("/api/step", {"params": params, "input": bar_input, "label": 1, "learning_rate": 0.5})
        params = step["params"]
        losses.append(step["loss_after"])
    assert losses[-1] < losses[0]
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_seed_network(client: ApiClient, seed_params: Json, bar_input: list[list[float]]) -> None:
    body = client.post_ok("/api/gradcheck", {"params": seed_params, "input": bar_input, "label": 1})
    assert body["eps"] == 1e-5
    assert body["max_rel_error"] < 1e-6
    assert [c["name"] for c in body["checks"]] == ["W1", "b1", "W2", "b2"]
    totals = {c["name"]: c["entries_total"] for c in body["checks"]}
    assert totals == {"W1": 9, "b1": 1, "W2": 4, "b2": 1}
    back = client.post_ok("/api/backward", {"params": seed_params, "input": bar_input, "label": 1})
    assert body["loss"] == pytest.approx(back["loss"], abs=TOL)
    for check in body["checks"]:
        assert len(check["index"]) == len(check["analytic"]) == len(check["numeric"]) == check["entries_total"]
        grad = np.asarray(back["gradients"]["d" + check["name"]])
        for index, analytic in zip(check["index"], check["analytic"]):
            assert analytic == pytest.approx(grad[tuple(index)], abs=TOL)
        np.testing.assert_allclose(check["numeric"], check["analytic"], rtol=1e-6, atol=1e-9)
        assert check["max_rel_error"] == pytest.approx(max(check["rel_error"]))


def test_gradcheck_samples_with_max_entries(client: ApiClient, seed_params: Json,
                                            bar_input: list[list[float]]) -> None:
    body = client.post_ok("/api/gradcheck", {"params": seed_params, "input": bar_input, "label": 0,
                                             "max_entries": 2})
    counts = {c["name"]: len(c["index"]) for c in body["checks"]}
    assert counts == {"W1": 2, "b1": 1, "W2": 2, "b2": 1}
    assert body["max_rel_error"] < 1e-6


# ----------------------------------------------------------------------------- a bigger network
@pytest.fixture(scope="module")
def deep_case(client: ApiClient) -> tuple[Json, list[Any]]:
    params = client.post_ok("/api/init", {"network": DEEP_SPEC, "seed": 11})["params"]
    x = np.random.default_rng(2).uniform(0, 1, size=(2, 8, 8)).tolist()
    return params, x


def test_deep_network_shapes(client: ApiClient) -> None:
    body = client.post_ok("/api/network", {"network": DEEP_SPEC})
    assert body["shapes"] == {"X": [2, 8, 8], "Z1": [3, 8, 8], "A1": [3, 8, 8], "P1": [3, 4, 4],
                              "Z2": [4, 4, 4], "A2": [4, 4, 4], "P2": [4, 2, 2], "F": [16], "Z3": [3],
                              "A3": [3]}
    assert body["param_shapes"] == {"W1": [3, 2, 3, 3], "b1": [3], "W2": [4, 3, 3, 3], "b2": [4],
                                    "W3": [3, 16], "b3": [3]}
    assert body["param_count"] == 54 + 3 + 108 + 4 + 48 + 3


def test_deep_network_forward_backward(client: ApiClient, deep_case: tuple[Json, list[Any]]) -> None:
    params, x = deep_case
    net = read_spec(DEEP_SPEC)
    body = client.post_ok("/api/backward", {"network": DEEP_SPEC, "params": params, "input": x, "label": 2})
    rec = forward(net, as_arrays(params), batch(x, (2, 8, 8)), np.array([2]))
    grads = backward(rec)
    assert set(body["activations"]) == set(net.activation_names)
    for name, value in body["activations"].items():
        close(value, rec.activations[name][0])
    assert set(body["gradients"]) == set(grads)
    for name, value in body["gradients"].items():
        close(value, grads[name] if name[1:] in net.param_shapes else grads[name][0])
    assert set(body["masks"]) == {"P1", "P2"}
    assert np.shape(body["masks"]["P2"]) == (4, 4, 4)
    probs = np.asarray(body["prediction"]["probabilities"])
    assert probs.shape == (3,) and probs.sum() == pytest.approx(1.0)
    assert body["prediction"]["class"] == int(np.argmax(probs))
    assert body["loss"] == pytest.approx(-np.log(probs[2]), rel=1e-12)


def test_deep_network_forward_without_label(client: ApiClient, deep_case: tuple[Json, list[Any]]) -> None:
    params, x = deep_case
    body = client.post_ok("/api/forward", {"network": DEEP_SPEC, "params": params, "input": x})
    assert "loss" not in body
    assert np.shape(body["activations"]["A3"]) == (3,)


def test_deep_network_step(client: ApiClient, deep_case: tuple[Json, list[Any]]) -> None:
    params, x = deep_case
    net = read_spec(DEEP_SPEC)
    step = client.post_ok("/api/step", {"network": DEEP_SPEC, "params": params, "input": x, "label": 1,
                                        "learning_rate": 0.1})
    expected = train_step(net, as_arrays(params), batch(x, (2, 8, 8)), np.array([1]), 0.1)
    for name, value in step["params"].items():
        close(value, expected.params[name])
    assert step["loss_after"] == pytest.approx(expected.loss_after, abs=TOL)
    after = client.post_ok("/api/forward", {"network": DEEP_SPEC, "params": step["params"], "input": x,
                                            "label": 1})
    assert step["loss_after"] == pytest.approx(after["loss"], abs=TOL)


def test_deep_network_gradcheck(client: ApiClient, deep_case: tuple[Json, list[Any]]) -> None:
    params, x = deep_case
    body = client.post_ok("/api/gradcheck", {"network": DEEP_SPEC, "params": params, "input": x, "label": 0})
    assert body["max_rel_error"] < 1e-6
    assert {c["name"] for c in body["checks"]} == {"W1", "b1", "W2", "b2", "W3", "b3"}


# ----------------------------------------------------------------------------- network
def test_network_seed_summary(client: ApiClient) -> None:
    body = client.post_ok("/api/network", {})
    assert body["param_count"] == 15
    assert body["network"] == SEED_NET.spec
    assert body["shapes"] == {"X": [1, 6, 6], "Z1": [1, 4, 4], "A1": [1, 4, 4], "P1": [1, 2, 2], "F": [4],
                              "Z2": [1], "A2": [1]}
    assert body["param_shapes"] == {"W1": [1, 1, 3, 3], "b1": [1], "W2": [1, 4], "b2": [1]}
    assert body["macs"] == 16 * 9 + 4
    layers = body["layers"]
    assert [layer["type"] for layer in layers] == ["conv2d", "relu", "maxpool2d", "flatten", "dense", "sigmoid"]
    assert [layer["output"] for layer in layers] == ["Z1", "A1", "P1", "F", "Z2", "A2"]
    assert [layer["in_shape"] for layer in layers] == [[1, 6, 6], [1, 4, 4], [1, 4, 4], [1, 2, 2], [4], [1]]
    assert [layer["out_shape"] for layer in layers] == [[1, 4, 4], [1, 4, 4], [1, 2, 2], [4], [1], [1]]
    assert [layer["param_count"] for layer in layers] == [10, 0, 0, 0, 5, 0]


def test_network_normalises_the_spec(client: ApiClient) -> None:
    spec = {"input_shape": [1, 6, 6], "loss": "bce", "layers": [
        {"type": "conv2d", "filters": 2, "kernel_size": [3, 3]}, {"type": "relu"},
        {"type": "flatten"}, {"type": "dense", "units": 1}, {"type": "sigmoid"}]}
    body = client.post_ok("/api/network", {"network": spec})
    assert body["network"]["layers"][0] == {"type": "conv2d", "filters": 2, "kernel_size": [3, 3],
                                            "stride": [1, 1], "padding": [0, 0]}
    assert body["param_count"] == 2 * 9 + 2 + 32 + 1


def test_security_headers_on_api_responses(client: ApiClient) -> None:
    response = client.get("/api/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_every_post_route_documents_every_status_it_can_answer(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        if "post" not in item:
            continue
        codes = set(item["post"]["responses"])
        assert {"200", "400", "408", "413", "422", "503"} <= codes, (path, sorted(codes))
        if item["post"].get("requestBody", {}).get("content", {}).get("application/json"):
            assert "415" in codes, path
    assert "429" in spec["paths"]["/api/train"]["post"]["responses"]
