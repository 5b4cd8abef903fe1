"""More helpers for the browser tests: the training form, the architecture editor, imports,
a page's security-policy log, and a uvicorn of a test's own (for restarting it mid-session)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from browser_testlib import IDLE, REPO, PageLog, saved_state
from playwright.sync_api import Browser, Page

TRAIN_TIMEOUT = 120_000  # ms: the machine is shared; a two-block digits run alone takes ~25 s


# ----------------------------------------------------------------------------- training
def watch_progress_bar(page: Page) -> None:
    """Record every width the progress bar is given (window.__widths), so a fast run's
    intermediate widths are seen even when no poll from here lands between two of them."""
    page.evaluate("""() => {
        const bar = document.getElementById('tr-bar');
        window.__widths = [];
        new MutationObserver(() => window.__widths.push(bar.style.width))
            .observe(bar, { attributes: true, attributeFilter: ['style'] });
    }""")


def bar_widths(page: Page) -> list[float]:
    return [float(w.removesuffix("%")) for w in page.evaluate("() => window.__widths") if w]


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


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


# ----------------------------------------------------------------------------- a server of one's own
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout: float = 30) -> subprocess.Popen[str]:
    """uvicorn app.main:app on 127.0.0.1:`port`, returned once /api/health answers (as conftest's)."""
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
    """A fresh context + page on `url`, recorded like conftest's `page` fixture and checked the
    same way at the end (page errors, console errors/warnings not allowed by `log`, foreign requests)."""
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
