"""Fixtures for the browser tests: the app under uvicorn on a free local port, one Chromium
per session, and a fresh context + page per test that records console messages, page errors
and every request, and fails the test at teardown on any error/warning or off-machine request."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from browser_testlib import CHROMIUM_ARGS, PageLog, find_chromium, free_port, logged_page, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    port = free_port()
    try:
        proc = start_server(port)
    except RuntimeError as e:  # did not start: uvicorn's output is in the message
        pytest.fail(str(e), pytrace=False)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def api(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = find_chromium()
    if path is None:  # the test modules skip first; this guards direct fixture use
        pytest.skip("no Chromium found: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page_log(server_url: str) -> PageLog:
    return PageLog(origin=server_url)


@pytest.fixture
def page(browser: Browser, server_url: str, page_log: PageLog) -> Iterator[Page]:
    """A fresh context (empty localStorage) at 1280x800 with the page loaded and started, checked
    at teardown by `logged_page` and then for having recorded any request at all."""
    with logged_page(browser, server_url, page_log) as pg:
        yield pg
    assert page_log.requests, "no requests were recorded"
