"""Body caps, slow clients, floods and security headers.

In process (ASGI): the 1 MiB JSON cap (declared and streamed), the 2 MiB upload cap, a
multipart with thousands of parts, and the security headers on every kind of response.
On a real server (uvicorn on 127.0.0.1, BPV_BODY_TIMEOUT=3, BPV_MAX_IN_FLIGHT=4, a 2 s grace
before the 1 KiB/s minimum body rate, 4 bodies in progress at most): raw sockets that send
headers and then trickle the body (or nothing) get a 408 once the grace is over, a steady but
endless body at the timeout; while they fill the bound on bodies another POST gets a 503 with
Retry-After at once and GETs are served; a flood of 40 concurrent gradient checks (the in-flight
limit) gets 503s quickly, never a timeout; and the server recovers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from api_testlib import BAR_INPUT, ApiClient, encode_image, strict_json
from PIL import Image
from system_testlib import (
    RawResponse,
    Server,
    check_answer,
    check_security_headers,
    chunk,
    raw_exchange,
    request_head,
)

from app import assets
from app.settings import settings

MIB = 1024 * 1024
BODY_TIMEOUT = 3.0
IN_FLIGHT = 4
GRACE = 2.0  # seconds before the minimum body rate applies
BODIES = 4  # bodies in progress at once
QUICK = 2.0  # seconds within which a refusal must arrive (generous for a busy 2-core machine)


def refused(client: ApiClient, response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = check_answer(response)
    for word in words:
        assert word in body["detail"], body
    check_security_headers(response.headers, f"{status} {words}")
    assert client.last_seconds < QUICK, client.last_seconds
    assert client.get("/api/health").status_code == 200  # and the app still answers
    return body["detail"]


# ----------------------------------------------------------------------------- body caps (in process)
@pytest.mark.parametrize("path", ["/api/step", "/api/forward"])
def test_json_body_over_1_mib_is_413(client: ApiClient, path: str) -> None:
    limit = settings.max_json_bytes
    assert limit == MIB
    body = b'{"pad": "' + b"x" * limit + b'"}'
    assert len(body) > limit
    response = client.post_raw(path, body)
    assert response.request.headers["content-length"] == str(len(body))  # declared up front
    refused(client, response, 413, "too large", str(limit))


def test_json_body_up_to_the_cap_is_read(client: ApiClient) -> None:
    """The cap is inclusive: a body just under it and one of exactly 1 MiB reach the app, which
    parses them and refuses them for their content (an extra field), not for their size."""
    cap = settings.max_json_bytes
    params = client.post_ok("/api/init", {"seed": 0})["params"]
    under = json.dumps({"params": params, "input": BAR_INPUT, "pad": "x" * (cap - 4096)}).encode()
    assert len(under) < cap
    refused(client, client.post_raw("/api/forward", under), 422, "pad", "Extra")
    head, tail = b'{"pad": "', b'"}'
    body = head + b"x" * (cap - len(head) - len(tail)) + tail
    assert len(body) == cap
    refused(client, client.post_raw("/api/step", body), 422, "pad", "Extra")


def test_streamed_body_without_content_length_is_413(client: ApiClient) -> None:
    sent = pieces = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent, pieces
        for _ in range(64):  # 4 MiB if the server kept reading
            sent += 65536
            pieces += 1
            yield b" " * 65536

    response = client.post("/api/forward", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    refused(client, response, 413, "too large", str(settings.max_json_bytes))
    assert sent <= settings.max_json_bytes + 2 * 65536, sent  # it stopped reading at the cap
    assert pieces < 40, pieces  # cut off long before the end, not read through


def test_content_length_that_is_not_a_number_is_400(client: ApiClient) -> None:
    response = client.post("/api/step", content=b"{}",
                                  headers={"content-length": "12abc", "content-type": "application/json"})
    refused(client, response, 400, "Content-Length")


def test_upload_over_2_mib_is_413(client: ApiClient) -> None:
    cap = settings.max_upload_bytes
    assert cap == 2 * MIB
    # Just over the file cap (the multipart body is still under the body cap): the route refuses.
    refused(client, client.upload(b"\x89PNG" + b"\x00" * (cap - 3)), 413, "2 MiB")
    # A real PNG followed by 2 MiB of junk: refused for its size too (the multipart body is
    # still under the body cap).
    refused(client, client.upload(encode_image(Image.new("L", (8, 8))) + b"\x00" * (2 * MIB)), 413, "2 MiB")
    # Far over: the body guard refuses before multipart parsing, PNG signature or not.
    for data in (b"\x00" * (3 * MIB), b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * MIB)):
        refused(client, client.upload(data), 413, "too large")
    # At the cap it is read (and refused as not an image).
    refused(client, client.upload(b"\x00" * cap), 415, "PNG or JPEG")


def test_multipart_with_thousands_of_parts_is_refused_quickly(client: ApiClient) -> None:
    png = encode_image(Image.new("L", (6, 6), 0))
    fields = {f"f{i}": "x" for i in range(2000)}
    response = client.post("/api/images", files={"file": ("a.png", png, "image/png")}, data=fields)
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.text[:200]
    check_answer(response)
    assert client.last_seconds < QUICK
    files = [("file", (f"a{i}.png", png, "image/png")) for i in range(2000)]
    response = client.post("/api/images", files=files)
    assert 400 <= response.status_code < 500, response.text[:200]
    check_answer(response)
    assert client.last_seconds < QUICK
    # 20000 empty fields: still within the 2 MiB multipart cap, still a quick 4xx.
    boundary = "b0undary"
    part = f"--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n".encode()
    body = part * 20000 + f"--{boundary}--\r\n".encode()
    assert len(body) < settings.max_multipart_bytes
    response = client.post_raw("/api/images", body, f"multipart/form-data; boundary={boundary}")
    assert 400 <= response.status_code < 500, response.text[:200]
    check_answer(response)
    assert client.last_seconds < QUICK
    assert client.get("/api/health").status_code == 200


# ----------------------------------------------------------------------------- security headers (in process)
def too_large(client: ApiClient) -> httpx.Response:
    return client.post_raw("/api/forward", b" " * (MIB + 1))


RESPONSES = {
    "page": (lambda c: c.get("/"), 200),
    "css": (lambda c: c.get("/static/app.css"), 200),
    "js module": (lambda c: c.get("/static/js/main.js"), 200),
    "plotly": (lambda c: c.get(assets.PLOTLY_URL), 200),
    "swagger css": (lambda c: c.get(assets.SWAGGER_CSS_URL), 200),
    "favicon": (lambda c: c.get("/favicon.ico"), 200),
    "docs": (lambda c: c.get("/docs"), 200),
    "openapi": (lambda c: c.get("/openapi.json"), 200),
    "health": (lambda c: c.get("/api/health"), 200),
    "datasets": (lambda c: c.get("/api/datasets"), 200),
    "step": (lambda c: c.post("/api/step", json={"params": c.post("/api/init", json={}).json()["params"],
                                                 "input": BAR_INPUT, "label": 1, "learning_rate": 0.1}), 200),
    "404": (lambda c: c.get("/no/such/page"), 404),
    "404 static": (lambda c: c.get("/static/nope.css"), 404),
    "404 dataset": (lambda c: c.get("/api/datasets/nope/samples"), 404),
    "405": (lambda c: c.get("/api/step"), 405),
    "413": (too_large, 413),
    "422": (lambda c: c.post("/api/step", json={}), 422),
    "415": (lambda c: c.upload(encode_image(Image.new("P", (4, 4)), "GIF"), "x.png"), 415),
    "400": (lambda c: c.post_raw("/api/step", b"[" * 100_000, "application/json"), 400),
}


@pytest.mark.parametrize("kind", sorted(RESPONSES))
def test_security_headers_on_every_kind_of_response(client: ApiClient, kind: str) -> None:
    make, status = RESPONSES[kind]
    response = make(client)
    assert response.status_code == status, (kind, response.status_code, response.text[:200])
    check_security_headers(response.headers, kind)
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "x-frame-options" in response.headers


def test_no_cors_for_other_origins(client: ApiClient) -> None:
    evil = {"origin": "https://evil.example"}
    for response in (client.get("/api/health", headers=evil),
                     client.post("/api/init", json={}, headers=evil),
                     client.request("OPTIONS", "/api/step", headers={
                         **evil, "access-control-request-method": "POST",
                         "access-control-request-headers": "content-type"})):
        assert "access-control-allow-origin" not in response.headers, response.headers
        assert "access-control-allow-credentials" not in response.headers
        check_security_headers(response.headers, response.request.method)


# ----------------------------------------------------------------------------- a real server
@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server({"BPV_BODY_TIMEOUT": str(BODY_TIMEOUT), "BPV_MAX_IN_FLIGHT": str(IN_FLIGHT),
                 "BPV_BODY_RATE_GRACE_S": str(GRACE), "BPV_MAX_BODIES_IN_PROGRESS": str(BODIES)}) as s:
        yield s


def post_head(path: str, length: int | None, ctype: str = "application/json") -> bytes:
    headers = {"Content-Type": ctype}
    headers.update({"Content-Length": str(length)} if length is not None else {"Transfer-Encoding": "chunked"})
    return request_head("POST", path, headers)


def assert_408(r: RawResponse, what: str, words: str, within: tuple[float, float]) -> None:
    assert r.status == 408, (what, r.status, r.body[:200])
    assert words in r.json()["detail"], (what, r.body)
    assert within[0] <= r.seconds <= within[1], (what, r.seconds)
    check_security_headers(r.headers, what)


def test_slow_bodies_get_408_and_hold_no_compute_slot(server: Server) -> None:
    """BODIES slow clients fill the worker's bound on bodies in progress: headers then nothing,
    a body trickling a byte at a time, chunks trickling, and a body sent steadily but too long.
    Meanwhile another POST gets a 503 at once, while GETs (no body) are served; each body under
    the minimum rate is cut with a 408 once the grace is over, the steady one at the body
    timeout, and then normal requests succeed again."""
    assert BODIES == 4
    body = {"params": httpx.post(f"{server.base_url}/api/init", json={}).json()["params"], "input": BAR_INPUT,
            "label": 1, "learning_rate": 0.1}
    too_slow = ("fast enough", (0.8 * GRACE, GRACE + 2.0))
    slow = {
        "no body": (post_head("/api/step", 50), [], 0.0, too_slow),
        "trickled body": (post_head("/api/step", 240), [b" "] * 240, 0.25, too_slow),  # would take a minute
        "trickled chunks": (post_head("/api/forward", None), [chunk(b" ")] * 240, 0.25, too_slow),
        "steady, endless": (post_head("/api/forward", 20_000), [b" " * 100] * 200, 0.05,
                            (f"within {BODY_TIMEOUT:g} s", (0.8 * BODY_TIMEOUT, BODY_TIMEOUT + 3.0))),
    }

    async def scenario() -> tuple[list[RawResponse], list[tuple[httpx.Response, float]]]:
        holders = [asyncio.create_task(raw_exchange(server.port, head, pieces, gap))
                   for head, pieces, gap, _ in slow.values()]
        probes = []
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            # Wait until the server has read the slow clients' headers and the bound is reached.
            deadline = time.perf_counter() + GRACE * 0.6
            while (await client.post("/api/step", json=body)).status_code != 503:
                assert time.perf_counter() < deadline, "the slow requests never filled the worker"
                await asyncio.sleep(0.05)
            for method, path in (("POST", "/api/step"), ("GET", "/api/health"), ("GET", "/"),
                                 ("POST", "/api/gradcheck")):
                t = time.perf_counter()
                response = await client.request(method, path, json=body if method == "POST" else None)
                probes.append((response, time.perf_counter() - t))
        return list(await asyncio.gather(*holders)), probes

    start = time.perf_counter()
    holders, probes = asyncio.run(scenario())
    assert time.perf_counter() - start < BODY_TIMEOUT + 4.0
    for (what, (_, _, _, (words, within))), r in zip(slow.items(), holders):
        assert_408(r, what, words, within)
    statuses = [p.status_code for p, _ in probes]
    assert statuses == [503, 200, 200, 503], statuses
    for response, seconds in probes:
        check_security_headers(response.headers, f"probe {response.status_code}")
        assert seconds < QUICK, seconds  # answered at once, not queued behind the slow ones
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 1
            assert "request bodies are arriving" in strict_json(response.content)["detail"]
    # Recovery: the bodies are cut, the bound is free again.
    for _ in range(3):
        assert httpx.post(f"{server.base_url}/api/step", json=body, timeout=10).status_code == 200


def test_chunked_body_over_the_cap_is_413_on_the_wire(server: Server) -> None:
    pieces = [chunk(b" " * 65536) for _ in range(20)] + [chunk(b"")]  # 1.25 MiB, no Content-Length
    r = asyncio.run(raw_exchange(server.port, post_head("/api/forward", None), pieces))
    assert r.status == 413, (r.status, r.body[:200])
    assert "too large" in r.json()["detail"]
    assert r.seconds < QUICK + 1
    check_security_headers(r.headers, "413 on the wire")


GRADCHECK_SPEC = {"input_shape": [3, 32, 32], "layers": [
    {"type": "conv2d", "filters": 8, "kernel_size": 3}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
    {"type": "dense", "units": 2}, {"type": "softmax"}], "loss": "cross_entropy"}


def test_a_flood_gets_quick_503s_never_timeouts_and_the_server_recovers(server: Server) -> None:
    params = httpx.post(f"{server.base_url}/api/init", json={"network": GRADCHECK_SPEC}, timeout=10).json()["params"]
    body = {"network": GRADCHECK_SPEC, "params": params, "input": [[[0.5] * 32] * 32] * 3, "label": 1,
            "max_entries": 64}
    clients = 40

    async def flood() -> list[tuple[httpx.Response | Exception, float]]:
        limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20, limits=limits) as client:
            async def one() -> tuple[httpx.Response | Exception, float]:
                t = time.perf_counter()
                try:
                    return await client.post("/api/gradcheck", json=body), time.perf_counter() - t
                except httpx.HTTPError as e:
                    return e, time.perf_counter() - t

            return list(await asyncio.gather(*(one() for _ in range(clients))))

    start = time.perf_counter()
    results = asyncio.run(flood())
    elapsed = time.perf_counter() - start
    errors = [r for r, _ in results if isinstance(r, Exception)]
    assert not errors, errors[:3]  # no timeouts, no dropped connections
    responses = [(r, s) for r, s in results if isinstance(r, httpx.Response)]
    busy = [(r, s) for r, s in responses if r.status_code == 503]
    ok = [r for r, _ in responses if r.status_code == 200]
    assert len(busy) + len(ok) == clients, sorted({r.status_code for r, _ in responses})
    assert busy and ok, (len(busy), len(ok))
    for response, seconds in busy:
        assert int(response.headers["retry-after"]) >= 1
        assert seconds < 5.0, seconds  # refused at once, not after queueing
        assert isinstance(strict_json(response.content)["detail"], str)
        check_security_headers(response.headers, "flood 503")
    for response in ok:
        assert check_answer(response)["max_rel_error"] < 1e-4
    assert elapsed < 30.0, elapsed
    # Recovery: normal requests succeed again.
    for _ in range(2):
        assert httpx.post(f"{server.base_url}/api/gradcheck", json=body, timeout=20).status_code == 200
    assert httpx.get(f"{server.base_url}/api/health", timeout=5).status_code == 200


def test_heavy_work_queue_503_carries_retry_after(client: ApiClient) -> None:
    """In process (128 in flight allowed): beyond the 4 large computations a worker runs at once,
    gradient checks get a 503 with Retry-After at once, like the in-flight limit's."""
    params = client.post_ok("/api/init", {"network": GRADCHECK_SPEC})["params"]
    body = {"network": GRADCHECK_SPEC, "params": params, "input": [[[0.5] * 32] * 32] * 3, "label": 1,
            "max_entries": 64}

    async def burst() -> list[httpx.Response]:
        return list(await asyncio.gather(*(client.client.post("/api/gradcheck", json=body)
                                           for _ in range(settings.max_heavy_jobs + 8))))

    responses = client.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers.get("retry-after") == "1", response.headers
            assert "busy" in strict_json(response.content)["detail"]
    assert client.post("/api/gradcheck", json=body).status_code == 200
