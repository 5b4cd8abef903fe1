"""The page in a real Chromium: phases from buttons and keys, numbers equal to the API's,
pool masks, painting, editing, undo, play, gradient check and layout."""

from __future__ import annotations

import httpx
from browser_testlib import (
    DEFAULT_X,
    LABEL,
    PageLog,
    buttons_enabled,
    click_cell,
    iteration,
    loss_points,
    open_editor,
    paint_mode,
    require_chromium,
    saved_state,
    screenshot,
    shapes,
    shown,
    sig,
    wait_idle,
    wait_iteration,
    z,
)
from playwright.sync_api import Page

require_chromium()

PHASE_BUTTON = {"forward": "Forward", "backward": "Backward", "update": "Update"}


def seed_state(api: httpx.Client) -> tuple[dict, dict]:
    """The page's starting network and params: /api/init with the default seed 0."""
    init = api.post("/api/init", json={"seed": 0})
    init.raise_for_status()
    body = init.json()
    return body["network"], body["params"]


def post(api: httpx.Client, path: str, body: dict) -> dict:
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def assert_no_hscroll(page: Page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280


def assert_phase(page: Page, phase: str) -> None:
    """`phase` is next: only its button (and Step) enabled, #next-phase names it."""
    assert page.inner_text("#next-phase") == PHASE_BUTTON[phase]
    assert page.evaluate("() => document.body.dataset.phase") == phase
    assert buttons_enabled(page) == {"forward": phase == "forward", "backward": phase == "backward",
                                     "update": phase == "update", "step": True}


# ----------------------------------------------------------------------------- 1. start
def test_page_starts_clean_with_forward_next(page: Page, page_log: PageLog) -> None:
    # The architecture editor shows the network the page just checked: one /api/network, not two.
    assert sum(url.endswith("/api/network") for url in page_log.requests) == 1, page_log.requests
    assert page.inner_text("#arch-status").startswith("✓ 15 trainable parameters")
    for b in ("btn-forward", "btn-backward", "btn-update", "btn-step"):
        assert page.locator(f"#{b}").is_visible()
    assert_phase(page, "forward")
    assert iteration(page) == 1
    assert page.inner_text("#loss-value") == "–"
    assert z(page, "input-X-0") == DEFAULT_X[0]
    assert loss_points(page) == 0
    screenshot(page, "01-start.png")


# ----------------------------------------------------------------------------- 2 + 12. phases, layout
def test_phases_by_click_and_by_keyboard(page: Page) -> None:
    """Also: no horizontal scrolling at 1280x800 in any phase."""
    assert_no_hscroll(page)
    # Keys for a phase that is not next do nothing.
    for key in ("b", "u"):
        page.keyboard.press(key)
    page.wait_for_timeout(150)
    wait_idle(page, "forward")
    assert_phase(page, "forward")
    assert page.inner_text("#loss-value") == "–"

    # Iteration 1 by clicking.
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert_phase(page, "backward")
    assert page.inner_text("#loss-value") != "–"
    assert_no_hscroll(page)
    screenshot(page, "02-forward.png")
    page.click("#btn-backward")
    wait_idle(page, "update")
    assert_phase(page, "update")
    assert page.locator("#gradwrap-Z1").is_visible()
    assert_no_hscroll(page)
    screenshot(page, "03-backward.png")
    page.click("#btn-update")
    wait_idle(page, "forward")
    assert_phase(page, "forward")
    assert iteration(page) == 2
    assert loss_points(page) == 1
    assert_no_hscroll(page)
    screenshot(page, "04-update.png")

    # Iteration 2 by keys.
    page.locator("body").focus()
    page.keyboard.press("f")
    wait_idle(page, "backward")
    assert_phase(page, "backward")
    page.keyboard.press("b")
    wait_idle(page, "update")
    assert_phase(page, "update")
    page.keyboard.press("u")
    wait_idle(page, "forward")
    assert_phase(page, "forward")
    assert iteration(page) == 3
    assert loss_points(page) == 2

    # Step = all three: by click, then by key.
    page.click("#btn-step")
    wait_iteration(page, 4)
    assert_phase(page, "forward")
    assert loss_points(page) == 3
    assert page.locator("#gradwrap-Z1").is_visible()
    # The next Step redraws the update panel's plots in place (the same divs, new numbers).
    page.evaluate("() => { window.__updW1 = document.getElementById('upd-new-W1_new-0'); }")
    new_w1 = z(page, "upd-new-W1_new-0")
    page.keyboard.press("s")
    wait_iteration(page, 5)
    assert_phase(page, "forward")
    assert loss_points(page) == 4
    assert page.evaluate("() => window.__updW1 === document.getElementById('upd-new-W1_new-0')")
    assert z(page, "upd-new-W1_new-0") != new_w1
    assert page.inner_text("[data-testid=update-head]").startswith("iteration 4: η = 0.5 · loss ")
    # The curve's points are the losses the page recorded, one per iteration done.
    curve = page.evaluate("() => document.getElementById('loss-curve').data[0]")
    assert curve["x"] == [1, 2, 3, 4]
    assert curve["y"] == [rec["loss"] for rec in saved_state(page)["losses"]]
    assert_no_hscroll(page)


# ----------------------------------------------------------------------------- 3 + 4. numbers, pool mask
def test_plotted_numbers_and_pool_winners_equal_the_api(page: Page, api: httpx.Client) -> None:
    network, params = seed_state(api)
    saved = saved_state(page)
    assert saved["params"] == params and saved["input"] == DEFAULT_X and saved["label"] == LABEL
    ref = post(api, "/api/backward", {"network": network, "params": params, "input": DEFAULT_X, "label": LABEL})

    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")

    acts, grads = ref["activations"], ref["gradients"]
    # The default example shows every stage at work: ReLU zeroes some Z1 < 0, and each pool
    # window has one clear winner (no ties, so the four outlines below are the only marks).
    assert any(v < 0 for row in acts["Z1"][0] for v in row)
    for i in (0, 2):
        for j in (0, 2):
            window = sorted(acts["A1"][0][r][c] for r in (i, i + 1) for c in (j, j + 1))
            assert window[-1] > window[-2] + 0.05
    assert z(page, "act-X-0") == acts["X"][0]
    assert z(page, "act-Z1-0") == acts["Z1"][0]
    assert z(page, "act-A1-0") == acts["A1"][0]
    assert z(page, "act-P1-0") == acts["P1"][0]
    assert z(page, "act-F-0") == [acts["F"]]
    assert z(page, "act-A2-0") == [acts["A2"]]
    assert shown(page, "#loss-value") == sig(ref["loss"], 5)
    assert z(page, "grad-dZ1-0") == grads["dZ1"][0]
    assert z(page, "grad-dA2-0") == [grads["dA2"]]
    assert z(page, "pgrad-dW1-0") == grads["dW1"][0][0]
    assert z(page, "pgrad-dW2-0") == grads["dW2"]
    assert z(page, "pval-W1-0") == params["W1"][0][0]

    # The pool winners outlined on A1 (x0 = col - 0.5, y0 = row - 0.5) are exactly the cells where
    # the API's P1 mask is 1: one per 2x2 window of the 4x4 A1.
    mask = ref["masks"]["P1"][0]
    expected = {(r, c) for r, row in enumerate(mask) for c, v in enumerate(row) if v == 1}
    assert len(expected) == 4
    rects = shapes(page, "act-A1-0")
    assert all(s["type"] == "rect" and s["x1"] - s["x0"] == 1 and s["y1"] - s["y0"] == 1 for s in rects)
    assert sorted((s["y0"] + 0.5, s["x0"] + 0.5) for s in rects) == sorted(expected)
    # The same cells on its gradient dA1 (the only cells the pool routes gradient to); none elsewhere.
    assert sorted((s["y0"] + 0.5, s["x0"] + 0.5) for s in shapes(page, "grad-dA1-0")) == sorted(expected)
    for plot in ("act-X-0", "act-Z1-0", "act-P1-0"):
        assert shapes(page, plot) == []


def test_pool_ties_are_marked_as_ties_with_the_rules_pick(page: Page, api: httpx.Client) -> None:
    """A blank input makes A1 constant: every window ties. Each shows the API's pick as an orange
    dot and its equals as grey dots, and no winner outline (which swamped the map)."""
    page.select_option("#preset", "blank")
    wait_idle(page)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    state = saved_state(page)
    ref = post(api, "/api/forward", {k: state[k] for k in ("network", "params", "input", "label")})
    mask = ref["masks"]["P1"][0]
    picked = {(r, c) for r, row in enumerate(mask) for c, v in enumerate(row) if v == 1}
    marks = shapes(page, "act-A1-0")
    assert [s for s in marks if s["type"] == "rect"] == []
    orange = {(s["y0"] + 0.17, s["x0"] + 0.17) for s in marks if s["fillcolor"] == "#e07b1f"}
    grey = {(s["y0"] + 0.17, s["x0"] + 0.17) for s in marks if s["fillcolor"] == "#bbb"}
    assert {(round(r, 6), round(c, 6)) for r, c in orange} == picked
    assert len(grey) == 12 and not grey & orange


# ----------------------------------------------------------------------------- 5. painting
def test_painting_a_cell_changes_x_and_z1(page: Page, api: httpx.Client) -> None:
    network, params = seed_state(api)
    page.click("#btn-forward")
    wait_idle(page, "backward")
    before_z1 = z(page, "act-Z1-0")

    row, col = 1, 0  # an empty cell of the vertical bar; brush is 1 (ink)
    assert z(page, "input-X-0")[row][col] == 0
    paint_mode(page)
    click_cell(page, "input-X-0", row, col)
    page.wait_for_function(
        "([r, c]) => document.body.dataset.busy === '0' && document.getElementById('act-X-0').data[0].z[r][c] === 1",
        arg=[row, col])

    painted = [[list(r) for r in DEFAULT_X[0]]]
    painted[0][row][col] = 1.0
    assert z(page, "input-X-0") == painted[0]
    assert z(page, "act-X-0") == painted[0]
    assert saved_state(page)["input"] == painted
    ref = post(api, "/api/forward", {"network": network, "params": params, "input": painted, "label": LABEL})
    z1 = z(page, "act-Z1-0")
    assert z1 == ref["activations"]["Z1"][0]
    assert z1 != before_z1
    # Only the windows that cover (1, 0) changed: Z1 rows 0-1, column 0.
    changed = {(r, c) for r in range(4) for c in range(4) if z1[r][c] != before_z1[r][c]}
    assert changed <= {(0, 0), (1, 0)} and changed
    assert shown(page, "#loss-value") == sig(ref["loss"], 5)


# ----------------------------------------------------------------------------- 7. undo
def history_list(page: Page) -> tuple[list[str], str]:
    """The history <select>'s option values and the selected one."""
    return page.evaluate("() => { const s = document.getElementById('history');"
                         " return [[...s.options].map(o => o.value), s.value]; }")


def test_undo_restores_parameters_exactly(page: Page) -> None:
    w1_before = z(page, "pval-W1-0")
    params_before = saved_state(page)["params"]

    page.click("#btn-step")
    wait_iteration(page, 2)
    assert history_list(page) == [["1", "2"], "2"]
    assert z(page, "pval-W1-0") != w1_before
    assert saved_state(page)["params"] != params_before
    page.click("#btn-undo")
    wait_iteration(page, 1)
    assert history_list(page) == [["1"], "1"]
    assert z(page, "pval-W1-0") == w1_before
    assert saved_state(page)["params"] == params_before
    assert loss_points(page) == 0

    # Same with the key, from the middle of an iteration too.
    page.locator("body").focus()
    page.keyboard.press("s")
    wait_iteration(page, 2)
    params_2 = saved_state(page)["params"]
    page.keyboard.press("f")
    wait_idle(page, "backward")
    page.keyboard.press("z")  # mid-iteration: back to this iteration's start
    wait_idle(page, "forward")
    assert iteration(page) == 2 and saved_state(page)["params"] == params_2
    assert history_list(page) == [["1", "2"], "2"]
    page.keyboard.press("z")  # at its start: back to iteration 1
    wait_iteration(page, 1)
    assert history_list(page) == [["1"], "1"]
    assert z(page, "pval-W1-0") == w1_before
    assert saved_state(page)["params"] == params_before
    assert_phase(page, "forward")


# ----------------------------------------------------------------------------- 9. edit a weight
def test_editing_a_weight_feeds_the_forward_pass(page: Page, api: httpx.Client) -> None:
    network, params = seed_state(api)
    click_cell(page, "pval-W1-0", 1, 2)
    open_editor(page)
    assert page.inner_text("#editor-name") == "W1[0,0,1,2]"
    assert float(page.input_value("#editor-value")) == params["W1"][0][0][1][2]
    page.fill("#editor-value", "0.75")
    page.click("#editor-apply")
    wait_idle(page, "forward")
    page.wait_for_selector("#editor", state="hidden")

    edited = saved_state(page)["params"]
    expected = {k: v for k, v in params.items()}
    w1 = [[[list(r) for r in plane] for plane in f] for f in params["W1"]]
    w1[0][0][1][2] = 0.75
    expected["W1"] = w1
    assert edited == expected
    assert z(page, "pval-W1-0") == w1[0][0]

    page.click("#btn-forward")
    wait_idle(page, "backward")
    ref = post(api, "/api/forward", {"network": network, "params": expected, "input": DEFAULT_X, "label": LABEL})
    old = post(api, "/api/forward", {"network": network, "params": params, "input": DEFAULT_X, "label": LABEL})
    assert z(page, "act-Z1-0") == ref["activations"]["Z1"][0]
    assert ref["activations"]["Z1"] != old["activations"]["Z1"]
    assert shown(page, "#loss-value") == sig(ref["loss"], 5)


# ----------------------------------------------------------------------------- 10. gradcheck
def test_gradient_check_table(page: Page) -> None:
    assert page.locator("#gradcheck-section").is_hidden()
    page.click("#btn-gradcheck")
    summary = page.locator("[data-testid=gradcheck-summary]")
    summary.wait_for(state="visible")
    wait_idle(page)
    assert summary.inner_text().startswith("15 entries checked")
    rows = page.locator("#gradcheck table tbody tr")
    assert rows.count() == 15
    names = rows.locator("td:first-child").all_inner_texts()
    assert names == ["W1"] * 9 + ["b1"] + ["W2"] * 4 + ["b2"]
    errors = [float(t) for t in rows.locator("td:last-child").all_inner_texts()]
    assert all(e < 1e-6 for e in errors), errors
    assert page.locator("#gradcheck table tbody tr.bad").count() == 0
    assert_no_hscroll(page)
    screenshot(page, "06-gradcheck.png")


# ----------------------------------------------------------------------------- 11. play
def playing(page: Page) -> bool:
    return page.evaluate("() => document.body.dataset.playing") == "1"


def test_space_plays_and_pauses(page: Page) -> None:
    page.locator("body").focus()
    page.keyboard.press(" ")
    assert playing(page)
    page.wait_for_timeout(1500)
    page.keyboard.press(" ")
    assert not playing(page)
    wait_idle(page)
    done = iteration(page) - 1
    assert done >= 2, f"only {done} iterations in 1.5 s"
    page.wait_for_timeout(700)  # longer than one pause at 3 steps/s: nothing more runs
    wait_idle(page)
    assert iteration(page) - 1 == done
    assert loss_points(page) == done

    # Clicking Play leaves focus on the button: Space must then pause (not pause and click it again).
    page.click("#btn-play")
    assert playing(page)
    page.wait_for_timeout(400)
    page.keyboard.press(" ")
    page.wait_for_timeout(100)
    assert not playing(page)
    wait_idle(page)
    done = iteration(page)
    page.wait_for_timeout(700)
    wait_idle(page)
    assert iteration(page) == done
