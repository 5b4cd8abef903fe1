"""Fixtures shared by the API and system tests.

``client`` is tests/api's ``ApiClient`` (a blocking client over the ASGI app: middleware, error
handlers and thread pool included), one for the whole session. tests/api, tests/engine and tests/system
are put on sys.path here, as pytest's "prepend" import mode does when it collects them itself, so
the test libraries are the same modules either way and any test directory can import them. The app is imported only when
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

for _lib in ("api", "engine", "system"):  # api_testlib, engine_testlib, system_testlib
    _path = str(Path(__file__).resolve().parent / _lib)
    if _path not in sys.path:
        sys.path.append(_path)


@pytest.fixture(scope="session")
def client() -> Iterator[ApiClient]:
    from api_testlib import ApiClient

    api = ApiClient()
    yield api
    api.close()
