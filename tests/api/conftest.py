"""Fixtures for the API tests: the seed network's parameters from /api/init, the seed's bar
example, and a check that every 4xx the tests see is at most 4 KiB (the session ``client`` is
in tests/conftest.py, shared with the system tests; the helpers live in api_testlib.py)."""

from __future__ import annotations

import pytest
from api_testlib import BAR_INPUT, ApiClient, Json, check_every_error_size


@pytest.fixture(autouse=True)
def small_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 4xx any test here receives is at most 4 KiB (issue 10: errors stay small)."""
    check_every_error_size(monkeypatch)


@pytest.fixture(scope="session")
def seed_params(client: ApiClient) -> Json:
    """The seed network's parameters for seed 0, as /api/init returns them."""
    return client.post_ok("/api/init", {"seed": 0})["params"]


@pytest.fixture
def bar_input() -> list[list[float]]:
    """The seed's 6x6 vertical-bar example (a fresh copy)."""
    return [row[:] for row in BAR_INPUT]
