"""Helpers for the browser tests: finding Chromium, waiting on the page's status attributes,
reading plotted matrices and clicking heatmap cells (the fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STORAGE_KEY = "backprop-viz-state-v1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# The page's default example: the seed's 6x6 vertical bar (columns 2 and 3 inked), label 1.
VERTICAL = [[[1.0 if c in (2, 3) else 0.0 for c in range(6)] for _ in range(6)]]
LABEL = 1
IDLE = "body[data-ready='1'][data-busy='0']"


def find_chromium() -> str | None:
    for candidate in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_chromium() -> str:
    """Chromium's path; otherwise skip the module (or fail it when BPV_REQUIRE_BROWSER is set)."""
    path = find_chromium()
    if path is None:
        if os.environ.get("BPV_REQUIRE_BROWSER"):
            pytest.fail("BPV_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)",
                        pytrace=False)
        pytest.skip("no Chromium found: apt-get install chromium", allow_module_level=True)
    return path


@dataclass
class PageLog:
    """What one page did. A test that provokes an error on purpose (e.g. a 422 the page turns into a
    toast) declares the console text it expects with `allow`; everything else is a failure."""

    origin: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected_console(self) -> list[str]:
        return [m for m in self.console if not any(p.search(m) for p in self.allowed)]

    def foreign_requests(self) -> list[str]:
        local = urlsplit(self.origin).netloc
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("blob", "data"):  # in-page objects (export download, upload preview)
                continue
            if parts.scheme not in ("http", "https", "ws", "wss") or parts.netloc != local:
                out.append(url)
        return out


# ----------------------------------------------------------------------------- waiting
def wait_idle(page: Page, phase: str | None = None, timeout: float = 10_000) -> None:
    selector = IDLE if phase is None else f"{IDLE}[data-phase='{phase}']"
    page.wait_for_selector(selector, state="attached", timeout=timeout)


def iteration(page: Page) -> int:
    return int(page.inner_text("#iteration").removeprefix("iteration "))


def wait_iteration(page: Page, n: int, timeout: float = 10_000) -> None:
    page.wait_for_function(
        "n => document.body.dataset.busy === '0'"
        " && document.getElementById('iteration').textContent === `iteration ${n}`",
        arg=n, timeout=timeout)


# ----------------------------------------------------------------------------- reading
def z(page: Page, plot_id: str) -> Any:
    """The matrix a Plotly heatmap div shows (its first trace's z)."""
    return page.evaluate("id => { const d = document.getElementById(id); return d && d.data ? d.data[0].z : null; }",
                         plot_id)


def shapes(page: Page, plot_id: str) -> list[dict[str, Any]]:
    return page.evaluate("id => document.getElementById(id).layout.shapes || []", plot_id)


def saved_state(page: Page) -> dict[str, Any]:
    raw = page.evaluate("k => localStorage.getItem(k)", STORAGE_KEY)
    assert raw, "the page saved no state in localStorage"
    return json.loads(raw)


def loss_points(page: Page) -> int:
    return page.evaluate("() => (document.getElementById('loss-curve').data?.[0]?.x ?? []).length")


def buttons_enabled(page: Page) -> dict[str, bool]:
    return page.evaluate("""() => Object.fromEntries(['forward', 'backward', 'update', 'step'].map(
        n => [n, !document.getElementById('btn-' + n).disabled]))""")


# ----------------------------------------------------------------------------- clicking
def cell_point(page: Page, plot_id: str, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of the centre of heatmap cell (row, col), from Plotly's own axes."""
    p = page.evaluate("""([id, r, c]) => {
        const gd = document.getElementById(id);
        gd.scrollIntoView({ block: 'center' });
        const box = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [box.left + xa._offset + xa.l2p(c), box.top + ya._offset + ya.l2p(r)];
    }""", [plot_id, row, col])
    return p[0], p[1]


def click_cell(page: Page, plot_id: str, row: int, col: int) -> None:
    x, y = cell_point(page, plot_id, row, col)
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
