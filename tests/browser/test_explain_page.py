"""Explain every number, in real Chromium: a click on a cell of dW1, dX, dA1, Z1 and F (on the
seed's network and the two-block preset) opens the detail view with the API's numbers, outlines
the right source cells on the strip and renders the rule as MathML; Walk through steps through
the terms; arrows move the selection; Escape closes; the chain-rule panel of a multi-output
network is true arithmetic. Screenshots of three detail views go to the test artifacts."""

from __future__ import annotations

from typing import Any

import httpx
from browser_testlib import click_cell, require_chromium, saved_state, screenshot, use_twoblock, wait_idle
from playwright.sync_api import Page
from truth import check_equations

require_chromium()
HIGHLIGHT = "#7b1fa2"

# (array, plot id, row, col, index in the API's layout): on the seed network (1 channel, 6x6).
SEED_CELLS = [
    ("dW1", "pgrad-dW1-0", 1, 2, [0, 0, 1, 2]),
    ("dX", "grad-dX-0", 2, 3, [0, 2, 3]),
    ("dA1", "grad-dA1-0", 1, 2, [0, 1, 2]),  # a max-pool winner: its window's gradient routed here
    ("Z1", "act-Z1-0", 1, 1, [0, 1, 1]),
    ("F", "act-F-0", 0, 2, [2]),
]
TWO_BLOCK_CELLS = [
    ("dW1", "pgrad-dW1-0", 0, 1, [0, 0, 0, 1]),
    ("dX", "grad-dX-0", 3, 4, [0, 3, 4]),
    ("dA1", "grad-dA1-0", 2, 2, [0, 2, 2]),
    ("Z1", "act-Z1-0", 0, 0, [0, 0, 0]),
    ("F", "act-F-0", 1, 3, [19]),
]


def backward_done(page: Page) -> None:
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")


def api_explain(api: httpx.Client, page: Page, array: str, index: list[int]) -> dict[str, Any]:
    s = saved_state(page)
    body = {"network": s["network"], "params": s["params"], "input": s["input"], "label": s["label"],
            "learning_rate": s["learning_rate"], "array": array, "index": index}
    r = api.post("/api/explain", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def drawn_sources(page: Page) -> dict[str, int]:
    """Per drawn array: its highlighted cells (outlines in the highlight colour on its plots)."""
    return page.evaluate("""c => Object.fromEntries([...document.querySelectorAll('[data-array]')]
        .filter(b => !b.closest('.hidden, [hidden]'))
        .map(b => [b.dataset.array, [...b.querySelectorAll('.plot')].reduce((n, p) =>
            n + (p.layout?.shapes ?? []).filter(s => s.line?.color === c).length, 0)]))""", HIGHLIGHT)


def expected_sources(expl: dict[str, Any]) -> dict[str, int]:
    cells: dict[str, set[str]] = {}
    for t in expl["terms"]:
        for f in t["factors"]:
            if f["array"] is not None and not f.get("padding"):
                cells.setdefault(f["array"], set()).add(",".join(map(str, f["index"])))
    return {k: len(v) for k, v in cells.items()}


def open_cell(page: Page, plot: str, row: int, col: int) -> None:
    click_cell(page, plot, row, col)
    page.wait_for_selector("[data-testid=explain-result]")
    page.wait_for_function("() => !document.getElementById('equations').dataset.pending")


def check_view(page: Page, api: httpx.Client, array: str, index: list[int], full_panels: bool) -> dict[str, Any]:
    expl = api_explain(api, page, array, index)
    assert page.inner_text(".explain-title").startswith(f"{array}[{','.join(map(str, index))}] = ")
    assert float(page.get_attribute("[data-testid=explain-result] .total", "data-value")) == expl["value"]
    rows = page.locator("[data-testid=explain-terms] tbody tr")
    assert rows.count() == min(len(expl["terms"]), 48)
    shown = page.eval_on_selector_all("[data-testid=explain-terms] tbody tr:first-child .num",
                                      "ns => ns.map(n => Number(n.dataset.value))")
    if expl["terms"]:
        first = expl["terms"][0]
        assert shown == [f["value"] for f in first["factors"]] + [first["value"]]
    assert page.locator("[data-testid=explain-rule] math").count() == 1  # MathML, rendered natively
    drawn = drawn_sources(page)
    for name, n in expected_sources(expl).items():
        if name in drawn:
            assert drawn[name] == n if full_panels else 0 < drawn[name] <= n, (array, name, drawn[name], n)
    return expl


def test_seed_cells_explain_with_the_apis_numbers(page: Page, api: httpx.Client) -> None:
    backward_done(page)
    for array, plot, row, col, index in SEED_CELLS:
        open_cell(page, plot, row, col)
        check_view(page, api, array, index, full_panels=True)
        shot = {"Z1": "explain-conv-forward.png", "dW1": "explain-dW.png", "dA1": "explain-pool-dA.png"}.get(array)
        if shot:
            page.locator("#explain").scroll_into_view_if_needed()
            screenshot(page, shot)
    check_equations(page, api.post("/api/backward", json={k: saved_state(page)[k] for k in (
        "network", "params", "input", "label")}).json(), saved_state(page)["params"], saved_state(page)["label"])


def test_a_pool_cell_that_lost_shows_where_its_windows_went(page: Page, api: httpx.Client) -> None:
    """A dA1 cell that won no window: the view lists each window it was in with the cell that won
    it and that cell's value, and the winners are outlined dashed on A1 (and dA1) in the strip."""
    backward_done(page)
    lost = next(e for e in (api_explain(api, page, "dA1", [0, r, c]) for r in range(4) for c in range(4))
                if not any(w["won"] for w in e["windows"]))
    _, r, c = lost["index"]
    open_cell(page, "grad-dA1-0", r, c)
    items = page.locator("[data-testid=explain-windows] li")
    assert items.count() == len(lost["windows"])
    for item, w in zip(items.all(), lost["windows"]):
        text = item.inner_text()
        winner = w["winner"]
        assert text.startswith(f"lost window P1[{','.join(map(str, w['index']))}] to "
                               f"A1[{','.join(map(str, winner['index']))}] = "), text
        assert float(item.locator(".num").get_attribute("data-value")) == winner["value"]
    winners = {tuple(w["winner"]["index"][1:]) for w in lost["windows"]}
    drawn = page.evaluate("""() => (document.getElementById('act-A1-0').layout.shapes ?? [])
        .filter(s => s.line?.color === '#c2185b' && s.line?.dash === 'dash')
        .map(s => [Math.round((s.y0 + s.y1) / 2), Math.round((s.x0 + s.x1) / 2)])""")
    assert {tuple(cell) for cell in drawn} == winners, (drawn, winners)
    page.locator("#explain").scroll_into_view_if_needed()
    screenshot(page, "explain-pool-lost.png")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('[data-array=A1]').dataset.lost === '0'")


def test_two_block_cells_and_its_chain_rule_panel(page: Page, api: httpx.Client) -> None:
    use_twoblock(page)
    backward_done(page)
    for array, plot, row, col, index in TWO_BLOCK_CELLS:
        open_cell(page, plot, row, col)
        check_view(page, api, array, index, full_panels=False)
        s = saved_state(page)
        ref = api.post("/api/backward", json={k: s[k] for k in ("network", "params", "input", "label")}).json()
        check_equations(page, ref, s["params"], s["label"])  # a 10-output network: every line true arithmetic


def test_walk_through_arrows_and_escape(page: Page, api: httpx.Client) -> None:
    backward_done(page)
    open_cell(page, "act-Z1-0", 0, 0)
    page.click("[data-testid=explain-walk]")
    page.wait_for_function("() => document.querySelector('[data-testid=explain-walk-status]')?.textContent"
                           "?.startsWith('term 2 of 10')", timeout=5000)
    walking = page.evaluate("() => document.querySelector('tr.walking').dataset.term")
    assert int(walking) >= 1
    # While walking, only the current term's sources are outlined: one weight and one input cell.
    assert sum(drawn_sources(page).values()) <= 2
    page.click("[data-testid=explain-walk]")  # stop
    page.locator("h2").first.click()  # focus leaves the plots
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.explain-title')?.textContent.startsWith('Z1[0,0,1]')")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.querySelector('.explain-title')?.textContent.startsWith('Z1[0,1,1]')")
    page.keyboard.press("Escape")
    page.wait_for_selector("#explain", state="hidden")
    assert sum(drawn_sources(page).values()) == 0


def test_the_view_follows_the_state(page: Page, api: httpx.Client) -> None:
    """The open view is explained again whenever the state changes, or closes when its array is no
    longer drawn: never an old number."""
    backward_done(page)
    open_cell(page, "pval-W1-0", 0, 0)
    before = float(page.get_attribute("[data-testid=explain-result] .total", "data-value"))
    page.click("#btn-update")
    wait_idle(page, "forward")
    page.wait_for_function("b => Number(document.querySelector('[data-testid=explain-result] .total')"
                           "?.dataset.value) !== b", arg=before)
    new = saved_state(page)["params"]["W1"][0][0][0][0]
    assert float(page.get_attribute("[data-testid=explain-result] .total", "data-value")) == new != before
    page.click("#btn-forward")
    wait_idle(page, "backward")
    open_cell(page, "act-Z1-0", 0, 0)
    page.click("#btn-backward")
    wait_idle(page, "update")
    open_cell(page, "pgrad-dW1-0", 0, 0)
    expl = api_explain(api, page, "dW1", [0, 0, 0, 0])
    assert float(page.get_attribute("[data-testid=explain-result] .total", "data-value")) == expl["value"]
    page.click("#btn-update")
    wait_idle(page, "forward")
    page.click("#btn-forward")  # the gradients are no longer drawn: their view closes
    wait_idle(page, "backward")
    page.wait_for_selector("#explain", state="hidden")


def test_each_stage_says_what_it_does(page: Page, api: httpx.Client) -> None:
    reg = {t["type"]: t["description"] for t in api.get("/api/layers").json()["layers"]}
    net = api.post("/api/network", json={"network": saved_state(page)["network"]}).json()
    for layer in net["layers"]:
        note = page.locator(f"#stage-{layer['output']} [data-testid=about]")
        note.locator("summary").click()
        assert note.locator("p").inner_text() == reg[layer["type"]]
