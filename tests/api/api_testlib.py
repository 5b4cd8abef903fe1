"""Helpers shared by the API tests (imported as a plain module: pytest's default "prepend"
import mode puts this rootless test directory on sys.path; the name is unique so it cannot
clash with another test directory's helpers or conftest).

``ApiClient`` drives ``httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`` on an
event loop of its own, so tests stay plain functions (no pytest-asyncio) while requests run
exactly as the app serves them: middleware, error handlers and thread pool included.

Also here, for tests/api and tests/system alike (tests/conftest.py puts this directory on
sys.path): ``strict_json`` (json.loads without NaN/Infinity literals) and ``as_arrays``
(JSON parameters as float64 arrays, to call the engine directly).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from typing import Any

import httpx
import numpy as np
from PIL import Image

from app.main import app

Json = dict[str, Any]

# The seed's example: a 6x6 image with a vertical bar in columns 2-3.
BAR_INPUT: list[list[float]] = [[0.0, 0.0, 1.0, 1.0, 0.0, 0.0] for _ in range(6)]


class NonStrictJson(ValueError):
    pass


def strict_json(text: str | bytes) -> Any:
    """json.loads that refuses NaN, Infinity and -Infinity literals (RFC 8259 has none; Python's
    json accepts them by default)."""
    def refuse(literal: str) -> Any:
        raise NonStrictJson(f"non-standard JSON literal {literal} in {text[:200]!r}")
    return json.loads(text, parse_constant=refuse)


def as_arrays(params: Json) -> dict[str, np.ndarray]:
    """JSON parameters (or gradients) as float64 arrays, as the engine takes them."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


class ApiClient:
    """Blocking wrapper around an AsyncClient bound to the app; records each request's duration.

    Its event loop runs in a thread of its own: the calling thread may already have a running
    loop (Playwright's sync API keeps one while the browser tests' session fixture lives)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="api-client-loop", daemon=True)
        self._thread.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        self.last_seconds = 0.0

    def run(self, coro: Any) -> Any:
        """Run a coroutine on this client's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        start = time.perf_counter()
        response = self.run(self.client.request(method, url, **kwargs))
        self.last_seconds = time.perf_counter() - start
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def post_raw(self, url: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
        """POST bytes as they are: how NaN, Infinity and 1e400 literals reach the server."""
        return self.post(url, content=body, headers={"content-type": content_type})

    def post_ok(self, url: str, body: Json) -> Json:
        """POST JSON and return the decoded body of a 200 (failing with the server's detail otherwise)."""
        response = self.post(url, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, data: bytes, filename: str = "image.png", content_type: str = "image/png",
               **form: Any) -> httpx.Response:
        """POST /api/images with ``data`` as the multipart ``file`` and ``form`` as its fields."""
        fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()}
        return self.post("/api/images", files={"file": (filename, data, content_type)}, data=fields)

    def close(self) -> None:
        self.run(self.client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


def encode_image(im: Image.Image, fmt: str = "PNG", **save_kwargs: Any) -> bytes:
    """``im`` saved in memory as ``fmt`` (PNG, JPEG, GIF, ...)."""
    buf = io.BytesIO()
    im.save(buf, fmt, **save_kwargs)
    return buf.getvalue()


def bar_image(width: int = 60, height: int = 60, mode: str = "L") -> Image.Image:
    """White with a black vertical bar over the middle third of the columns."""
    im = Image.new(mode, (width, height), "white")
    im.paste("black", (width // 3, 0, 2 * width // 3, height))
    return im


def rejected(client: ApiClient, response: httpx.Response, status: int | None, *words: str) -> str:
    """Assert a 4xx JSON error (``status`` if given) whose detail contains every word
    (case-insensitive), that came back within 1 s, and that the server still answers."""
    seconds = client.last_seconds
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if status is not None:
        assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    assert seconds < 1.0, f"took {seconds:.2f} s"
    assert client.get("/api/health").status_code == 200
    return detail


# ----------------------------------------------------------------------------- small errors
MAX_ERROR_BYTES = 4096


def check_error_size(response: httpx.Response) -> None:
    """No 4xx body over 4 KiB, whatever the request echoed (a read response; a stream is skipped)."""
    if 400 <= response.status_code < 500 and hasattr(response, "_content"):
        assert len(response.content) <= MAX_ERROR_BYTES, (
            f"{response.request.method} {response.request.url.path}: a {response.status_code} of "
            f"{len(response.content)} bytes: {response.content[:300]!r}")


def check_every_error_size(monkeypatch: Any) -> None:
    """Make every httpx client (the in-process ``client`` and those against real servers) check
    the size of each 4xx it receives, for the rest of the test."""
    async_send, sync_send = httpx.AsyncClient.send, httpx.Client.send

    async def checked_async(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await async_send(self, request, **kwargs)
        check_error_size(response)
        return response

    def checked_sync(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = sync_send(self, request, **kwargs)
        check_error_size(response)
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", checked_async)
    monkeypatch.setattr(httpx.Client, "send", checked_sync)
