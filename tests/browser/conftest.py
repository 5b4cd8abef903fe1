"""Fixtures for the browser tests: the app under uvicorn on a free local port, one Chromium
per session, and a fresh context + page per test that records console messages, page errors
and every request, and fails the test at teardown on any error/warning or off-machine request."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from browser_testlib import CHROMIUM_ARGS, IDLE, REPO, PageLog, find_chromium
from playwright.sync_api import Browser, Page, sync_playwright


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"uvicorn exited with {proc.returncode} before /api/health answered:\n{out}", pytrace=False)
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("uvicorn did not answer /api/health within 30 s", pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


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
    """A fresh context (empty localStorage) at 1280x800 with the page loaded and started."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.on("request", lambda r: page_log.requests.append(r.url))
    pg = context.new_page()
    pg.on("console", lambda m: page_log.console.append(f"{m.type}: {m.text}")
          if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: page_log.errors.append(str(e)))
    pg.set_default_timeout(10_000)
    try:
        pg.goto(server_url + "/")
        pg.wait_for_selector(IDLE, state="attached")
        yield pg
    finally:
        context.close()
    assert not page_log.errors, f"page errors: {page_log.errors}"
    assert not page_log.unexpected_console(), f"console errors/warnings: {page_log.unexpected_console()}"
    assert page_log.requests, "no requests were recorded"
    assert not page_log.foreign_requests(), f"requests that left {server_url}: {page_log.foreign_requests()}"
