"""The page reads its layer types from GET /api/layers: the editor's options, fields and bounds, the
loss list, the strip's titles and marks, and a generic fallback for a type it has no drawing for.
No page script names a layer type outside the presets (data), so none can bypass the registry."""

from __future__ import annotations

import json
import re

import httpx
from browser_testlib import (
    REPO,
    PageLog,
    arch_field,
    click_cell,
    require_chromium,
    saved_state,
    wait_arch_status,
    wait_idle,
)
from playwright.sync_api import Page, Route

require_chromium()

JS = REPO / "static" / "js"


def registry(api: httpx.Client) -> dict:
    r = api.get("/api/layers")
    assert r.status_code == 200, r.text
    return r.json()


def formula(entry: dict, layer: dict, inp: str) -> str:
    text = entry["formula"].replace("{out}", layer["output"]).replace("{in}", inp)
    for role, name in zip(entry["params"], layer["params"], strict=False):
        text = text.replace("{" + role + "}", name)
    return text


def test_no_page_script_names_a_layer_type(api: httpx.Client) -> None:
    """Presets (architecture.js's data block) may name types; code may not. equations.js is left to
    the "explain every number" issue, which replaces it."""
    types = [t["type"] for t in registry(api)["layers"]]
    quoted = re.compile("[\"'`](" + "|".join(types) + ")[\"'`]")
    offenders = []
    for path in sorted(JS.glob("*.js")):
        if path.name == "equations.js":
            continue
        text = path.read_text()
        if path.name == "architecture.js":  # the presets come before the editor's code
            text = text[text.index("let draft = null;"):]
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        offenders += [f"{path.name}: {m.group(0)}" for m in quoted.finditer(code)]
    assert offenders == []


def test_editor_and_strip_follow_the_registry(page: Page, api: httpx.Client, page_log: PageLog) -> None:
    # A layer added where it does not fit (a pool after flatten) gets the live check's 422 detail,
    # which the browser also logs.
    page_log.allow("status of 422")
    reg = registry(api)
    options = page.eval_on_selector_all("#arch-add-type option", "os => os.map(o => o.value)")
    assert options == [t["type"] for t in reg["layers"]]
    losses = page.eval_on_selector_all("#arch-loss option", "os => os.map(o => [o.value, o.textContent])")
    assert losses == [[loss["name"], loss["label"]] for loss in reg["losses"]]

    # Strip titles: the registry's formula with the layer's own names.
    net = api.post("/api/network", json={"network": None}).json()
    by_type = {t["type"]: t for t in reg["layers"]}
    titles = page.eval_on_selector_all("#strip .stage[data-stage] .formula", "hs => hs.map(h => h.textContent)")
    inputs = ["X"] + [layer["output"] for layer in net["layers"][:-1]]
    assert titles[1:] == [formula(by_type[lay["type"]], lay, i) for lay, i in zip(net["layers"], inputs, strict=True)]

    # Each new type's fields, with the registry's bounds and editor defaults; placed before the output block.
    for new in ("avgpool2d", "leaky_relu", "conv2d"):
        page.select_option("#arch-add-type", new)
        page.click("#arch-add")
        row = page.locator("#arch-table tr").nth(1 + len(net["layers"]) - 2)
        assert row.locator("td").nth(1).inner_text() == new
        for f in by_type[new]["fields"]:
            field = row.locator(f"input[data-field='{f['name']}']")
            assert field.count() == 1, (new, f["name"])
            value = field.input_value()
            assert float(value) == f["editor_default"], (new, f["name"], value)
            if f["kind"] != "pair":
                assert float(field.get_attribute("min")) == f["min"] and float(field.get_attribute("max")) == f["max"]
        page.locator("#arch-table tr").nth(1 + len(net["layers"]) - 2).locator("button").click()


def test_a_pair_field_keeps_both_numbers(page: Page, api: httpx.Client) -> None:
    """A [3, 2] kernel is shown as 3×2 and sent as [3, 2], never squared."""
    field = arch_field(page, 0, "kernel_size")
    assert page.input_value(field) == "3"
    page.fill(field, "3×2")
    net = api.post("/api/network", json={"network": {"input_shape": [1, 6, 6], "loss": "bce", "layers": [
        {"type": "conv2d", "filters": 1, "kernel_size": [3, 2]}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 1},
        {"type": "sigmoid"}]}}).json()
    n = net["param_count"]
    assert n != 15
    wait_arch_status(page, f"✓ {n} trainable")
    assert page.locator("#arch-table tr").nth(1).locator("td").nth(4).inner_text() == "1×4×5"
    page.click("#arch-apply")
    page.wait_for_function("n => document.getElementById('net-summary').textContent.startsWith(n + ' ')", arg=n)
    wait_idle(page)
    assert page.input_value(arch_field(page, 0, "kernel_size")) == "3×2"
    page.fill(arch_field(page, 0, "kernel_size"), "3×")
    assert "kernel must be" in page.inner_text("#arch-status")


def test_a_new_type_works_through_the_page(page: Page, api: httpx.Client) -> None:
    """leaky_relu, added in the editor: its title from the registry, the engine computes it, its gate
    marks are drawn on its input's gradient, and a click on its output explains the cell."""
    entry = next(t for t in registry(api)["layers"] if t["type"] == "leaky_relu")
    page.select_option("#arch-preset", "seed")
    wait_arch_status(page, "✓")
    page.locator("#arch-table tr").nth(2).locator("button").click()  # drop the ReLU (A1)
    page.select_option("#arch-add-type", "leaky_relu")
    page.click("#arch-add")  # it goes before the output block: after F, so A1 = LeakyReLU(F)
    wait_arch_status(page, "✓")
    page.click("#arch-apply")
    title = entry["formula"].replace("{out}", "A1").replace("{in}", "F")
    page.wait_for_function("t => document.querySelector('#stage-A1 .formula')?.textContent === t", arg=title)
    wait_idle(page, "forward")
    page.click("#btn-forward")
    wait_idle(page, "backward")
    page.click("#btn-backward")
    wait_idle(page, "update")
    gate = page.evaluate("() => document.getElementById('grad-dF-0').layout.shapes.length")
    assert gate > 0  # the cells of F where the local derivative is 1
    click_cell(page, "act-A1-0", 0, 1)
    page.wait_for_selector("[data-testid=explain-result]")
    state = saved_state(page)
    body = {"network": state["network"], "params": state["params"], "input": state["input"], "label": state["label"],
            "learning_rate": state["learning_rate"], "array": "A1", "index": [1]}
    expl = api.post("/api/explain", json=body).json()
    assert page.get_attribute("[data-testid=explain-result] .total", "data-value") == str(expl["value"])
    assert page.locator("[data-testid=explain-rule] math").count() == 1


def test_a_type_missing_from_the_registry_still_draws(page: Page) -> None:
    def without_relu(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        data["layers"] = [t for t in data["layers"] if t["type"] != "relu"]
        route.fulfill(response=response, body=json.dumps(data))

    page.route("**/api/layers", without_relu)
    page.reload()
    page.wait_for_selector("body[data-ready='1'][data-busy='0']", state="attached")
    assert page.inner_text("#stage-A1 .formula") == "A1 = relu(Z1)"
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert page.locator("#act-A1 .values td").count() == 16

