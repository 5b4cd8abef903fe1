"""Helpers for the browser tests (the fixtures live in conftest.py): finding Chromium, waiting on
the page's status attributes, reading plotted matrices and clicking heatmap cells; the training
form, the architecture editor, exports/imports and toasts; a page's security-policy log; and
uvicorn start/stop plus a recorded page, used by conftest's fixtures and by a test that restarts
its own server mid-session."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page
from system_testlib import csp_directives, free_port

__all__ = ["csp_directives", "free_port"]  # shared with the system tests, re-exported here

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
STORAGE_KEY = "backprop-viz-state-v1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# The page's default example on the seed's 6x6 input: a bent vertical stroke, label 1 (static/js/input.js).
DEFAULT_X = [[[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0],
              [0, 0, 1, 0.5, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0]]]
# The seed's vertical bar (columns 2 and 3 inked), the "vertical bar" preset at 6x6.
VERTICAL = [[[1.0 if c in (2, 3) else 0.0 for c in range(6)] for _ in range(6)]]
LABEL = 1
IDLE = "body[data-ready='1'][data-busy='0']"
TRAIN_TIMEOUT = 120_000  # ms: the machine is shared; a two-block digits run alone takes ~25 s


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


def sig(v: float, digits: int) -> float:
    """`v` as the page shows it with `digits` significant digits (heatmap.js fmt), as a float. JS's
    toPrecision rounds the exact binary value half away from zero (0.0625 -> "0.063"), so this does too."""
    if v == 0:
        return 0.0
    d = Decimal(v)
    return float(d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_UP))


def shown(page: Page, selector: str) -> float:
    return float(page.inner_text(selector))


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


def paint_mode(page: Page, on: bool = True) -> None:
    """Turn the Paint toggle on (clicks on X paint) or off (clicks on X explain, as everywhere)."""
    if (page.get_attribute("#btn-paint", "aria-pressed") == "true") != on:
        page.click("#btn-paint")


def open_editor(page: Page) -> None:
    """From the detail view of a weight (a click on it opened it), its Edit button."""
    page.locator("[data-testid=explain-edit]").click()
    page.wait_for_selector("#editor", state="visible")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# ----------------------------------------------------------------------------- training
def watch_progress_bar(page: Page) -> None:
    """Record every width the progress bar is given (window.__widths), so a fast run's
    intermediate widths are seen even when no poll from here lands between two of them."""
    page.evaluate("""() => {
        const bar = document.getElementById('tr-bar');
        window.__styles = [];
        // Each record's old value: widths set within one task (a stream chunk holding several
        // progress lines) reach the observer as one batch, and the bar's current width is only the last.
        new MutationObserver((records) => { for (const r of records) window.__styles.push(r.oldValue ?? ''); })
            .observe(bar, { attributes: true, attributeFilter: ['style'], attributeOldValue: true });
    }""")


def bar_widths(page: Page) -> list[float]:
    """Every width the bar was given since watch_progress_bar, in order, the current one last."""
    styles = page.evaluate(
        "() => [...window.__styles.slice(1), document.getElementById('tr-bar').getAttribute('style')]")
    widths = [re.search(r"width:\s*([\d.]+)%", s or "") for s in styles]
    return [float(m.group(1)) for m in widths if m]


def fill_training_form(page: Page, *, dataset: str | None = None, classes: str | None = None,
                       iterations: int | None = None, batch: int | None = None, optimizer: str | None = None,
                       lr: float | None = None) -> None:
    if dataset is not None:
        page.select_option("#ds-name", dataset)
    if classes is not None:
        page.fill("#ds-classes", classes)
    if iterations is not None:
        page.fill("#tr-iterations", str(iterations))
    if batch is not None:
        page.fill("#tr-batch", str(batch))
    if optimizer is not None:
        page.select_option("#tr-optimizer", optimizer)
    if lr is not None:
        page.fill("#tr-lr", str(lr))


def start_training(page: Page) -> None:
    """Click Train. The click handler sets data-training='1' before its first await, so after
    this returns a wait for data-training='0' can only end when this run has ended."""
    page.click("#btn-train")
    # "0" already when a short run ended before this could look.
    assert page.evaluate("() => document.body.dataset.training") in ("1", "0"), "the click started no run"


def wait_training_over(page: Page, timeout: float = TRAIN_TIMEOUT) -> str:
    """Wait for the run to end (and the page's follow-up Forward to finish); the status text."""
    page.wait_for_selector(f"{IDLE}[data-training='0']", state="attached", timeout=timeout)
    return page.inner_text("#tr-status")


def train(page: Page, timeout: float = TRAIN_TIMEOUT, **form: Any) -> str:
    fill_training_form(page, **form)
    start_training(page)
    return wait_training_over(page, timeout)


def curve_points(page: Page) -> int:
    return page.evaluate("() => (document.getElementById('tr-curve').data?.[0]?.x ?? []).length")


def params(page: Page) -> dict[str, Any]:
    return saved_state(page)["params"]


def wait_samples(page: Page, width: int) -> None:
    """Wait until the example buttons are the chosen dataset's (their thumbnails `width` wide)."""
    page.wait_for_function(
        "w => { const c = document.querySelectorAll('#ds-samples .sample canvas');"
        " return c.length > 0 && [...c].every(e => e.width === w); }", arg=width)


def probabilities(page: Page) -> list[float]:
    return [float(t) for t in page.locator("#prediction .prob span:last-child").all_inner_texts()]


# ----------------------------------------------------------------------------- architecture
def arch_status(page: Page) -> str:
    return page.inner_text("#arch-status")


def wait_arch_status(page: Page, prefix: str, contains: str = "", timeout: float = 10_000) -> str:
    page.wait_for_function(
        "([p, c]) => { const t = document.getElementById('arch-status').textContent;"
        " return t.startsWith(p) && t.includes(c); }", arg=[prefix, contains], timeout=timeout)
    return arch_status(page)


def arch_field(page: Page, layer: int, field: str) -> str:
    return f"#arch-table input[data-layer='{layer}'][data-field='{field}']"


def stage_names(page: Page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#strip .stage[data-stage]')].map(e => e.dataset.stage)")


def use_twoblock(page: Page) -> None:
    """Pick the two-block preset and apply it; waits for the new strip and the digits examples."""
    page.select_option("#arch-preset", "twoblock")
    wait_arch_status(page, "✓", " 1898 ")
    page.click("#arch-apply")
    page.wait_for_function("() => document.getElementById('net-summary').textContent.startsWith('1898 ')")
    page.wait_for_selector(IDLE, state="attached")
    wait_samples(page, 8)


# ----------------------------------------------------------------------------- files, toasts
def import_json(page: Page, path: Path, data: Any) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    page.set_input_files("#import-file", str(path))


def wait_toast(page: Page) -> str:
    toast = page.locator("#toast")
    toast.wait_for(state="visible")
    page.wait_for_selector(IDLE, state="attached")
    return toast.inner_text()


def hide_toast(page: Page) -> None:
    page.evaluate("() => { document.getElementById('toast').hidden = true; }")


def export_state(page: Page, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    with page.expect_download() as info:
        page.click("#btn-export")
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path, json.loads(path.read_text())


# ----------------------------------------------------------------------------- security policy
CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
                      line: e.lineNumber, sample: e.sample });
});
"""


def csp_violations(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__csp")


# ----------------------------------------------------------------------------- servers and pages
def start_server(port: int, timeout: float = 30) -> subprocess.Popen[str]:
    """uvicorn app.main:app on 127.0.0.1:`port`, returned once /api/health answers; a RuntimeError
    (with uvicorn's output when it exited) otherwise."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"uvicorn exited with {proc.returncode} before /api/health answered:\n{out}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"uvicorn did not answer /api/health within {timeout} s")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


@contextmanager
def logged_page(browser: Browser, url: str, log: PageLog) -> Iterator[Page]:
    """A fresh context (empty localStorage) at 1280x800 with `url` loaded and started, recording into
    `log`; checked at the end: no page errors, no console errors/warnings `log` does not allow, no
    request that left `url` (conftest's `page` fixture is this plus a check that requests were seen)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.on("request", lambda r: log.requests.append(r.url))
    pg = context.new_page()
    pg.on("console", lambda m: log.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: log.errors.append(str(e)))
    pg.set_default_timeout(10_000)
    try:
        pg.goto(url + "/")
        pg.wait_for_selector(IDLE, state="attached")
        yield pg
    finally:
        context.close()
    assert not log.errors, f"page errors: {log.errors}"
    assert not log.unexpected_console(), f"console errors/warnings: {log.unexpected_console()}"
    assert not log.foreign_requests(), f"requests that left {url}: {log.foreign_requests()}"
