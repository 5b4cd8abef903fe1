"""JSON request bodies read straight into pydantic models.

FastAPI's own body handling (dependency solving around the same json.loads and validation)
cost about 200 us per request here, more than the seed network's whole training step. This
does the parse and the validation directly, failing exactly as FastAPI does (the same
RequestValidationError, the same 400 for a body Python cannot parse), so every error message
is unchanged. The request schema stays in the OpenAPI document through ``openapi_body``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request, model: type[M]) -> M:
    body = await request.body()
    try:
        data = json.loads(body) if body else None  # the stdlib parser, as FastAPI: same errors
    except json.JSONDecodeError as e:
        error = {"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error"}
        raise RequestValidationError([error]) from None
    except (ValueError, RecursionError):  # not UTF-8, nested past Python's limit, an int over 4300 digits
        raise HTTPException(400, "There was an error parsing the body") from None
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    if not isinstance(data, dict):
        raise RequestValidationError([{"type": "model_attributes_type", "loc": ("body",),
                                       "msg": "Input should be a valid dictionary or object to extract fields from"}])
    try:
        return model.model_validate(data)
    except ValidationError as e:
        # Locations as FastAPI reports them ("body", field, ...); app/errors.py never echoes input.
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
    except RecursionError:
        raise HTTPException(400, "There was an error parsing the body") from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """The operation's requestBody for the OpenAPI document (the models have no nested models,
    so their JSON schema stands alone, examples included)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}
