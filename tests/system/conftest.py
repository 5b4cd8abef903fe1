"""Fixtures for the system tests. The in-process client is tests/api's ``ApiClient`` (imported
from api_testlib: its directory is put on sys.path here, as pytest does when it collects
tests/api itself, so the module is the same one either way)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

API_TESTS = str(Path(__file__).resolve().parents[1] / "api")
if API_TESTS not in sys.path:
    sys.path.append(API_TESTS)

from api_testlib import ApiClient  # noqa: E402


@pytest.fixture(scope="session")
def system_client() -> Iterator[ApiClient]:
    """A blocking client over the ASGI app: middleware, error handlers and thread pool included."""
    api = ApiClient()
    yield api
    api.close()
