"""Schemathesis against the app's own OpenAPI schema, in process (ASGI, no server): requests
generated from every operation's declared parameters and bodies never get a 5xx, and every
response matches the schema declared for its status code (200 bodies, and the 4xx bodies
declared as ErrorResponse: a string ``detail``).

/api/train is left out: its documented example (1500 iterations) is a real training run of
seconds; tests/system/test_properties.py drives it with tiny runs instead.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.main import app

schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/api/train")


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])


def test_every_error_response_is_declared_as_a_string_detail() -> None:
    """The declared 4xx bodies are ours ({"detail": str}), not FastAPI's default HTTPValidationError
    (whose detail is a list): the check above validates error bodies against this declaration."""
    spec = app.openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    detail = spec["components"]["schemas"]["ErrorResponse"]["properties"]["detail"]
    assert detail["type"] == "string"
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, status, ref)
