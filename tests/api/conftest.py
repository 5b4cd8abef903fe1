"""Fixtures for the API tests: a synchronous client over the ASGI app (no server, no
pytest-asyncio), the seed network's parameters from /api/init, and in-memory images
(the helpers themselves live in api_testlib.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_testlib import BAR_INPUT, ApiClient, Json, bar_image, encode_image
from PIL import Image


@pytest.fixture(scope="session")
def client() -> Iterator[ApiClient]:
    api = ApiClient()
    yield api
    api.close()


@pytest.fixture(scope="session")
def seed_params(client: ApiClient) -> Json:
    """The seed network's parameters for seed 0, as /api/init returns them."""
    return client.post_ok("/api/init", {"seed": 0})["params"]


@pytest.fixture
def bar_input() -> list[list[float]]:
    """The seed's 6x6 vertical-bar example (a fresh copy)."""
    return [row[:] for row in BAR_INPUT]


@pytest.fixture(scope="session")
def encode() -> Callable[..., bytes]:
    """encode(image, "PNG" | "JPEG" | ..., **save_kwargs) -> the file's bytes, made in memory."""
    return encode_image


@pytest.fixture(scope="session")
def make_bar_image() -> Callable[..., Image.Image]:
    """make_bar_image(width, height, mode) -> white with a black vertical bar in the middle third."""
    return bar_image
