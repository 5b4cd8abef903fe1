"""Pure ASGI middleware (no BaseHTTPMiddleware: it would cost more than /api/step's engine work).

``BodyGuard`` reads the whole request body before the app sees it, so a body over its cap
gets a 413 and a body that trickles in gets a 408, before any parsing happens: FastAPI
would otherwise turn an exception raised while it reads into a vague 400. It wraps
``ConcurrencyLimit``, so only a request whose body is in counts against the compute limit.
``SecurityHeaders`` adds the same security headers to every response.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: tuple[tuple[bytes, bytes], ...] = ((b"connection", b"close"),)) -> None:
    """A JSON error answered by the middleware itself; by default the connection is closed
    (the guard stopped reading a body it refused)."""
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


class BodyGuard:
    """Reads the body, bounded three ways: its size (413), its overall time (408) and its rate
    (408 once it falls under ``min_rate`` bytes/s after ``grace_s``), so a trickling client is
    cut off within about a second. At most ``max_bodies`` bodies are read at once (then 503):
    it sits outside ``ConcurrencyLimit``, so a request waiting for its body holds no compute slot."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int], timeout_s: float,
                 min_rate: float = 1024.0, grace_s: float = 1.0, max_bodies: int = 1024) -> None:
        self.app = app
        self.limit_for = limit_for  # (path, content type) -> bytes allowed
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.grace_s = grace_s
        self.max_bodies = max_bodies
        self.reading = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if self.reading >= self.max_bodies:
            await send_json(send, 503, {"detail": f"the server is busy ({self.max_bodies} request bodies are arriving "
                                                  "on this worker); retry in 1 s"},
                            headers=((b"retry-after", b"1"), (b"connection", b"close")))
            return
        self.reading += 1
        try:
            whole = await self._read(scope, receive, send)
        finally:
            self.reading -= 1
        if whole is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a refusal has been sent (or the client has gone)."""
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self.limit_for(scope["path"], ctype)
        declared = headers.get(b"content-length")
        too_large = {"detail": f"request body too large: at most {limit} bytes ({limit / 1048576:.2f} MiB) "
                               "are accepted here"}
        if declared is not None:
            try:
                if int(declared) > limit:
                    await send_json(send, 413, too_large)
                    return None
            except ValueError:
                await send_json(send, 400, {"detail": "the Content-Length header is not a number"})
                return None
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + self.timeout_s
        # One asyncio.timeout_at, moved on as bytes arrive (no task per receive() on the hot path):
        # the body must keep up with min_rate after the grace, and end within timeout_s.
        try:
            async with asyncio.timeout_at(min(end, start + self.grace_s)) as deadline:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    body = message.get("body", b"")
                    size += len(body)
                    if size > limit:
                        await send_json(send, 413, too_large)
                        return None
                    chunks.append(body)
                    if not message.get("more_body", False):
                        break
                    deadline.reschedule(min(end, start + self.grace_s + size / self.min_rate))
        except TimeoutError:
            elapsed = loop.time() - start
            if elapsed >= self.timeout_s - 0.01:
                detail = f"the request body did not arrive within {self.timeout_s:g} s"
            else:
                detail = (f"the request body did not arrive fast enough: {size} bytes in {elapsed:.1f} s; at least "
                          f"{self.min_rate:g} bytes/s are required after the first {self.grace_s:g} s")
            await send_json(send, 408, {"detail": detail})
            return None
        return b"".join(chunks)


class ConcurrencyLimit:
    """At most ``limit`` requests in flight per worker (counted once their body is in); the next
    gets a 503 at once (with Retry-After) instead of queueing until everyone times out. Health checks are exempt so a
    load balancer can tell "busy" from "down"."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ("/api/health",)) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await send_json(send, 503, {"detail": f"the server is busy ({self.limit} requests in progress on this "
                                                  "worker); retry in 1 s"}, headers=((b"retry-after", b"1"),))
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class SecurityHeaders:
    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        await self.app(scope, receive, with_headers)
