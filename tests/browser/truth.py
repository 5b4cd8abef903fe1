"""The truth check behind test_truth.py: every number the page draws, read from the DOM (each
heatmap's table of exact values, its cell texts and colour key, the loss, the probabilities, the
equations), equals the API's value for the state the page says it shows, as the page formats it.
The reference comes from the API, called here with the page's own saved state."""

from __future__ import annotations

import re
from typing import Any

import httpx
from browser_testlib import saved_state, sig
from playwright.sync_api import Page

DUMP = """() => {
  const visible = (e) => !e.closest('.hidden, [hidden]');
  return [...document.querySelectorAll('[data-array]')].filter(visible).map((c) => ({
    id: c.id, name: c.dataset.array,
    cells: [...c.querySelectorAll('.values td')].map((td) => [td.dataset.index, td.textContent]),
    plots: [...c.querySelectorAll('.plot')].map((d) => ({ text: d.data?.[0]?.text, z: d.data?.[0]?.z, cell: d._cell })),
    key: [...c.querySelectorAll('.ckey > span:not(.ckey-bar):not(.ckey-exp)')].map((s) => s.textContent),
    exp: c.querySelector('.ckey-exp')?.textContent ?? '',
  }));
}"""
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def get_in(value: Any, index: str) -> Any:
    for i in (int(p) for p in index.split(",") if p != ""):
        value = value[i]
    return value


def flat(value: Any) -> list[Any]:
    return [x for v in value for x in flat(v)] if isinstance(value, list) else [value]


def max_abs(value: Any) -> float:
    return max((abs(v) for v in flat(value) if v is not None), default=0.0)


def moment(page: Page) -> dict[str, Any]:
    return page.evaluate("""() => { const m = document.getElementById('strip-moment');
        return { iteration: Number(m.dataset.iteration), current: m.dataset.current === '1',
                 text: m.textContent }; }""")


def check_heatmap(box: dict[str, Any], expected: Any) -> None:
    """The table holds every exact value; the cell texts and colours are those values."""
    where = f"{box['id']} ({box['name']})"
    assert len(box["cells"]) == len(flat(expected)), where
    for index, text in box["cells"]:
        v = get_in(expected, index)
        if v is None:
            assert text == "not representable", (where, index, text)
        else:
            assert float(text) == v, (where, index, text, v)
    exp = int(box["exp"].removeprefix("cell numbers ×10^") or 0)
    for plot in box["plots"]:
        digits = 3 if plot["cell"] >= 34 else 2
        for zrow, trow in zip(plot["z"], plot["text"], strict=True):
            for zv, t in zip(zrow, trow, strict=True):
                if zv is None:
                    assert t == "n/r", where
                elif t:
                    assert float(t) == sig(zv * 10 ** -exp, digits), (where, t, zv)
        assert all(zv in flat(expected) for zv in flat(plot["z"])), where
    m = max_abs(expected) or 1
    if not box["id"].startswith("upd-"):  # an update's old/new pair shares the larger of their scales
        assert [float(k) for k in box["key"]] == [sig(-m, 2), sig(m, 2)], where


def reference(api: httpx.Client, page: Page, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The strip's moment and the API's answer for it (None when nothing is computed)."""
    m = moment(page)
    params = state["params"] if m["current"] else next(
        h["params"] for h in state["history"] if h["iteration"] == m["iteration"])
    m["params"] = params
    if page.locator("#act-X .values").count() == 0:
        return m, None
    body = {"network": state["network"], "params": params, "input": state["input"], "label": state["label"]}
    grads_shown = page.locator("[id^=gradwrap-]:not(.hidden)").count() > 0
    return m, post(api, "/api/backward" if grads_shown else "/api/forward", body)


CHAIN = """() => [...document.querySelectorAll('#equations [data-testid=chain-line]')].map((line) => ({
  op: line.dataset.op, text: line.textContent,
  total: Number(line.querySelector('.num.total').dataset.value),
  terms: [...line.querySelectorAll('[data-testid=chain-term]')].map((t) => ({
    factors: [...t.querySelectorAll('[data-testid=chain-factor] .num')]
      .map((n) => [Number(n.dataset.value), n.textContent]),
    value: t.querySelector('.tval') ? Number(t.querySelector('.tval').dataset.value) : null })),
  rest: (() => {
    const r = line.querySelector('[data-testid=chain-rest] .num');
    return r ? Number(r.dataset.value) : null;
  })(),
  shown: [...line.querySelectorAll('.num')].map((n) => [Number(n.dataset.value), n.textContent]),
}))"""


def num(v: float) -> str:
    """The page's 4 significant digits (explain.js's num)."""
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return str(sig(v, 4)).removesuffix(".0")
    mant, exp = f"{v:.3e}".split("e")
    return f"{mant}e{'+' if int(exp) >= 0 else '-'}{abs(int(exp))}"


def check_equations(page: Page, ref: dict[str, Any], params: dict[str, Any], label: int) -> None:
    """The chain-rule panel: every line is true arithmetic (its factors multiply to each term, its
    terms and the sum of the others add up to the result) and every factor is a value of this
    moment (an entry of an array the API answered, or a constant)."""
    page.wait_for_function("() => !document.getElementById('equations').dataset.pending")
    values = set()
    for v in flat(list(ref["activations"].values())) + flat(list(params.values())) + flat(
            list(ref.get("gradients", {}).values())) + flat(list(ref.get("local", {}).values())) + [ref["loss"]]:
        if v is not None:
            values.add(v)
    values |= {0.0, 1.0, -1.0, float(label)}
    lines = page.evaluate(CHAIN)
    assert lines, "the chain-rule panel shows no line"
    for line in lines:
        for value, text in line["shown"]:
            assert text == num(value), f"{value} is printed as {text}: {line['text']}"
        total = 0.0
        for t in line["terms"]:
            product = 1.0
            for value, _ in t["factors"]:
                assert value in values or value == -float(label), f"factor {value} is no value of this moment"
                product *= value
            if t["value"] is not None:
                assert abs(product - t["value"]) <= 1e-12 * max(abs(product), 1e-300), line["text"]
            total += product
        if line["op"] == "sum":
            total += line["rest"] or 0.0
            assert abs(total - line["total"]) <= 1e-12 * max(1.0, abs(line["total"])) * (len(line["terms"]) + 2), \
                f"the terms add up to {total}, not {line['total']}: {line['text']}"


def assert_truth(page: Page, api: httpx.Client) -> int:
    """Every number drawn is the API's for what the page says it shows; the count of values checked."""
    state = saved_state(page)
    boxes = page.evaluate(DUMP)
    m, ref = reference(api, page, state)
    checked = 0
    for box in boxes:
        kind, _, name = box["id"].partition("-")
        if box["id"] == "input-grid":
            expected = state["input"]
        elif kind == "pval":
            expected = state["params"][name]
        elif kind == "act":
            assert ref is not None, f"{box['id']} is drawn but nothing is computed"
            expected = ref["activations"][name]
        elif kind in ("grad", "pgrad"):
            assert ref is not None and "gradients" in ref, box["id"]
            if kind == "pgrad":
                assert m["current"], f"{box['id']} is shown under parameters it is not the gradient of"
            expected = ref["gradients"][f"d{name}"]
        else:
            continue  # the update panel: checked by check_update after an update
        check_heatmap(box, expected)
        checked += len(box["cells"])
    eq_moment = page.evaluate("() => document.getElementById('eq-moment').dataset")
    assert int(eq_moment["iteration"]) == m["iteration"] and (eq_moment["current"] == "1") == m["current"]
    if ref is None:
        assert page.inner_text("#loss-value") == "–"
        assert page.locator("#prediction .prob").count() == 0
    else:
        assert float(page.inner_text("#loss-value")) == sig(ref["loss"], 5)
        probs = page.locator("#prediction .prob span:last-child").all_inner_texts()
        assert [float(p) for p in probs] == [sig(p, 3) for p in ref["prediction"]["probabilities"]]
        check_equations(page, ref, m["params"], state["label"])
    if page.locator("#gradcheck-section").is_visible():
        assert m["current"] and ref is not None, "the gradient check is shown for another example"
    assert checked > 0
    return checked


def check_update(page: Page, api: httpx.Client) -> None:
    """The update panel right after an Update/Step: W_old, η·dW, W_new of the iteration it names."""
    state = saved_state(page)
    k = int(re.match(r"iteration (\d+):", page.inner_text("[data-testid=update-head]")).group(1))
    old = next(h["params"] for h in state["history"] if h["iteration"] == k)
    bwd = post(api, "/api/backward", {"network": state["network"], "params": old, "input": state["input"],
                                      "label": state["label"]})
    grads = {f"d{n}": bwd["gradients"][f"d{n}"] for n in old}
    new = post(api, "/api/update", {"network": state["network"], "params": old, "gradients": grads,
                                    "learning_rate": state["learning_rate"]})["params"]
    boxes = {b["id"]: b for b in page.evaluate(DUMP)}
    for n in old:
        check_heatmap(boxes[f"upd-old-{n}"], old[n])
        check_heatmap(boxes[f"upd-new-{n}"], new[n])
        step = [v * state["learning_rate"] for v in flat(grads[f"d{n}"])]
        assert [float(t) for _, t in boxes[f"upd-step-{n}"]["cells"]] == step
        scale = max(max_abs(old[n]), max_abs(new[n]))
        for side in ("old", "new"):
            assert [float(t) for t in boxes[f"upd-{side}-{n}"]["key"]] == [sig(-scale, 2), sig(scale, 2)]
