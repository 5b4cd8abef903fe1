"""Property tests over the JSON endpoints: whatever a client sends (any shape, nesting, type,
NaN/Infinity literals, huge, denormal and negative-zero numbers, huge integers, extra fields,
random network specs), the answer is a 200 or a 4xx, never a 5xx; its body is strict JSON
(no NaN/Infinity literals); a 4xx carries a string ``detail``; a 200 holds only finite numbers.

Bodies are encoded by hand with json.dumps(allow_nan=True), which writes NaN, Infinity and
-Infinity literals, exactly what a hostile (or JavaScript-less) client sends; "1e400" literals
are spliced in through a placeholder. Every test is derandomized and bounded in examples.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from api_testlib import ApiClient, strict_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from system_testlib import check_answer, non_finite_paths

from engine import read_spec

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
FEW = settings(SETTINGS, max_examples=20)

SEED_NET = read_spec()
SEED_SHAPES = {k: tuple(v) for k, v in SEED_NET.param_shapes.items()}  # W1 (1,1,3,3), b1 (1,), W2 (1,4), b2 (1,)
OVERFLOW = "@@1e400@@"  # replaced by a bare 1e400 / -1e999 literal after encoding

# ----------------------------------------------------------------------------- values
SPECIAL_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, -0.0,
                   0.0, 10**30, -(10**30), 2**63, -(2**63) - 1, 2**64, 1e-300, OVERFLOW]
HUGE_FINITE = [1e308, -1e308, 1.7976931348623157e308, 1e200, -1e154, 5e-324, -5e-324, -0.0, 10**30, -(10**30),
               2**63, 1e-300]

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=6)
numbers = st.one_of(st.floats(), st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from(SPECIAL_NUMBERS))
finite_numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                           st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from(HUGE_FINITE))
# Small enough that the seed's logit Z2 stays within +-709, where dA2 = -1/A2 (or 1/(1 - A2)) is a
# float64; beyond it that displayed gradient goes out as null, named in not_representable.
moderate = st.floats(min_value=-2, max_value=2, allow_nan=False, allow_infinity=False)
leaves = st.one_of(numbers, any_text, st.booleans(), st.none())
junk = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(any_text, inner, max_size=3)), max_leaves=24)


def nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    """Row-major nested lists of ``shape`` from ``flat`` (a bare number for shape ())."""
    if not shape:
        return flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def array_of(shape: tuple[int, ...], elements: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    size = int(np.prod(shape)) if shape else 1
    return st.lists(elements, min_size=size, max_size=size).map(lambda flat: nest(flat, shape))


@st.composite
def any_array(draw: st.DrawFn, elements: st.SearchStrategy[Any] = numbers) -> Any:
    """A rectangular nest of random depth (0-5) and lengths (0-4), or a ragged/odd one."""
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=5)))
    if int(np.prod(shape)) > 64:
        shape = shape[:2]
    return draw(st.one_of(array_of(shape, elements), junk))


def seed_params(elements: st.SearchStrategy[Any], prefix: str = "") -> st.SearchStrategy[dict[str, Any]]:
    """The seed network's parameters (or gradients) in the right shapes; W1 also as a bare 3x3."""
    fields = {prefix + k: array_of(s, elements) for k, s in SEED_SHAPES.items()}
    fields[prefix + "W1"] = st.one_of(array_of(SEED_SHAPES["W1"], elements), array_of((3, 3), elements))
    return st.fixed_dictionaries(fields)


def seed_input(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(array_of((6, 6), elements), array_of((1, 6, 6), elements))


# ----------------------------------------------------------------------------- network specs
LAYER_TYPES = ["conv2d", "maxpool2d", "dense", "relu", "sigmoid", "softmax", "flatten"]
small_value = st.one_of(st.integers(-2, 9), st.lists(st.integers(-1, 5), max_size=3), st.floats(),
                        st.sampled_from([10**30, 1e308, 2.0, -0.0, True]), any_text, st.none())
random_layer = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(LAYER_TYPES), leaves)},
    optional={"filters": small_value, "kernel_size": small_value, "stride": small_value, "padding": small_value,
              "units": small_value, "activation": small_value})
random_spec = st.fixed_dictionaries(
    {"input_shape": st.one_of(st.lists(st.integers(-1, 12), max_size=4), junk),
     "layers": st.one_of(st.lists(st.one_of(random_layer, junk), max_size=8), junk),
     "loss": st.one_of(st.sampled_from(["bce", "cross_entropy"]), leaves)},
    optional={"extra": junk})


@st.composite
def plausible_spec(draw: st.DrawFn) -> dict[str, Any]:
    """A small spec built the way a learner would (many are valid, some do not fit)."""
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 12))
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        conv: dict[str, Any] = {"type": "conv2d", "filters": draw(st.integers(1, 4)),
                                "kernel_size": draw(st.one_of(st.integers(1, 4), st.lists(st.integers(1, 4),
                                                                                          min_size=2, max_size=2)))}
        if draw(st.booleans()):
            conv["stride"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            conv["padding"] = draw(st.integers(0, 2))
        layers.append(conv)
        layers.append({"type": draw(st.sampled_from(["relu", "sigmoid"]))})
        if draw(st.booleans()):
            pool: dict[str, Any] = {"type": "maxpool2d", "kernel_size": draw(st.integers(1, 3))}
            if draw(st.booleans()):
                pool["stride"] = draw(st.integers(1, 3))
            layers.append(pool)
    layers.append({"type": "flatten"})
    for _ in range(draw(st.integers(0, 1))):
        layers += [{"type": "dense", "units": draw(st.integers(1, 6))}, {"type": draw(st.sampled_from(["relu",
                                                                                                        "sigmoid"]))}]
    loss = draw(st.sampled_from(["bce", "cross_entropy"]))
    units = 1 if loss == "bce" else draw(st.integers(2, 4))
    layers += [{"type": "dense", "units": units}, {"type": "sigmoid" if loss == "bce" else "softmax"}]
    return {"input_shape": [c, h, w], "layers": layers, "loss": loss}


networks = st.one_of(st.none(), st.just(SEED_NET.spec), random_spec, plausible_spec(), junk)

# ----------------------------------------------------------------------------- bodies
params_values = st.one_of(seed_params(st.one_of(finite_numbers, numbers)),
                          st.dictionaries(st.sampled_from(["W1", "b1", "W2", "b2", "W3", "x"]), any_array(),
                                          max_size=5), junk)
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "network": {"network": networks},
    "params": {"params": params_values},
    "gradients": {"gradients": st.one_of(seed_params(st.one_of(finite_numbers, numbers), "d"), params_values)},
    "input": {"input": st.one_of(seed_input(st.one_of(finite_numbers, numbers)), any_array(), junk)},
    "label": {"label": st.one_of(st.sampled_from([0, 1, 0.0, 1.0, 2, -1]), numbers, junk)},
    "learning_rate": {"learning_rate": st.one_of(st.floats(min_value=0, max_value=100), numbers, junk)},
    "seed": {"seed": st.one_of(st.integers(-5, 2**33), numbers, junk)},
    "max_entries": {"max_entries": st.one_of(st.integers(-1, 300), junk)},
}
# /api/train: keep the amount of work tiny whatever is drawn (no junk integers where a count goes).
not_an_int = st.one_of(st.floats(), any_text, st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=3),
                       st.sampled_from([10**30, 1e308, 2**63]))
TRAIN_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "network": networks,
    "params": params_values,
    "dataset": st.one_of(st.sampled_from(["bars", "diagonals", "strokes", "digits", "nope", ""]), leaves),
    "classes": st.one_of(st.lists(st.integers(-1, 11), max_size=4), junk),
    "iterations": st.one_of(st.integers(-1, 3), not_an_int),
    "batch_size": st.one_of(st.integers(-1, 8), not_an_int),
    "learning_rate": st.one_of(st.floats(min_value=0, max_value=100), numbers),
    "optimizer": st.one_of(st.sampled_from(["sgd", "momentum", "adam", "SGD"]), leaves),
    "seed": st.one_of(st.integers(-1, 2**33), not_an_int),
    "points": st.one_of(st.integers(-1, 3), not_an_int),
    "stream": st.one_of(st.booleans(), leaves),
}
ENDPOINT_FIELDS = {
    "/api/init": ["network", "seed"],
    "/api/network": ["network"],
    "/api/forward": ["network", "params", "input", "label"],
    "/api/backward": ["network", "params", "input", "label"],
    "/api/step": ["network", "params", "input", "label", "learning_rate"],
    "/api/update": ["network", "params", "gradients", "learning_rate"],
    "/api/gradcheck": ["network", "params", "input", "label", "max_entries"],
}


def hostile_body(path: str) -> st.SearchStrategy[Any]:
    if path == "/api/train":
        optional = dict(TRAIN_FIELDS)
    else:
        optional = {k: v for name in ENDPOINT_FIELDS[path] for k, v in FIELDS[name].items()}
    body = st.fixed_dictionaries({}, optional=optional)
    extra = st.dictionaries(any_text, junk, max_size=2)
    with_extra = st.tuples(body, extra).map(lambda be: {**be[1], **be[0]})
    return st.one_of(body, with_extra, junk)


def encode(body: Any) -> bytes:
    """JSON text with NaN/Infinity literals as json.dumps(allow_nan=True) writes them, plus 1e400 ones."""
    text = json.dumps(body, allow_nan=True)
    text = text.replace(f'"{OVERFLOW}"', "1e400", 1).replace(f'"{OVERFLOW}"', "-1e999")
    return text.encode()  # ASCII: json.dumps escapes everything else, lone surrogates included


def post(client: ApiClient, path: str, body: Any) -> Any:
    raw = encode(body)
    response = client.post_raw(path, raw)
    if path == "/api/train" and response.status_code == 200 and \
            response.headers["content-type"].startswith("application/x-ndjson"):
        lines = [strict_json(line) for line in response.content.splitlines() if line.strip()]
        assert lines and lines[-1]["type"] in ("done", "diverged"), lines[-1:]
        assert not non_finite_paths(lines), non_finite_paths(lines)
        return lines
    return check_answer(response, raw[:300])


# ----------------------------------------------------------------------------- hostile bodies, per endpoint
@SETTINGS
@given(body=hostile_body("/api/init"))
def test_init_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/init", body)


@SETTINGS
@given(body=hostile_body("/api/network"))
def test_network_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/network", body)


@SETTINGS
@given(body=hostile_body("/api/forward"))
def test_forward_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/forward", body)


@SETTINGS
@given(body=hostile_body("/api/backward"))
def test_backward_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/backward", body)


@SETTINGS
@given(body=hostile_body("/api/step"))
def test_step_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/step", body)


@SETTINGS
@given(body=hostile_body("/api/update"))
def test_update_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/update", body)


@FEW
@given(body=hostile_body("/api/gradcheck"))
def test_gradcheck_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/gradcheck", body)


@FEW
@given(body=hostile_body("/api/train"))
def test_train_never_fails_on_any_body(client: ApiClient, body: Any) -> None:
    post(client, "/api/train", body)


# ----------------------------------------------------------------------------- bodies that are not JSON objects
raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[", b"null", b"true", b"1", b'"x"', b"NaN", b"Infinity", b"-Infinity", b"1e400",
                     b"{}{}", b'{"a":1,}', b"\xff\xfe{}", b'{"params": NaN}', b'{"network": {"layers": Infinity}}',
                     b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000]),
    junk.map(lambda v: encode(v)[:-1] if len(encode(v)) > 1 else encode(v)),  # truncated JSON
)


@SETTINGS
@given(path=st.sampled_from([*ENDPOINT_FIELDS, "/api/train"]), raw=raw_bodies,
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "application/json; charset=latin-1"]))
def test_no_body_bytes_make_a_server_error(client: ApiClient, path: str, raw: bytes, content_type: str) -> None:
    check_answer(client.post_raw(path, raw, content_type), raw[:80])


# ----------------------------------------------------------------------------- valid-ish bodies: 200 or overflow 422
def seed_fields(elements: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return {"params": seed_params(elements), "input": seed_input(elements), "label": st.sampled_from([0, 1, 1.0]),
            "learning_rate": st.one_of(st.floats(min_value=1e-300, max_value=100), st.sampled_from([100.0, 1e-3]))}


def overflow_or_ok(body: Any, response_body: Any, status: int) -> None:
    if status != 200:
        assert status == 422, (status, response_body)
        assert "overflow" in response_body["detail"] or "finite" in response_body["detail"], response_body


@SETTINGS
@given(path=st.sampled_from(["/api/forward", "/api/backward", "/api/step", "/api/gradcheck"]),
       fields=st.fixed_dictionaries(seed_fields(finite_numbers)))
def test_seed_bodies_with_huge_values_give_200_or_an_overflow_422(client: ApiClient, path: str,
                                                                  fields: dict[str, Any]) -> None:
    body = dict(fields)
    if path != "/api/step":
        body.pop("learning_rate")
    response = client.post_raw(path, encode(body))
    overflow_or_ok(body, check_answer(response, body), response.status_code)


@SETTINGS
@given(params=seed_params(finite_numbers), grads=seed_params(finite_numbers, "d"),
       lr=st.floats(min_value=1e-300, max_value=100))
def test_update_with_huge_values_gives_200_or_an_overflow_422(client: ApiClient, params: Any, grads: Any,
                                                              lr: float) -> None:
    body = {"params": params, "gradients": grads, "learning_rate": lr}
    response = client.post_raw("/api/update", encode(body))
    answer = check_answer(response, body)
    overflow_or_ok(body, answer, response.status_code)
    if response.status_code == 200:  # exactly the seed's rule, bit for bit
        for name, value in answer["params"].items():
            want = np.asarray(params[name], dtype=np.float64).reshape(SEED_SHAPES[name]) - \
                lr * np.asarray(grads["d" + name], dtype=np.float64).reshape(SEED_SHAPES[name])
            assert np.array_equal(np.asarray(value), want), name


@SETTINGS
@given(path=st.sampled_from(["/api/forward", "/api/backward", "/api/step", "/api/gradcheck"]),
       fields=st.fixed_dictionaries(seed_fields(moderate)))
def test_seed_bodies_with_moderate_values_always_succeed(client: ApiClient, path: str,
                                                         fields: dict[str, Any]) -> None:
    body = dict(fields)
    if path != "/api/step":
        body.pop("learning_rate")
    response = client.post_raw(path, encode(body))
    answer = check_answer(response, body)
    assert response.status_code == 200, answer


# ----------------------------------------------------------------------------- random specs, end to end
@FEW
@given(spec=plausible_spec(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_every_accepted_network_runs_end_to_end(client: ApiClient, spec: dict[str, Any], seed: int,
                                                data: st.DataObject) -> None:
    """A network /api/network accepts inits, and runs forward, backward, step and gradcheck with 200s."""
    response = client.post_raw("/api/network", encode({"network": spec}))
    checked = check_answer(response, spec)
    if response.status_code != 200:
        assert response.status_code == 422 and checked["detail"].startswith("network:"), checked
        return
    assert checked["param_count"] == sum(int(np.prod(s)) for s in checked["param_shapes"].values())
    init_response = client.post_raw("/api/init", encode({"network": spec, "seed": seed}))
    init = check_answer(init_response, spec)
    assert init_response.status_code == 200, init
    assert {k: list(np.asarray(v).shape) for k, v in init["params"].items()} == checked["param_shapes"]
    c, h, w = spec["input_shape"]
    x = data.draw(array_of((c, h, w), st.floats(0, 1)), label="input")
    units = checked["shapes"][list(checked["shapes"])[-1]][0]
    label = data.draw(st.sampled_from([0, 1]) if spec["loss"] == "bce" else st.integers(0, units - 1), label="label")
    body = {"network": spec, "params": init["params"], "input": x, "label": label}
    for path, extra in [("/api/forward", {}), ("/api/backward", {}), ("/api/step", {"learning_rate": 0.5}),
                        ("/api/gradcheck", {"max_entries": 8})]:
        response = client.post_raw(path, encode({**body, **extra}))
        answer = check_answer(response, spec)
        assert response.status_code == 200, (path, answer)
        if path != "/api/gradcheck":
            assert np.asarray(answer["activations"]["X"]).shape == (c, h, w)


# ----------------------------------------------------------------------------- training, tiny runs
@FEW
@given(params=st.one_of(seed_params(moderate), seed_params(finite_numbers)),
       dataset=st.sampled_from(["bars", "diagonals", "strokes", "digits"]),
       classes=st.one_of(st.none(), st.sampled_from([[0, 1], [1, 0], [2, 3], [0, 0], [0, 5]])),
       iterations=st.integers(1, 4), batch_size=st.integers(1, 8), points=st.integers(1, 3),
       learning_rate=st.one_of(st.floats(min_value=1e-6, max_value=100), st.just(100.0)),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]), stream=st.booleans())
def test_tiny_training_runs_give_finite_results_or_a_clear_4xx(
        client: ApiClient, params: Any, dataset: str, classes: Any, iterations: int, batch_size: int,
        points: int, learning_rate: float, optimizer: str, stream: bool) -> None:
    body = {"params": params, "dataset": dataset, "iterations": iterations, "batch_size": batch_size,
            "points": points, "learning_rate": learning_rate, "optimizer": optimizer, "stream": stream}
    if classes is not None:
        body["classes"] = classes
    answer = post(client, "/api/train", body)
    if isinstance(answer, list):  # NDJSON: start, progress..., done/diverged
        assert answer[0]["type"] == "start"
        answer = answer[-1]
    if "detail" in answer:
        return  # a 4xx, already checked: digits does not fit the seed's 6x6 input, [0, 0] is not distinct, ...
    assert answer["status"] in ("done", "diverged")
    assert answer["iterations_done"] <= iterations
    assert set(answer["params"]) == set(SEED_SHAPES)
    assert not non_finite_paths(answer)
    if answer["status"] == "done":
        assert answer["iterations_done"] == iterations
