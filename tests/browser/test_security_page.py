"""The page under its Content-Security-Policy, with hostile file names and broken state files,
and across a server restart."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

from browser_testlib import (
    CSP_RECORDER,
    IDLE,
    PageLog,
    csp_directives,
    csp_violations,
    export_state,
    free_port,
    hide_toast,
    import_json,
    iteration,
    logged_page,
    require_chromium,
    saved_state,
    start_server,
    stop_server,
    train,
    wait_arch_status,
    wait_idle,
    wait_iteration,
    wait_toast,
    z,
)
from PIL import Image
from playwright.sync_api import Browser, Dialog, Page, Response

from app import assets

require_chromium()

XSS_NAME = "<img src=x onerror=alert(1)>.png"
REFUSED_STATUS = r"^error: Failed to load resource: the server responded with a status of (400|413|422)"


def dot_png() -> bytes:
    im = Image.new("L", (30, 30), 255)
    im.paste(0, (10, 10, 20, 20))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- 6. CSP
def assert_no_violations(page: Page, when: str) -> None:
    assert csp_violations(page) == [], f"CSP violations {when}: {csp_violations(page)}"


def test_no_csp_violations_anywhere(page: Page, server_url: str, tmp_path: Path) -> None:
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    page.add_init_script(CSP_RECORDER)
    page.reload()
    page.wait_for_selector(IDLE, state="attached")
    assert page.evaluate("() => Array.isArray(window.__csp)"), "the recorder did not run"
    assert_no_violations(page, "at start")

    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    page.click("#btn-update")
    wait_idle(page, "forward")
    page.click("#btn-step")
    wait_iteration(page, 3)
    assert_no_violations(page, "after stepping")

    png = tmp_path / "dot.png"
    png.write_bytes(dot_png())
    page.set_input_files("#upload", str(png))
    page.wait_for_function("() => document.getElementById('preview-img').naturalWidth === 30")
    wait_idle(page)
    assert_no_violations(page, "after an upload (a blob: preview)")

    path, exported = export_state(page, tmp_path)
    page.click("#btn-step")
    wait_iteration(page, 4)
    page.set_input_files("#import-file", str(path))
    wait_iteration(page, exported["iteration"])
    assert_no_violations(page, "after export and import")

    page.click("#btn-gradcheck")
    page.locator("[data-testid=gradcheck-summary]").wait_for(state="visible")
    wait_idle(page)
    assert_no_violations(page, "after the gradient check")

    status = train(page, dataset="bars", iterations=300)
    assert status.startswith("done"), status
    assert_no_violations(page, "after training")

    page.goto(server_url + "/docs")
    page.wait_for_selector("#swagger-ui .info .title", timeout=20_000)
    page.wait_for_selector("#swagger-ui .opblock", timeout=20_000)
    assert "backprop-viz" in page.inner_text("#swagger-ui .info .title")
    assert_no_violations(page, "on /docs")

    # Every response of this origin carries the policy, with scripts from 'self' only.
    ours = [r for r in responses if r.url.startswith(server_url)]
    paths = {r.url.removeprefix(server_url).split("?")[0] for r in ours}
    for expected in ("/", "/static/js/main.js", assets.PLOTLY_URL, "/api/forward", "/api/images",
                     "/api/train", "/api/gradcheck", "/docs", "/openapi.json", "/static/js/docs.js"):
        assert expected in paths, f"no response for {expected} was seen: {sorted(paths)}"
    for r in ours:
        policy = r.all_headers().get("content-security-policy")
        assert policy, f"{r.url} has no Content-Security-Policy"
        d = csp_directives(policy)
        assert d.get("script-src") == ["'self'"], (r.url, policy)
        assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in d["default-src"], (r.url, policy)
        assert d.get("object-src") == ["'none'"] and d.get("frame-ancestors") == ["'none'"], (r.url, policy)


# ----------------------------------------------------------------------------- 7. markup in a file name
def test_file_name_with_markup_is_shown_as_text(page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.set_input_files("#upload", files=[{"name": XSS_NAME, "mimeType": "image/png", "buffer": dot_png()}])
    page.wait_for_function("() => document.getElementById('preview-img').naturalWidth === 30")
    wait_idle(page)
    page.wait_for_timeout(300)  # an onerror handler (had the markup been parsed) would have fired by now

    caption = page.locator("#preview-name")
    assert caption.text_content() == XSS_NAME
    assert caption.inner_text() == XSS_NAME
    assert page.evaluate("() => document.getElementById('preview-name').childElementCount") == 0
    assert page.locator("#preview-name *").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    assert page.locator("#toast").is_hidden()


# ----------------------------------------------------------------------------- 8. import validation
def with_w1(state: dict, w1: object) -> dict:
    out = copy.deepcopy(state)
    for p in [out["params"], *(h["params"] for h in out["history"])]:
        p["W1"] = copy.deepcopy(w1)
    return out


def test_bad_imports_keep_the_state(page: Page, page_log: PageLog, tmp_path: Path) -> None:
    page_log.allow(REFUSED_STATUS)
    page.click("#btn-step")
    wait_iteration(page, 2)
    _, good = export_state(page, tmp_path)
    before = saved_state(page)
    w1_before = z(page, "pval-W1-0")

    def refused(name: str, data: object) -> str:
        import_json(page, tmp_path / name, data)
        text = wait_toast(page)
        assert text.endswith("the current state is unchanged"), text
        assert saved_state(page) == before, f"{name} changed the saved state"
        assert z(page, "pval-W1-0") == w1_before, f"{name} changed the plotted W1"
        assert iteration(page) == 2
        hide_toast(page)
        return text

    text = refused("notes.json", "this is {not JSON")
    assert "notes.json is not JSON" in text, text

    no_app = copy.deepcopy(good)
    del no_app["app"]
    text = refused("no-app.json", no_app)
    assert 'not a backprop-viz state file (no "app": "backprop-viz")' in text, text

    # The same W1 in params and in every history snapshot: consistent, so only the server can tell
    # (a 422 from the check's /api/forward).
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/forward")) as answer:
        text = refused("wrong-shape.json", with_w1(good, [[[[0.1, 0.2], [0.3, 0.4]]]]))
    assert answer.value.status == 422, answer.value.status
    assert text.startswith("the state file was refused") and "W1" in text, text

    nan_text = copy.deepcopy(good)
    nan_text["params"]["W1"][0][0][1][1] = "NaN"  # JSON has no NaN; a string in its place must not pass
    text = refused("nan-as-text.json", nan_text)
    assert "W1" in text and ("number" in text or "NaN" in text), text

    # 3000 levels: written as text (Python's own json would hit its recursion limit).
    nested = json.dumps(with_w1(good, "DEEP")).replace('"DEEP"', "[" * 3000 + "0.5" + "]" * 3000)
    text = refused("deeply-nested.json", nested)
    assert "nested" in text, text

    huge = copy.deepcopy(good)
    huge["input"] = [[[0.5] * 800 for _ in range(800)]]  # ~2.6 MB: over the API's 1 MiB body cap
    text = refused("huge.json", huge)
    assert "too large" in text, text

    # Still the same page: the next Forward runs on the kept state.
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert saved_state(page)["params"] == before["params"]


# ----------------------------------------------------------------------------- 9. server restart
def test_a_server_restart_loses_nothing(browser: Browser) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = PageLog(origin=url)
    # While the server is down, Chromium logs each failed request.
    log.allow(r"^error: Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)")
    proc = start_server(port)
    try:
        with logged_page(browser, url, log) as page:
            page.click("#btn-step")
            wait_iteration(page, 2)
            page.click("#btn-step")
            wait_iteration(page, 3)
            before = saved_state(page)

            stop_server(proc)
            page.click("#btn-step")
            text = wait_toast(page)
            assert "the server did not answer" in text and "your work is kept in this browser" in text, text
            assert iteration(page) == 3
            assert saved_state(page) == before
            hide_toast(page)
            # The architecture editor's live check says only that the server is away: its
            # draft is not the learner's saved work.
            page.fill("#arch-h", "7")
            page.dispatch_event("#arch-h", "change")
            text = wait_arch_status(page, "✗ the server did not answer (")
            assert "kept" not in text, text
            assert page.is_disabled("#arch-apply")

            proc = start_server(port)
            page.fill("#arch-h", "6")
            page.dispatch_event("#arch-h", "change")
            wait_arch_status(page, "✓")
            page.click("#btn-step")
            wait_iteration(page, 4)
            after = saved_state(page)
            assert [h["iteration"] for h in after["history"]] == [1, 2, 3, 4]
            assert after["history"][:3] == before["history"]
            assert after["losses"][:2] == before["losses"] and len(after["losses"]) == 3
            assert after["params"] != before["params"]

            page.reload()
            page.wait_for_selector(IDLE, state="attached")
            assert iteration(page) == 4
            restored = saved_state(page)
            for key in ("params", "losses", "history", "network", "input", "label", "iteration"):
                assert restored[key] == after[key], key
            assert z(page, "pval-W1-0") == after["params"]["W1"][0][0]
            curve = page.evaluate("() => document.getElementById('loss-curve').data[0]")
            assert curve["x"] == [1, 2, 3] and curve["y"] == [rec["loss"] for rec in after["losses"]]
            page.click("#btn-step")  # and it goes on
            wait_iteration(page, 5)
    finally:
        if proc.poll() is None:
            stop_server(proc)
