"""Fixtures shared by the API and system tests.

``client`` is tests/api's ``ApiClient`` (a blocking client over the ASGI app: middleware, error
handlers and thread pool included), one for the whole session. tests/api is put on sys.path here,
as pytest's "prepend" import mode does when it collects tests/api itself, so ``api_testlib`` is
the same module either way and the system tests can import it too. The app is imported only when
a test asks for ``client``, so the engine tests do not load it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from api_testlib import ApiClient

API_TESTS = str(Path(__file__).resolve().parent / "api")
if API_TESTS not in sys.path:
    sys.path.append(API_TESTS)


@pytest.fixture(scope="session")
def client() -> Iterator[ApiClient]:
    from api_testlib import ApiClient

    api = ApiClient()
    yield api
    api.close()
