"""Pure ASGI middleware (no BaseHTTPMiddleware: it would cost more than /api/step's engine work).

``BodyGuard`` reads the whole request body before the app sees it, so a body over its cap
gets a 413 and a body that trickles in gets a 408, before any parsing happens: FastAPI
would otherwise turn an exception raised while it reads into a vague 400.
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
    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int], timeout_s: float) -> None:
        self.app = app
        self.limit_for = limit_for  # (path, content type) -> bytes allowed
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
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
                    return
            except ValueError:
                await send_json(send, 400, {"detail": "the Content-Length header is not a number"})
                return
        chunks: list[bytes] = []
        size = 0
        # asyncio.timeout rather than wait_for: no task per receive() on the hot path.
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body = message.get("body", b"")
                    size += len(body)
                    if size > limit:
                        await send_json(send, 413, too_large)
                        return
                    chunks.append(body)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await send_json(send, 408, {"detail": f"the request body did not arrive within {self.timeout_s:g} s"})
            return
        whole = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ConcurrencyLimit:
    """At most ``limit`` requests in flight per worker; the next gets a 503 at once (with
    Retry-After) instead of queueing until everyone times out. Health checks are exempt so a
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
                                                  "worker); retry in a moment"}, headers=((b"retry-after", b"1"),))
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
