"""Accessibility and keyboard: axe-core finds no violation in any main state; everything a mouse
does works from the keyboard (with visible focus) and by touch; Space only plays when no control
has the focus; each heatmap has an accessible name and its numbers as text."""

from __future__ import annotations

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_testlib import (
    CHROMIUM_ARGS,
    IDLE,
    PageLog,
    click_cell,
    require_chromium,
    saved_state,
    train,
    wait_arch_status,
    wait_idle,
    wait_iteration,
)
from playwright.sync_api import Browser, Page

require_chromium()
assert CHROMIUM_ARGS  # the shared launch flags (conftest's browser fixture uses them)


def violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:4]}" for v in results.response["violations"]]


def test_axe_finds_nothing_in_any_main_state(page: Page) -> None:
    assert violations(page) == [], "fresh"
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert violations(page) == [], "after forward"
    page.click("#btn-backward")
    wait_idle(page, "update")
    assert violations(page) == [], "after backward"
    click_cell(page, "pgrad-dW1-0", 1, 1)  # the detail view of a cell, open, and a stage's note
    page.wait_for_selector("[data-testid=explain-result]")
    page.locator("#stage-Z1 [data-testid=about] summary").click()
    assert violations(page) == [], "a detail view open"
    page.click("#btn-update")
    wait_idle(page, "forward")
    assert violations(page) == [], "after update"
    page.select_option("#arch-preset", "twoblock")  # the editor showing a bigger network
    wait_arch_status(page, "✓", " 1898 ")
    page.locator("#arch-table").scroll_into_view_if_needed()
    assert violations(page) == [], "architecture editor"
    page.select_option("#arch-preset", "seed")
    wait_arch_status(page, "✓", " 15 ")
    train(page, iterations=30)
    wait_idle(page)
    assert violations(page) == [], "training done"


def test_space_goes_to_the_focused_button_and_plays_otherwise(page: Page) -> None:
    page.focus("#btn-forward")
    page.keyboard.press(" ")  # presses Forward, does not start Play
    wait_idle(page, "backward")
    assert page.evaluate("() => document.body.dataset.playing") != "1"
    page.locator("body").focus()
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press(" ")
    assert page.evaluate("() => document.body.dataset.playing") == "1"
    page.keyboard.press(" ")
    assert page.evaluate("() => document.body.dataset.playing") == "0"
    wait_idle(page)


def tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    page.evaluate("() => document.activeElement?.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.id") == element_id:
            return
    pytest.fail(f"Tab never reached #{element_id}")


def test_upload_and_import_are_reachable_by_tab_with_visible_focus(page: Page) -> None:
    # A listener first: Playwright then turns on file-chooser interception, and the page calls
    # after it (tab_to's) are ordered behind that command, so no Enter can open an unseen native dialog.
    choosers = []
    page.on("filechooser", lambda fc: choosers.append(fc))
    for target in ("btn-import", "btn-upload"):
        tab_to(page, target)
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"#{target} has no visible focus"
        with page.expect_file_chooser(timeout=5000) as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files([])  # closes this picker: Chromium opens no second one while it is pending
    assert len(choosers) == 2


def test_painting_and_weight_editing_by_keyboard(page: Page) -> None:
    page.focus("#btn-paint")
    page.keyboard.press("Enter")  # the Paint toggle, from the keyboard
    plot = page.locator("#input-X-0")
    plot.focus()
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    for key in ("ArrowDown", "ArrowRight", "ArrowRight"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")  # paints (1, 2) with the brush (1)
    wait_idle(page)
    assert saved_state(page)["input"][0][1][2] == 1
    assert page.evaluate("() => document.body.dataset.playing") != "1"

    page.locator("#pval-W1-0").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # explains W1[0,0,0,1]; its detail view has the Edit button
    page.locator("[data-testid=explain-edit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#editor", state="visible")
    assert page.inner_text("#editor-name") == "W1[0,0,0,1]"
    assert page.evaluate("() => document.activeElement.id") == "editor-value"
    page.keyboard.press("Control+a")
    page.keyboard.type("0.5")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert saved_state(page)["params"]["W1"][0][0][0][1] == 0.5


def test_every_heatmap_is_named_and_has_its_numbers_as_text(page: Page) -> None:
    page.click("#btn-step")
    wait_iteration(page, 2)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    boxes = page.evaluate("""() => [...document.querySelectorAll('[data-array]')].map(c => ({
        name: c.dataset.array, label: c.getAttribute('aria-label'),
        caption: c.querySelector('.values caption')?.textContent ?? '',
        plots: [...c.querySelectorAll('.plot')].map(p => p.getAttribute('aria-label') || '') }))""")
    names = {b["name"] for b in boxes}
    assert {"X", "Z1", "A1", "P1", "W1", "b1", "W1_old", "W1_new", "eta_dW1"} <= names, names
    for b in boxes:
        assert b["label"] and b["name"] in b["label"] and b["caption"].startswith(b["name"]), b
        assert all(p for p in b["plots"]), b


def test_touch_taps_paint_edit_and_press(browser: Browser, server_url: str, api: httpx.Client) -> None:
    log = PageLog(origin=server_url)
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    try:
        page.goto(server_url + "/")
        page.wait_for_selector(IDLE, state="attached")
        page.locator("#btn-paint").tap()
        cell = page.evaluate("() => document.getElementById('input-X-0')._cell")
        page.locator("#input-X-0").scroll_into_view_if_needed()
        box = page.locator("#input-X-0").bounding_box()
        page.touchscreen.tap(box["x"] + 2 + cell * 0.5, box["y"] + 2 + cell * 0.5)  # cell (0, 0)
        wait_idle(page)
        assert saved_state(page)["input"][0][0][0] == 1
        page.locator("#btn-step").tap()
        wait_iteration(page, 2)
        page.locator("#pval-W1-0").scroll_into_view_if_needed()
        box = page.locator("#pval-W1-0").bounding_box()
        cell = page.evaluate("() => document.getElementById('pval-W1-0')._cell")
        page.touchscreen.tap(box["x"] + 2 + cell * 1.5, box["y"] + 2 + cell * 0.5)  # W1 (0, 1): explained
        page.locator("[data-testid=explain-edit]").tap()
        page.wait_for_selector("#editor", state="visible")
        assert page.inner_text("#editor-name") == "W1[0,0,0,1]"
        # The editor shows the whole number.
        assert page.evaluate("() => { const e = document.getElementById('editor-value');"
                             " return e.scrollWidth <= e.clientWidth; }")
    finally:
        context.close()
    assert not log.errors


def test_drag_paints_every_cell_it_crosses(page: Page) -> None:
    page.click("#btn-paint")
    plot = page.locator("#input-X-0")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    cell = page.evaluate("() => document.getElementById('input-X-0')._cell")
    y = box["y"] + 2 + cell * 5.5  # row 5
    page.mouse.move(box["x"] + 2 + cell * 0.5, y)
    page.mouse.down()
    for c in range(1, 6):
        page.mouse.move(box["x"] + 2 + cell * (c + 0.5), y, steps=3)
    page.mouse.up()
    wait_idle(page)
    page.wait_for_timeout(300)
    wait_idle(page)
    assert saved_state(page)["input"][0][5] == [1] * 6


def test_a_key_for_the_wrong_phase_says_why(page: Page) -> None:
    page.locator("body").focus()
    page.keyboard.press("b")
    toast = page.locator("#toast")
    toast.wait_for(state="visible")
    assert "next phase is Forward" in toast.inner_text()
    wait_idle(page, "forward")


def test_history_says_which_iterations_a_choice_drops(page: Page) -> None:
    for n in (2, 3):
        page.click("#btn-step")
        wait_iteration(page, n)
    texts = page.eval_on_selector_all("#history option", "os => os.map(o => o.textContent)")
    assert texts == ["start of iteration 1 (drops the 2 after it)", "start of iteration 2 (drops the 1 after it)",
                     "start of iteration 3 (now)"]
