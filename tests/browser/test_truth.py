"""The class test for "the page never draws a number that is not the current state's": after each
kind of action, every number on the page equals the API's value for what the page says it shows
(truth.py reads them from the DOM and asks the API with the page's saved state)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
from browser_testlib import (
    IDLE,
    click_cell,
    export_state,
    import_json,
    open_editor,
    paint_mode,
    require_chromium,
    saved_state,
    train,
    use_twoblock,
    wait_arch_status,
    wait_idle,
    wait_iteration,
)
from PIL import Image
from playwright.sync_api import Page
from truth import assert_truth, check_update, moment

require_chromium()


def png() -> bytes:
    im = Image.new("L", (60, 60), 255)
    im.paste(0, (30, 0, 40, 60))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def cell_texts(page: Page, plot_id: str) -> list[list[str]]:
    return page.evaluate("id => document.getElementById(id).data[0].text", plot_id)


def test_every_number_is_the_states_after_every_kind_of_action(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    assert_truth(page, api)  # fresh

    paint_mode(page)
    click_cell(page, "input-X-0", 2, 2)  # paint, nothing computed yet
    wait_idle(page, "forward")
    assert saved_state(page)["input"][0][2][2] == 1
    assert cell_texts(page, "input-X-0")[2][2] == "1"  # the panel's own text follows the paint
    assert_truth(page, api)

    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert_truth(page, api)

    click_cell(page, "input-X-0", 5, 0)  # paint mid-iteration: the forward pass follows
    page.wait_for_function("() => document.getElementById('act-X-0').data[0].z[5][0] === 1")
    wait_idle(page, "backward")
    assert_truth(page, api)

    click_cell(page, "pval-W1-0", 0, 0)  # edit a weight: its cell text follows (was stale before)
    open_editor(page)
    page.fill("#editor-value", "2")
    page.click("#editor-apply")
    page.wait_for_selector("#editor", state="hidden")
    wait_idle(page, "backward")
    assert cell_texts(page, "pval-W1-0")[0][0] == "2"
    assert_truth(page, api)

    page.click("#btn-backward")
    wait_idle(page, "update")
    assert_truth(page, api)

    page.click("#btn-update")  # the strip now shows iteration 1 and says so; dW is hidden under W_new
    wait_idle(page, "forward")
    m = moment(page)
    assert m["iteration"] == 1 and not m["current"] and "before its update" in m["text"]
    assert page.locator(".pgrad-wrap:not(.hidden)").count() == 0
    assert_truth(page, api)
    check_update(page, api)

    page.click("#btn-step")
    wait_iteration(page, 3)
    assert_truth(page, api)
    check_update(page, api)

    page.click("#btn-undo")
    wait_iteration(page, 2)
    assert_truth(page, api)

    page.click("#btn-step")
    wait_iteration(page, 3)
    page.select_option("#history", "1")  # history: back to iteration 1
    wait_iteration(page, 1)
    assert_truth(page, api)

    page.set_input_files("#upload", files=[{"name": "v.png", "mimeType": "image/png", "buffer": png()}])
    page.wait_for_function("() => document.getElementById('input-X-0').data[0].z[0][3] === 1")
    wait_idle(page)
    assert_truth(page, api)

    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-gradcheck")
    page.locator("[data-testid=gradcheck-summary]").wait_for(state="visible")
    wait_idle(page)
    assert_truth(page, api)
    page.click("#btn-step")  # the gradient check was of the old parameters: it goes
    wait_iteration(page, 2)
    assert page.locator("#gradcheck-section").is_hidden()
    assert_truth(page, api)

    path, data = export_state(page, tmp_path)  # import (a changed copy, so the import shows)
    data["label"] = 0
    import_json(page, tmp_path / "in.json", json.dumps(data))
    page.wait_for_function("() => document.getElementById('label').value === '0'")
    wait_idle(page, "forward")
    assert saved_state(page)["label"] == 0
    assert_truth(page, api)

    page.select_option("#arch-preset", "strokes")  # switch network
    wait_arch_status(page, "✓")
    page.click("#arch-apply")
    page.wait_for_function("() => document.querySelectorAll('#pval-W1 .plot').length === 4")
    wait_idle(page, "forward")
    assert_truth(page, api)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    assert_truth(page, api)
    # The softmax row names its classes (the strokes dataset's), on the plot and in its table.
    classes = next(d["classes"] for d in api.get("/api/datasets").json()["datasets"] if d["name"] == "strokes")
    assert page.evaluate("() => document.getElementById('act-A2-0').layout.xaxis.ticktext") == classes
    heads = page.locator("#act-A2 .values th[scope=col]").all_inner_texts()[1:]
    assert heads == [f"column {i} ({c})" for i, c in enumerate(classes)]

    train(page, iterations=20, batch=8)  # train, then the page's own Forward on the trained weights
    wait_idle(page, "backward")
    assert_truth(page, api)

    page.reload()  # reload: the saved state, nothing computed until Forward
    page.wait_for_selector(IDLE, state="attached")
    assert_truth(page, api)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert_truth(page, api)


def test_two_block_network_numbers_and_hidden_channels(page: Page, api: httpx.Client) -> None:
    """A deeper network: 16 channels, "+8 more" opens, and every value (shown or not) is in the tables.
    Switched to mid-iteration: no render may draw the old network's arrays into the new one's views."""
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    use_twoblock(page)
    assert page.locator("#toast").is_hidden(), page.inner_text("#toast")
    # It starts from a real digit (the digits test split's first example), not a blank input.
    sample = api.get("/api/datasets/digits/samples?split=test&offset=0&count=1").json()["samples"][0]
    state = saved_state(page)
    assert state["input"] == sample["input"] and state["label"] == sample["label"]
    assert any(v > 0 for row in sample["input"][0] for v in row)
    page.click("#btn-step")
    wait_iteration(page, 2)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    more = page.locator("#act-Z2 button.more")
    assert more.inner_text().startswith("+8 more")
    more.click()
    page.wait_for_function("() => document.querySelectorAll('#act-Z2 .plot').length === 16")
    assert_truth(page, api)


def test_not_representable_gradients_are_marked_never_a_crash(page: Page, api: httpx.Client) -> None:
    """The API may send JSON null for a display-only gradient entry (listed in "not_representable")."""
    def patched(route) -> None:  # noqa: ANN001 - Playwright's Route
        body = route.fetch().json()
        body["gradients"]["dA1"][0][0][1] = None
        body["not_representable"] = ["gradients.dA1[0,0,1]"]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/backward", patched)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    assert cell_texts(page, "grad-dA1-0")[0][1] == "n/r"
    cell = page.locator("#grad-A1 .values td[data-index='0,0,1']")
    assert cell.text_content() == "not representable"
    hover = page.evaluate("() => document.getElementById('grad-dA1-0').data[0].hovertext[0][1]")
    assert "not representable" in hover
    # Hatched: line shapes inside that cell.
    lines = page.evaluate("() => document.getElementById('grad-dA1-0').layout.shapes.filter(s => s.type === 'line')")
    assert lines and all(0.5 - 1e-9 <= s["x0"] <= 1.5 + 1e-9 and -0.5 - 1e-9 <= s["y1"] <= 0.5 + 1e-9 for s in lines)
