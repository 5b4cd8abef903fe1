"""GET /api/datasets, GET /api/datasets/{name}/samples and POST /api/train.

Most tests go through the in-process ``client`` fixture (httpx's ASGI transport, which
buffers a streamed body). Cancelling a stream and holding runs open need a real connection,
so those run against uvicorn serving the same app in a background thread on a free port.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from api_testlib import ApiClient, Json, as_arrays, strict_json
from engine_testlib import LINEAR_STACK_SPEC, TWO_BLOCK_SPEC

from app.main import app
from app.routers import training
from app.settings import settings
from engine import init_params, read_spec
from engine.datasets import NAMES, load
from engine.train import train

SEED_NET = read_spec()

BCE_8X8_SPEC: Json = {
    "input_shape": [1, 8, 8],
    "layers": [{"type": "conv2d", "filters": 1, "kernel_size": 3}, {"type": "relu"},
               {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 1},
               {"type": "sigmoid"}],
    "loss": "bce",
}

# About 0.63 M multiply-adds per example (~30 k parameters, a body well under 1 MiB).
BIG_SPEC: Json = {
    "input_shape": [1, 8, 8],
    "layers": [{"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": 1}, {"type": "relu"},
               {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": 1}, {"type": "relu"},
               {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}],
    "loss": "cross_entropy",
}

SEED_SHAPES = {"W1": [1, 1, 3, 3], "b1": [1], "W2": [1, 4], "b2": [1]}
POINT_KEYS = {"iteration", "loss", "train_accuracy", "test_accuracy"}


# ----------------------------------------------------------------------------- helpers
def shapes(params: Json) -> dict[str, list[int]]:
    return {k: list(np.asarray(v).shape) for k, v in params.items()}


def refused(response: httpx.Response, status: int, *words: str) -> str:
    """A JSON error with this status whose detail contains every word (case-insensitive)."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    return detail


def bars_request(params: Json, **overrides: Any) -> Json:
    """The README's run: the seed network on bars, SGD lr 0.5, batch 16, 1500 iterations."""
    return {"params": params, "dataset": "bars", "iterations": 1500, "batch_size": 16, "learning_rate": 0.5,
            "optimizer": "sgd", "seed": 0, **overrides}


@pytest.fixture(scope="module")
def two_block_params(client: ApiClient) -> Json:
    return client.post_ok("/api/init", {"network": TWO_BLOCK_SPEC, "seed": 0})["params"]


@pytest.fixture(scope="module")
def linear_params(client: ApiClient) -> Json:
    return client.post_ok("/api/init", {"network": LINEAR_STACK_SPEC, "seed": 0})["params"]


# ----------------------------------------------------------------------------- GET /api/datasets
def test_datasets_lists_all_four_with_their_metadata(client: ApiClient) -> None:
    response = client.get("/api/datasets")
    assert response.status_code == 200
    items = response.json()["datasets"]
    assert [d["name"] for d in items] == list(NAMES) == ["bars", "diagonals", "strokes", "digits"]
    for d in items:
        assert set(d) == {"name", "description", "input_shape", "classes", "train_size", "test_size", "licence",
                          "source"}
        assert d == load(d["name"]).meta()
        assert isinstance(d["description"], str) and d["description"]
        assert isinstance(d["licence"], str) and isinstance(d["source"], str) and d["source"]
        assert d["train_size"] > 0 and d["test_size"] > 0
    by_name = {d["name"]: d for d in items}
    assert by_name["bars"]["input_shape"] == [1, 6, 6] and by_name["digits"]["input_shape"] == [1, 8, 8]
    assert by_name["digits"]["licence"] == "CC BY 4.0"
    assert by_name["digits"]["train_size"] + by_name["digits"]["test_size"] == 1797
    assert by_name["strokes"]["classes"] == ["horizontal", "vertical", "backslash", "slash"]


# ----------------------------------------------------------------------------- samples
def test_samples_of_two_digit_classes(client: ApiClient) -> None:
    response = client.get("/api/datasets/digits/samples", params={"count": 5, "classes": "3,8"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = load("digits").select([3, 8])
    assert body["dataset"] == "digits[3,8]" and body["split"] == "test"
    assert body["classes"] == ["3", "8"]
    assert body["total"] == len(expected.y_test)
    samples = body["samples"]
    assert len(samples) == 5
    for i, s in enumerate(samples):
        assert s["index"] == i
        x = np.asarray(s["input"])
        assert x.shape == (1, 8, 8)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert s["label"] in (0, 1)
        assert s["class_name"] == ("3" if s["label"] == 0 else "8")
        np.testing.assert_array_equal(x, expected.x_test[i])
        assert s["label"] == expected.y_test[i]


def test_samples_train_split_and_offset(client: ApiClient) -> None:
    d = load("bars")
    body = client.get("/api/datasets/bars/samples", params={"split": "train", "offset": 10, "count": 3}).json()
    assert body["split"] == "train" and body["total"] == len(d.y_train)
    assert [s["index"] for s in body["samples"]] == [10, 11, 12]
    for s in body["samples"]:
        np.testing.assert_array_equal(np.asarray(s["input"]), d.x_train[s["index"]])
        assert s["label"] == d.y_train[s["index"]]
        assert s["class_name"] == d.classes[s["label"]]


def test_samples_defaults_and_the_end_of_a_split(client: ApiClient) -> None:
    body = client.get("/api/datasets/strokes/samples").json()
    assert body["split"] == "test" and len(body["samples"]) == 12
    total = body["total"]
    tail = client.get("/api/datasets/strokes/samples", params={"offset": total - 2, "count": 10}).json()
    assert [s["index"] for s in tail["samples"]] == [total - 2, total - 1]
    past = client.get("/api/datasets/strokes/samples", params={"offset": total + 5}).json()
    assert past["samples"] == []


def test_samples_count_limits(client: ApiClient) -> None:
    assert settings.max_samples == 64
    assert len(client.get("/api/datasets/digits/samples", params={"count": 64}).json()["samples"]) == 64
    for count in (65, 0, -1):
        refused(client.get("/api/datasets/digits/samples", params={"count": count}), 422, "count")


def test_samples_unknown_dataset_is_404_with_the_names(client: ApiClient) -> None:
    detail = refused(client.get("/api/datasets/mnist/samples"), 404, "mnist")
    for name in NAMES:
        assert name in detail


@pytest.mark.parametrize(("classes", "words"), [
    ("a,b", ("comma-separated integers", "a,b")),
    ("3,x", ("comma-separated integers",)),
    ("3,3", ("distinct", "0 to 9")),
    ("99", ("0 to 9", "99")),
    ("-1,2", ("0 to 9",)),
])
def test_samples_bad_classes(client: ApiClient, classes: str, words: tuple[str, ...]) -> None:
    refused(client.get("/api/datasets/digits/samples", params={"classes": classes}), 422, "classes", *words)


def test_samples_bad_split(client: ApiClient) -> None:
    refused(client.get("/api/datasets/digits/samples", params={"split": "validation"}), 422, "split")


# ----------------------------------------------------------------------------- POST /api/train
def test_train_seed_network_on_bars(client: ApiClient, seed_params: Json) -> None:
    response = client.post("/api/train", json=bars_request(seed_params))
    assert response.status_code == 200, response.text
    body = strict_json(response.text)
    assert set(body) == {"status", "initial", "iterations_done", "diverged_at", "params", "history", "dataset"}
    assert body["status"] == "done" and body["diverged_at"] is None
    assert body["iterations_done"] == 1500
    assert shapes(body["params"]) == SEED_SHAPES
    history = body["history"]
    assert len(history) == 50
    assert [p["iteration"] for p in history] == list(range(30, 1501, 30))
    for p in history:
        assert set(p) == POINT_KEYS
        assert p["loss"] >= 0 and 0 <= p["train_accuracy"] <= 1 and 0 <= p["test_accuracy"] <= 1
    assert history[-1]["test_accuracy"] == 1.0
    assert history[-1]["loss"] < history[0]["loss"]
    assert body["dataset"] == load("bars").meta()
    # exactly the engine's run (float64 survives the JSON round trip)
    t = train(SEED_NET, as_arrays(seed_params), load("bars"), 1500, 16, 0.5, "sgd", 0)
    for k, v in t.params.items():
        np.testing.assert_array_equal(np.asarray(body["params"][k]).reshape(v.shape), v)
    # where the run started: the accuracies of the parameters it was given, before any step
    assert body["initial"] == t.initial and set(t.initial) == POINT_KEYS
    assert t.initial["iteration"] == 0 and t.initial["loss"] is None
    assert history == t.history


def test_train_with_selected_classes_and_bce(client: ApiClient) -> None:
    params = client.post_ok("/api/init", {"network": BCE_8X8_SPEC, "seed": 1})["params"]
    body = client.post_ok("/api/train", {"network": BCE_8X8_SPEC, "params": params, "dataset": "digits",
                                         "classes": [3, 8], "iterations": 60, "batch_size": 16,
                                         "learning_rate": 0.5, "points": 3})
    assert body["status"] == "done" and body["iterations_done"] == 60
    assert body["dataset"]["name"] == "digits[3,8]" and body["dataset"]["classes"] == ["3", "8"]
    assert len(body["history"]) == 3


def test_train_streamed(client: ApiClient, seed_params: Json) -> None:
    response = client.post("/api/train", json=bars_request(seed_params, stream=True, points=5))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    lines = [strict_json(line) for line in response.text.splitlines()]
    assert len(lines) == 7
    start, progress, done = lines[0], lines[1:6], lines[6]
    assert start["type"] == "start" and start["iterations"] == 1500
    assert start["dataset"] == load("bars").meta()
    assert start["initial"]["iteration"] == 0 and start["initial"]["loss"] is None
    assert [p["type"] for p in progress] == ["progress"] * 5
    assert [p["iteration"] for p in progress] == [300, 600, 900, 1200, 1500]
    for p in progress:
        assert set(p) == POINT_KEYS | {"type", "total"} and p["total"] == 1500
    assert done["type"] == "done" and done["status"] == "done"
    assert done["iterations_done"] == 1500 and done["diverged_at"] is None
    assert shapes(done["params"]) == SEED_SHAPES
    assert done["history"] == [{k: p[k] for k in POINT_KEYS} for p in progress]
    assert done["history"][-1]["test_accuracy"] == 1.0
    # the same run as without streaming
    plain = client.post_ok("/api/train", bars_request(seed_params, points=5))
    assert plain["params"] == done["params"] and plain["history"] == done["history"]
    assert plain["initial"] == done["initial"] == start["initial"]


# ----------------------------------------------------------------------------- limits
@pytest.mark.parametrize(("field", "value", "words"), [
    ("iterations", 0, ("iterations", "greater than or equal to 1")),
    ("iterations", 10_001, ("iterations", "10000")),
    ("iterations", 1.5, ("iterations",)),
    ("batch_size", 0, ("batch_size",)),
    ("batch_size", 257, ("batch_size", "256")),
    ("learning_rate", 0, ("learning_rate",)),
    ("learning_rate", -0.1, ("learning_rate",)),
    ("learning_rate", 100.5, ("learning_rate", "100")),
    ("learning_rate", "0.1", ("learning_rate",)),
    ("optimizer", "rmsprop", ("optimizer", "sgd", "momentum", "adam")),
    ("points", 0, ("points",)),
    ("points", 501, ("points",)),
    ("seed", -1, ("seed",)),
    ("classes", [3], ("classes",)),
    ("classes", [3, "8"], ("classes",)),
    ("stream", "maybe", ("stream",)),
    ("epochs", 3, ("epochs",)),
])
def test_train_field_limits(client: ApiClient, seed_params: Json, field: str, value: Any,
                            words: tuple[str, ...]) -> None:
    refused(client.post("/api/train", json=bars_request(seed_params, **{field: value})), 422, *words)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_train_non_finite_learning_rate(client: ApiClient, seed_params: Json, literal: str) -> None:
    body = json.dumps(bars_request(seed_params, learning_rate=0.5)).replace('"learning_rate": 0.5',
                                                                            f'"learning_rate": {literal}')
    assert literal in body
    refused(client.post_raw("/api/train", body.encode()), 422, "learning_rate")


def test_train_missing_fields(client: ApiClient, seed_params: Json) -> None:
    refused(client.post("/api/train", json={"params": seed_params, "dataset": "bars"}), 422, "iterations",
            "learning_rate")


def test_train_too_much_work_two_block(client: ApiClient, two_block_params: Json) -> None:
    # 23 680 multiply-adds per example x (3 x 10 000 x 64 + 51 evaluations of 500 train + 359 test:
    # 50 history points and the one before the first step) ~ 4.65e10 > 3e10
    req = {"network": TWO_BLOCK_SPEC, "params": two_block_params, "dataset": "digits", "iterations": 10_000,
           "batch_size": 64, "learning_rate": 0.05, "optimizer": "adam"}
    detail = refused(client.post("/api/train", json=req), 422, "multiply-adds", "4.65e+10", "3e+10")
    assert "fewer iterations" in detail
    # the same network with half the batch fits
    assert read_spec(TWO_BLOCK_SPEC).macs * (3 * 10_000 * 32 + 51 * (500 + 359)) <= settings.max_train_macs


def test_train_too_much_work_big_network(client: ApiClient) -> None:
    net = read_spec(BIG_SPEC)
    assert 600_000 < net.macs < 700_000 and net.param_count < 40_000
    params = {k: v.round(3).tolist() for k, v in init_params(net, 0).items()}
    req = {"network": BIG_SPEC, "params": params, "dataset": "digits", "iterations": 1000, "batch_size": 16,
           "learning_rate": 0.01}
    cost = net.macs * (3 * 1000 * 16 + 51 * (500 + 359))  # train accuracy on a 500-example sample
    refused(client.post("/api/train", json=req), 422, "multiply-adds", f"{cost:.2e}", "smaller network")


def test_train_dataset_shape_mismatch_names_both_shapes(client: ApiClient, seed_params: Json) -> None:
    refused(client.post("/api/train", json=bars_request(seed_params, dataset="digits")), 422, "digits",
            "[1, 8, 8]", "[1, 6, 6]")


def test_train_bce_with_ten_classes(client: ApiClient) -> None:
    params = client.post_ok("/api/init", {"network": BCE_8X8_SPEC, "seed": 0})["params"]
    req = {"network": BCE_8X8_SPEC, "params": params, "dataset": "digits", "iterations": 10, "learning_rate": 0.1}
    refused(client.post("/api/train", json=req), 422, "bce", "2 classes", "10")


def test_train_bce_seed_network_with_four_strokes(client: ApiClient, seed_params: Json) -> None:
    refused(client.post("/api/train", json=bars_request(seed_params, dataset="strokes")), 422, "bce", "4")
    ok = client.post_ok("/api/train", bars_request(seed_params, dataset="strokes", classes=[0, 1], iterations=10,
                                                   points=1))
    assert ok["status"] == "done"


def test_train_class_count_mismatch(client: ApiClient, two_block_params: Json) -> None:
    req = {"network": TWO_BLOCK_SPEC, "params": two_block_params, "dataset": "digits", "classes": [3, 8],
           "iterations": 10, "learning_rate": 0.05}
    refused(client.post("/api/train", json=req), 422, "10 outputs", "2 classes")


def test_train_unknown_dataset_and_bad_classes(client: ApiClient, seed_params: Json) -> None:
    detail = refused(client.post("/api/train", json=bars_request(seed_params, dataset="mnist")), 404, "mnist")
    assert all(name in detail for name in NAMES)
    refused(client.post("/api/train", json=bars_request(seed_params, classes=[1, 1])), 422, "distinct")
    refused(client.post("/api/train", json=bars_request(seed_params, classes=[0, 2])), 422, "0 to 1")


def test_train_params_must_fit_the_network(client: ApiClient, seed_params: Json) -> None:
    bad = {**seed_params, "W2": [[0.1, 0.2, 0.3]]}
    refused(client.post("/api/train", json=bars_request(bad)), 422, "W2")


# ----------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("points", [50, 300])  # 300: a history point after every step, up to the last finite one
def test_train_divergence_within_the_limits(client: ApiClient, linear_params: Json, points: int) -> None:
    req = {"network": LINEAR_STACK_SPEC, "params": linear_params, "dataset": "bars", "iterations": 300,
           "batch_size": 16, "learning_rate": settings.max_learning_rate, "optimizer": "sgd", "points": points}
    response = client.post("/api/train", json=req)
    assert response.status_code == 200, response.text[:500]
    body = strict_json(response.text)  # every number finite
    assert body["status"] == "diverged"
    k = body["diverged_at"]
    assert isinstance(k, int) and 1 <= k < 300
    assert body["iterations_done"] == k - 1
    assert all(p["iteration"] <= k - 1 for p in body["history"])
    # the last finite params: the engine's own run, stopped at the same step
    t = train(read_spec(LINEAR_STACK_SPEC), as_arrays(linear_params), load("bars"), 300, 16, 100.0, "sgd", 0,
              points=points)
    assert t.diverged_at == k
    assert body["history"] == t.history
    if points == 300:
        assert [p["iteration"] for p in body["history"]] == list(range(1, k))
    for name, v in t.params.items():
        got = np.asarray(body["params"][name]).reshape(v.shape)
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, v)
    # streamed: the last line says so and carries the same result
    response = client.post("/api/train", json={**req, "stream": True})
    assert response.status_code == 200
    lines = [strict_json(line) for line in response.text.splitlines()]
    assert lines[0]["type"] == "start"
    assert all(line["type"] == "progress" for line in lines[1:-1])
    last = lines[-1]
    assert last["type"] == "diverged" and last["status"] == "diverged" and last["diverged_at"] == k
    assert last["params"] == body["params"]


# ----------------------------------------------------------------------------- a real server
def slots_free() -> int:
    """Free places in the machine's training queue (shared by every server thread of this process)."""
    return settings.train_slots - training.queue().snapshot()["running"]


def wait_for_free_slots(timeout: float = 90.0) -> float:
    """Seconds until every training slot is free again (fails after ``timeout``)."""
    start = time.monotonic()
    while slots_free() < settings.train_slots:
        assert time.monotonic() - start < timeout, f"training slots still taken: {slots_free()} free"
        time.sleep(0.05)
    assert slots_free() == settings.train_slots  # never more than the limit either
    return time.monotonic() - start


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """uvicorn serving the app on a free port, in a thread of this process (so the tests can
    see the training slots); its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    wait_for_free_slots()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        wait_for_free_slots()
        srv.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def long_run(two_block_params: Json) -> Json:
    """A streamed run of about 10 000 x 32 examples through the two-block net (~30 s of
    work at the least): it is always still going when a test lets go of it."""
    req = {"network": TWO_BLOCK_SPEC, "params": two_block_params, "dataset": "digits", "iterations": 10_000,
           "batch_size": 32, "learning_rate": 0.05, "optimizer": "adam", "points": 100, "stream": True}
    net = read_spec(TWO_BLOCK_SPEC)
    assert net.macs * (3 * 10_000 * 32 + 101 * 1797) <= settings.max_train_macs  # accepted, not a 422
    return req


def open_run(stack: ExitStack, base: str, req: Json, timeout: float = 60.0) -> Iterator[str]:
    """Start a streamed run on its own connection, retrying while both slots are taken (a
    cancelled run lets go of its slot once its current chunk ends); returns its line iterator
    with the start line read."""
    deadline = time.monotonic() + timeout
    while True:
        client = stack.enter_context(httpx.Client(base_url=base, timeout=60.0))
        response = stack.enter_context(client.stream("POST", "/api/train", json=req))
        if response.status_code != 429 or time.monotonic() > deadline:
            break
        response.read()
        time.sleep(0.1)
    assert response.status_code == 200, response.read()[:300]
    lines = response.iter_lines()
    first = strict_json(next(lines))
    while first["type"] == "queued":  # a cancelled run's slot may not be free yet
        first = strict_json(next(lines))
    assert first["type"] == "start", first
    return lines


def runner_cpu() -> dict[int, float]:
    """CPU seconds each of this process's training runners has used (from /proc)."""
    out = {}
    for pid in training.runners().pids():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def test_cancelled_stream_stops_the_run_and_frees_its_slot(server: str, long_run: Json) -> None:
    with httpx.Client(base_url=server, timeout=60.0) as c:
        with c.stream("POST", "/api/train", json=long_run) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert strict_json(next(lines))["type"] == "start"
            first = strict_json(next(lines))
            assert first["type"] == "progress" and first["iteration"] == 100 and first["total"] == 10_000
            assert slots_free() == settings.train_slots - 1
        # closed mid-stream: the client has cancelled
    with httpx.Client(base_url=server, timeout=60.0) as c:
        assert c.get("/api/health").status_code == 200
    waited = wait_for_free_slots()
    assert waited < 90
    # The slot is given back once the run has ended: no runner computes after it.
    spent = runner_cpu()
    time.sleep(0.5)
    assert all(t - spent[pid] < 0.05 for pid, t in runner_cpu().items()), "a run went on after its slot was freed"
    # Both slots can be taken again.
    with ExitStack() as stack:
        runs = [open_run(stack, server, long_run) for _ in range(settings.train_slots)]
        assert slots_free() == 0
        for lines in runs:
            assert strict_json(next(lines))["type"] == "progress"
    wait_for_free_slots()


def test_a_run_beyond_the_slots_waits_its_turn(server: str, long_run: Json, seed_params: Json) -> None:
    """With every slot taken, a small run is queued rather than refused: streamed, it says where it
    stands; it starts once a slot frees, and meanwhile everything else is still served."""
    with ExitStack() as stack:
        runs = [open_run(stack, server, long_run) for _ in range(settings.train_slots)]  # kept open
        assert slots_free() == 0
        with httpx.Client(base_url=server, timeout=60.0) as c:
            assert c.get("/api/health").status_code == 200
            assert c.get("/api/datasets").status_code == 200
            small = {**bars_request(seed_params, iterations=10, points=1), "stream": True}
            with c.stream("POST", "/api/train", json=small) as response:
                assert response.status_code == 200
                queued = strict_json(next(response.iter_lines()))
                assert queued["type"] == "queued" and queued["position"] == 1 and queued["ahead"] == 0, queued
                assert queued["estimate_s"] > 0, queued
            # closed while queued: its place is given back at once (the runs go on)
            assert all(strict_json(next(lines))["type"] == "progress" for lines in runs)
            deadline = time.monotonic() + 1.0
            while training.queue().snapshot()["waiting"]:
                assert time.monotonic() < deadline, "the cancelled run kept its place in the queue"
                time.sleep(0.02)
    wait_for_free_slots()


def test_refused_requests_take_no_slot(client: ApiClient, seed_params: Json) -> None:
    wait_for_free_slots()
    for _ in range(5):
        assert client.post("/api/train", json=bars_request(seed_params, dataset="digits")).status_code == 422
        assert client.post("/api/train", json=bars_request(seed_params, dataset="nope")).status_code == 404
    assert slots_free() == settings.train_slots
