"""The documented production setup for real: Debian's nginx with docs/nginx.conf (only its ports
and paths changed) in front of two server processes of two workers each, on loopback.

nginx cuts off a client that sends its headers slowly and a connection that never sends a
request (uvicorn alone does neither); requests pass through with the app's headers; a streamed
training run's lines arrive as they are written (no buffering); and with one replica stopped,
the other answers everything. Skips where nginx is not installed, except under
BPV_REQUIRE_NGINX=1 (.ci/run), where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_testlib import BAR_INPUT, strict_json
from system_testlib import Server, check_security_headers

from bench.load import NGINX_CONFIG, Nginx, find_nginx, nginx_config

NGINX = find_nginx()
if NGINX is None:
    if os.environ.get("BPV_REQUIRE_NGINX") == "1":
        raise RuntimeError("BPV_REQUIRE_NGINX=1 but nginx is not installed (apt-get install nginx)")
    pytest.skip("nginx is not installed (apt-get install nginx)", allow_module_level=True)

HEADER_TIMEOUT = 5.0  # client_header_timeout in docs/nginx.conf


def test_the_config_is_the_documented_one_with_only_ports_and_paths_changed(tmp_path: Path) -> None:
    text = nginx_config(18080, [18001, 18002], tmp_path)
    assert f"client_header_timeout {HEADER_TIMEOUT:g}s;" in text
    changed = [(a, b) for a, b in zip(NGINX_CONFIG.read_text().splitlines(), text.splitlines(), strict=True) if a != b]
    for before, after in changed:
        assert re.search(r"8080|800[12]|/var/|/run/|worker_processes", before), (before, after)
    assert "least_conn;" in text and "proxy_buffering off;" in text


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Nginx, list[Server]]]:
    with Server(workers=2) as a, Server(workers=2) as b:
        proxy = Nginx([a.port, b.port], str(NGINX))
        try:
            yield proxy, [a, b]
        finally:
            proxy.stop()


async def closed_after(port: int, send: list[bytes], gap: float, limit: float) -> tuple[float, bytes]:
    """Connect, send each piece ``gap`` seconds apart, and return when the server closed the
    connection (seconds) and what it sent; fails if it is still open after ``limit``."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""

    async def sender() -> None:
        try:
            for piece in send:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(gap)
        except OSError:
            pass

    task = asyncio.create_task(sender())
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), limit - (time.monotonic() - start))
            if not chunk:
                return time.monotonic() - start, received
            received += chunk
    except ConnectionError:
        return time.monotonic() - start, received
    finally:
        task.cancel()
        writer.close()


def test_slow_headers_and_idle_connections_are_cut_off(setup: tuple[Nginx, list[Server]]) -> None:
    proxy, _ = setup
    trickled = [b"GET /api/health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n"] + [b"X-a: b\r\n"] * 60  # a minute of headers

    async def both() -> list[tuple[float, bytes]]:
        return list(await asyncio.gather(closed_after(proxy.port, trickled, 1.0, HEADER_TIMEOUT + 5),
                                         closed_after(proxy.port, [], 0.0, HEADER_TIMEOUT + 5)))

    (slow_s, slow_answer), (idle_s, idle_answer) = asyncio.run(both())
    assert HEADER_TIMEOUT - 1 <= slow_s <= HEADER_TIMEOUT + 3, slow_s
    assert b"200 OK" not in slow_answer, slow_answer[:200]  # never reached the app
    assert HEADER_TIMEOUT - 1 <= idle_s <= HEADER_TIMEOUT + 3, idle_s
    assert idle_answer == b"" or idle_answer.startswith(b"HTTP/1.1 408"), idle_answer[:200]
    assert httpx.get(f"{proxy.base_url}/api/health", timeout=5).status_code == 200


def test_requests_pass_through_with_the_apps_headers(setup: tuple[Nginx, list[Server]]) -> None:
    proxy, _ = setup
    with httpx.Client(base_url=proxy.base_url, timeout=10) as c:
        params = c.post("/api/init", json={"seed": 0}).json()["params"]
        body = {"params": params, "input": BAR_INPUT, "label": 1, "learning_rate": 0.5}
        answers = []
        for _ in range(20):
            response = c.post("/api/step", json=body)
            assert response.status_code == 200, response.text[:300]
            check_security_headers(response.headers, "step through nginx")
            answers.append(response.content)
        assert len(set(answers)) == 1  # the same answer, whichever replica gave it
        page = c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        too_big = c.post("/api/step", content=b" " * (1024 * 1024 + 1), headers={"content-type": "application/json"})
        assert too_big.status_code == 413 and "too large" in strict_json(too_big.content)["detail"]


def test_a_training_stream_is_not_buffered(setup: tuple[Nginx, list[Server]]) -> None:
    proxy, _ = setup
    params = httpx.post(f"{proxy.base_url}/api/init", json={"seed": 0}, timeout=10).json()["params"]
    body = {"params": params, "dataset": "bars", "iterations": 6000, "batch_size": 16, "learning_rate": 0.5,
            "points": 6, "stream": True}
    arrivals: list[tuple[float, str]] = []
    start = time.monotonic()
    with httpx.Client(timeout=60) as c, c.stream("POST", f"{proxy.base_url}/api/train", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        for line in response.iter_lines():
            arrivals.append((time.monotonic() - start, strict_json(line)["type"]))
    kinds = [k for _, k in arrivals]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("progress") == 6, kinds
    # lines came one by one as the run went, not all at once when it ended
    assert arrivals[-1][0] - arrivals[0][0] > 0.1, arrivals


def test_one_replica_down_the_other_answers(setup: tuple[Nginx, list[Server]]) -> None:
    proxy, (a, _) = setup
    params = httpx.post(f"{proxy.base_url}/api/init", json={"seed": 0}, timeout=10).json()["params"]
    body = {"params": params, "input": BAR_INPUT, "label": 1, "learning_rate": 0.5}
    a.stop()  # last test of the module: the fixture's exit stops it again harmlessly
    with httpx.Client(base_url=proxy.base_url, timeout=10) as c:
        statuses = [c.post("/api/step", json=body).status_code for _ in range(20)]
    assert statuses == [200] * 20, statuses
