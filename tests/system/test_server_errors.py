"""A bug in a route still answers a small JSON 500 and leaves the connection usable.

Starlette's ServerErrorMiddleware (where an ``Exception`` handler is installed) sends the
handler's response and then re-raises, and uvicorn closes a connection whose application raised,
without a ``Connection: close``: a keep-alive client's next, valid request then fails too. These
tests serve the app with uvicorn on 127.0.0.1 (in a thread of this process, so a test-only route
and a monkeypatched engine call can make the bug), and send the next request on the very same
socket.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from api_testlib import BAR_INPUT
from system_testlib import check_security_headers, free_port

import app.routers.engine_api
from app.main import create_app

BOOM = "/api/test-only-boom"


class Bug(Exception):
    pass


def boom() -> None:
    raise Bug("a bug in a route")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    application = create_app()
    application.add_api_route(BOOM, boom, methods=["GET"])  # this test's own route, not the product's
    config = uvicorn.Config(application, host="127.0.0.1", port=free_port(), log_level="critical", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < end and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{config.port}"
    srv.should_exit = True
    thread.join(10)


def head(method: str, path: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def two_on_one_socket(base: str, first: bytes, second: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Both requests on the same TCP connection, unless the first answer said Connection: close."""
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(first)
        answers = [await asyncio.wait_for(read_response(reader), 10)]
        if answers[0][1].get("connection", "").lower() != "close":
            writer.write(second)
            answers.append(await asyncio.wait_for(read_response(reader), 10))
        return answers
    finally:
        writer.close()


def step_body() -> bytes:
    params = {"W1": [[0.1, 0.2, 0.3], [0, 0.5, 0], [0, 0, 0.2]], "b1": 0.1, "W2": [[1, -1, 1, -1]], "b2": 0}
    return json.dumps({"params": params, "input": BAR_INPUT, "label": 1, "learning_rate": 0.5}).encode()


def check_500(status: int, headers: dict[str, str] | httpx.Headers, body: bytes) -> None:
    assert status == 500, body[:300]
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"detail": "internal error"}
    check_security_headers(headers, "500")


def test_the_connection_after_a_500_still_serves(server: str) -> None:
    answers = asyncio.run(two_on_one_socket(server, head("GET", BOOM), head("POST", "/api/step", step_body())))
    check_500(*answers[0])
    assert len(answers) == 2, "the 500 said Connection: close; the keep-alive connection should stay usable"
    status, _, body = answers[1]
    assert status == 200, body[:300]
    assert "loss_after" in json.loads(body)


def test_a_keep_alive_client_goes_on_after_a_500(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug deep in a JSON route (here: the response builder, monkeypatched to fail) too."""
    def broken(*args: Any) -> None:
        raise Bug("a bug while building the response")

    with httpx.Client(base_url=server, timeout=10) as client:
        assert client.post("/api/step", content=step_body(), headers={"content-type": "application/json"}) \
            .status_code == 200
        monkeypatch.setattr(app.routers.engine_api.compute, "record_body", broken)
        failed = client.post("/api/step", content=step_body(), headers={"content-type": "application/json"})
        check_500(failed.status_code, failed.headers, failed.content)
        monkeypatch.undo()
        for _ in range(3):
            again = client.post("/api/step", content=step_body(), headers={"content-type": "application/json"})
            assert again.status_code == 200, again.text[:300]
        assert client.get(BOOM).status_code == 500
        assert client.get("/api/health").status_code == 200
