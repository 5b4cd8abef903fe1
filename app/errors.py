"""Every failure becomes a 4xx JSON body ``{"detail": "<what was wrong and what is allowed>"}``.

FastAPI's default validation handler echoes the offending input back, and a NaN in that
input makes the response itself unserialisable (a 500); ours never echoes input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.settings import SECURITY_HEADERS
from engine import InputError, SpecError


class ApiError(Exception):
    """A client error with its status code and a message fit to show a learner."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers  # e.g. Retry-After on a 503


def error_response(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(422, "the body is not valid JSON", errors=errors)
    detail = "; ".join(f"{_location(tuple(e['loc']))}: {e['msg']}" for e in errors)
    return error_response(422, detail or "invalid request", errors=errors)


async def api_error_handler(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)


async def spec_error_handler(request: Request, exc: SpecError) -> JSONResponse:
    return error_response(422, f"network: {exc}")


async def input_error_handler(request: Request, exc: InputError) -> JSONResponse:
    return error_response(422, str(exc))


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "the body could not be parsed: send UTF-8 JSON (arrays nested at most 32 deep) or multipart form data"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


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
