"""The system tests' fixture: every 4xx they receive, in process or from a real server, is at
most 4 KiB (issue 10: errors stay small). The shared ``client`` is in tests/conftest.py."""

from __future__ import annotations

import pytest
from api_testlib import check_every_error_size


@pytest.fixture(autouse=True)
def small_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    check_every_error_size(monkeypatch)
