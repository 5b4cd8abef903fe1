"""Every failure becomes a 4xx JSON body ``{"detail": "<what was wrong and what is allowed>"}``.

FastAPI's default validation handler echoes the offending input back, and a NaN in that
input makes the response itself unserialisable (a 500); ours never echoes input values.
Errors stay small whatever the request held: a message that quotes the client's input quotes
it through ``shown`` (a few dozen characters), and every detail passes ``clip`` on its way
out, which abbreviates any long run of characters and caps the whole, so an echo from
anywhere (the engine's spec errors too) stays short; field names in ``errors[].loc`` are
abbreviated and at most ``MAX_ERRORS`` errors are listed. No error body reaches 4 KiB."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.settings import SECURITY_HEADERS
from engine import InputError, SpecError

SHOWN = 60  # characters of one echoed value
MAX_DETAIL = 500  # characters of a whole detail
MAX_ERRORS = 10  # validation errors listed (and joined into the detail)
MAX_LOC = 8  # parts of one error's location
_LONG_RUN = re.compile(rf"\S{{{SHOWN + 1},}}")


def shown(value: Any, limit: int = SHOWN) -> str:
    """``value`` for an error message (a string as it is, anything else as its repr),
    abbreviated to about ``limit`` characters with its full length said."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit * 2 // 3]}…{text[-(limit // 6):]} ({len(text)} characters)"


def clip(detail: str) -> str:
    """A detail fit to send: runs of over ``SHOWN`` non-blank characters abbreviated (an echoed
    name or number, however it got into the message), and the whole at most ``MAX_DETAIL``."""
    if len(detail) <= SHOWN:
        return detail
    detail = _LONG_RUN.sub(lambda m: shown(m.group()), detail)
    if len(detail) > MAX_DETAIL:
        detail = f"{detail[:MAX_DETAIL - 60]} … ({len(detail)} characters in all)"
    return detail


class ApiError(Exception):
    """A client error with its status code and a message fit to show a learner."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers  # e.g. Retry-After on a 503


def error_response(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": clip(detail), **extra}, status_code=status, headers=headers)


def _location(loc: list[str]) -> str:
    parts = [p for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _field_error(e: Any) -> dict[str, Any]:
    """One validation error as sent: its location's parts abbreviated (an unknown field's name
    is the client's input) and at most ``MAX_LOC`` of them."""
    loc = [shown(str(p)) for p in tuple(e.get("loc", ()))[:MAX_LOC]]
    return {"loc": loc, "msg": shown(str(e.get("msg", "")), 200), "type": shown(str(e.get("type", "")))}


async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    found = exc.errors()
    errors = [_field_error(e) for e in found[:MAX_ERRORS]]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(422, "the body is not valid JSON", errors=errors)
    detail = "; ".join(f"{_location(e['loc'])}: {e['msg']}" for e in errors)
    if len(found) > MAX_ERRORS:
        detail = f"{detail}; and {len(found) - MAX_ERRORS} more errors"
    return error_response(422, detail or "invalid request", errors=errors)


async def api_error_handler(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.detail, exc.headers)


async def spec_error_handler(request: Request, exc: SpecError) -> JSONResponse:
    return error_response(422, f"network: {exc}")


async def input_error_handler(request: Request, exc: InputError) -> JSONResponse:
    return error_response(422, str(exc))


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "the body could not be parsed: send UTF-8 JSON (arrays nested at most 32 deep) or multipart form data"
    return error_response(exc.status_code, detail, getattr(exc, "headers", None))


log = logging.getLogger("app")
INTERNAL_ERROR = {"detail": "internal error"}


class BugsAnswerJson:
    """Innermost ASGI middleware (added by ``install``, so just outside Starlette's
    ExceptionMiddleware): an exception no handler took, i.e. a bug in a route, gets a small JSON
    500 here and ends here, so the connection stays usable. An ``Exception`` handler cannot do
    it: Starlette gives that one to ServerErrorMiddleware, which sends the answer and then
    re-raises, and uvicorn closes a connection whose app raised, without ``Connection: close``
    (a keep-alive client's next, valid request failed too). A response already under way
    (a stream) cannot become a 500: that exception goes on to uvicorn, which closes it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            await JSONResponse(INTERNAL_ERROR, status_code=500)(scope, receive, send)


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # The last net, for a bug in a middleware (outside ExceptionMiddleware): sent from outside
    # every other middleware, so the security headers are set here too; uvicorn closes the
    # connection after it (the exception is re-raised), so the client is told.
    return JSONResponse(INTERNAL_ERROR, status_code=500, headers={**SECURITY_HEADERS, "Connection": "close"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, server_error_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, api_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(SpecError, spec_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(InputError, input_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error_handler)  # type: ignore[arg-type]
    # Added before app/main.py's middleware, so it is the innermost: see BugsAnswerJson.
    app.add_middleware(BugsAnswerJson)
