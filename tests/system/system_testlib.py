"""Helpers shared by the system tests (a plain module with a unique name: test directories have
no __init__.py, so pytest's "prepend" import mode puts this directory on sys.path).

- strict JSON: ``non_finite_paths`` reports non-finite numbers (``strict_json``, which refuses
  NaN/Infinity literals, is api_testlib's: tests/conftest.py puts tests/api on sys.path);
- ``check_answer``: the contract every JSON endpoint keeps (200 or 4xx, strict JSON, a string
  ``detail`` on a 4xx, only finite numbers in a 200);
- ``Server``: a real uvicorn subprocess on a free loopback port, started with extra environment
  variables and always stopped (bench/load.py's production command without its
  ``--timeout-keep-alive 30``: uvicorn's default keep-alive of 5 s applies);
- ``raw_exchange``: a raw asyncio socket client for what httpx will not send (trickling bodies,
  hand-made chunked encoding).
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from api_testlib import NonStrictJson, strict_json

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- strict JSON
def non_finite_paths(value: Any, path: str = "$") -> list[str]:
    """Where a decoded JSON value holds a float that is not finite (1e999 decodes to inf)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        out: list[str] = []
        for i, v in enumerate(value):
            out.extend(non_finite_paths(v, f"{path}[{i}]"))
            if out:
                break
        return out
    return []


def check_answer(response: httpx.Response, context: Any = "") -> Any:
    """The contract of every JSON endpoint: a 200 or a 4xx (never a 5xx), a strict JSON body, a
    non-empty string ``detail`` on a 4xx, and only finite numbers in a 200. Returns the body."""
    where = f"{response.request.method} {response.request.url.path} {str(context)[:300]}"
    assert response.status_code == 200 or 400 <= response.status_code < 500, \
        (where, response.status_code, response.text[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), (where, response.headers)
    try:
        body = strict_json(response.content)
    except (NonStrictJson, ValueError) as e:
        raise AssertionError(f"{where}: not strict JSON ({e}): {response.text[:300]}") from None
    if response.status_code == 200:
        bad = non_finite_paths(body)
        assert not bad, (where, bad)
    else:
        assert isinstance(body, dict), (where, body)
        assert isinstance(body.get("detail"), str) and body["detail"], (where, body)
    return body


# ----------------------------------------------------------------------------- security headers
def csp_directives(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            out[tokens[0].lower()] = tokens[1:]
    return out


def check_security_headers(headers: httpx.Headers | dict[str, str], what: str = "") -> None:
    """CSP with script-src 'self' and neither 'unsafe-eval' nor 'unsafe-inline' for scripts,
    frame-ancestors 'none', nosniff, a Referrer-Policy, and no CORS wildcard."""
    h = {k.lower(): v for k, v in headers.items()}
    assert "content-security-policy" in h, (what, h)
    csp = csp_directives(h["content-security-policy"])
    script = csp.get("script-src", csp.get("default-src"))
    assert script is not None and "'self'" in script, (what, csp)
    for bad in ("'unsafe-eval'", "'unsafe-inline'", "*", "data:", "http:", "https:"):
        assert bad not in script, (what, bad, script)
    assert csp.get("frame-ancestors") == ["'none'"], (what, csp)
    assert csp.get("object-src") == ["'none'"], (what, csp)
    assert h.get("x-content-type-options", "").lower() == "nosniff", (what, h)
    assert h.get("referrer-policy"), (what, h)
    assert h.get("access-control-allow-origin") in (None, ""), (what, h)
    assert "access-control-allow-credentials" not in h, (what, h)


# ----------------------------------------------------------------------------- a real server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m uvicorn app.main:app`` on 127.0.0.1 with ``env`` added; a context manager."""

    def __init__(self, env: dict[str, str] | None = None, workers: int = 1, ready_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------- raw HTTP
class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, seconds: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def json(self) -> Any:
        return strict_json(self.body)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


async def raw_exchange(port: int, head: bytes, pieces: Sequence[bytes] = (), gap: float = 0.0,
                       timeout: float = 10.0) -> RawResponse:
    """Send ``head`` (request line and headers), then each of ``pieces`` ``gap`` seconds apart,
    while reading the response; returns the first response (whether or not every piece went out:
    a server may answer, and close, before the body is complete)."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send_all() -> None:
        try:
            writer.write(head)
            await writer.drain()
            for piece in pieces:
                if gap:
                    await asyncio.sleep(gap)
                writer.write(piece)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered and closed first

    sender = asyncio.create_task(send_all())
    try:
        status, headers, body = await asyncio.wait_for(_read_response(reader), timeout)
        return RawResponse(status, headers, body, time.perf_counter() - start)
    finally:
        sender.cancel()
        try:
            await sender
        except asyncio.CancelledError:
            pass
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One piece of a chunked transfer encoding (an empty ``data`` is the last chunk)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
