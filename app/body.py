"""JSON request bodies read straight into pydantic models, handed to routes as a dependency:
``req: Annotated[StepRequest, Depends(json_body(StepRequest))]``.

FastAPI's own body handling (dependency solving around the same json.loads and validation)
cost about 200 us per request here, more than the seed network's whole training step. This
does the parse and the validation directly, failing exactly as FastAPI does (the same
RequestValidationError, the same 400 for a body Python cannot parse), so every error message
is unchanged. The request schema stays in the OpenAPI document through ``openapi_body``.

The body is read by orjson when it can be (a fifth of json.loads' time for /api/step's body)
and by json.loads otherwise, so every error is still the stdlib's. orjson reads some inputs
differently, which decides when it is used: it refuses NaN, Infinity, numbers that overflow
a double, lone surrogates and a byte-order mark (json.loads then reads them, as before), and
it turns an integer beyond 64 bits into a float, so a body where 19 or more digits run
anywhere but in a fraction goes to json.loads directly. What orjson accepts otherwise, it
reads to the same values (tests/api/test_body_parse.py checks that over random bodies).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from app.errors import ApiError
from app.schemas import Body

M = TypeVar("M", bound=Body)

_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19


def _long_integer(body: bytes) -> bool:
    """Whether a run of 19+ digits starts anywhere but right after a "." (a fraction's digits are
    harmless: orjson reads those floats correctly rounded). A regex took 20 us on /api/step's body."""
    text = body.translate(_DIGITS_TO_ZERO)
    i = text.find(_RUN)
    while i >= 0:
        if i == 0 or text[i - 1] not in b".0":
            return True
        i = text.find(_RUN, i + 1)
    return False


def parse(body: bytes) -> tuple[Any, bool]:
    """The body's JSON value, and whether its numbers are plain: read by orjson (so each is
    finite) from a body with no true/false/null token anywhere (so no array hides a boolean or
    a null, which NumPy would quietly read as 1/0 or NaN). Plain arrays skip those two checks
    in app/arrays.py. Raises json.JSONDecodeError, ValueError or RecursionError as json.loads."""
    if not _long_integer(body):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # json.loads reads it, or raises the error FastAPI would
        else:
            return data, not (b"true" in body or b"false" in body or b"null" in body)
    return json.loads(body), False


ERROR_SCHEMA = "#/components/schemas/ErrorResponse"  # app/schemas.py's, which every route's 4xx documents
JSON_TYPE = b"application/json"
NOT_JSON = ("this route takes a JSON body: send it with Content-Type: application/json "
            "(optionally with charset=utf-8)")


def declared_json(scope: dict[str, Any]) -> bool:
    """Whether the request says its body is JSON: ``application/json``, optionally with a UTF-8
    charset (JSON is UTF-8). Anything else is refused, no Content-Type too: text/plain, form
    encodings and multipart are what a browser sends cross-origin without a CORS preflight."""
    for key, value in scope["headers"]:
        if key == b"content-type":
            return value == JSON_TYPE or _json_media_type(value.decode("latin-1"))
    return False


def _json_media_type(value: str) -> bool:
    media, *params = value.split(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params:
        name, _, charset = param.partition("=")
        if name.strip().lower() != "charset" or charset.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


async def whole_body(request: Request) -> bytes:
    """The body's bytes from ``receive`` itself: app/middleware.py's BodyGuard hands the whole
    body on in one message, and Starlette's ``request.body()`` stream costs 2 us more."""
    chunks = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(request: Request, model: type[M]) -> M:
    if not declared_json(request.scope):
        raise ApiError(415, NOT_JSON)
    body = await whole_body(request)
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        data, plain = parse(body)
    except json.JSONDecodeError as e:
        error = {"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error"}
        raise RequestValidationError([error]) from None
    except (ValueError, RecursionError):  # not UTF-8, nested past Python's limit, an int over 4300 digits
        raise HTTPException(400, "There was an error parsing the body") from None
    if not isinstance(data, dict):
        raise RequestValidationError([{"type": "model_attributes_type", "loc": ("body",),
                                       "msg": "Input should be a valid dictionary or object to extract fields from"}])
    try:
        return model.read(data, plain)
    except ValidationError as e:
        # Locations as FastAPI reports them ("body", field, ...); app/errors.py never echoes input.
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
    except RecursionError:
        raise HTTPException(400, "There was an error parsing the body") from None


@cache
def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """The FastAPI dependency that reads a request's body as ``model`` (one per model)."""
    async def body(request: Request) -> M:
        return await read_json(request, model)

    body.__name__ = f"{model.__name__}_body"
    return body


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """What a route reading ``model`` through ``json_body`` adds to its OpenAPI operation: the
    requestBody (the models have no nested models, so their JSON schema stands alone, examples
    included) and the 415 for a body not declared JSON."""
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}},
        "responses": {"415": {"description": "The body is not declared `Content-Type: application/json`.",
                              "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}}}},
    }
