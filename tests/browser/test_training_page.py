"""Training and architecture on the page: a run with its progress bar and curve, cancelling
one, the architecture editor's checks, stepping through the two-block network, and training it."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from browser_testlib import (
    PageLog,
    arch_field,
    bar_widths,
    curve_points,
    fill_training_form,
    iteration,
    params,
    probabilities,
    require_chromium,
    saved_state,
    screenshot,
    sig,
    stage_names,
    start_training,
    train,
    use_twoblock,
    wait_arch_status,
    wait_idle,
    wait_iteration,
    wait_training_over,
    watch_progress_bar,
    z,
)
from playwright.sync_api import Page

require_chromium()

TWOBLOCK_STAGES = ["X", "Z1", "A1", "P1", "Z2", "A2", "P2", "F", "Z3", "A3"]


def close(a: object, b: object, tol: float = 1e-12) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    return isinstance(a, float | int) and isinstance(b, float | int) and abs(a - b) <= tol


# ----------------------------------------------------------------------------- 1. train with the bar
def test_training_with_progress_bar_then_undo(page: Page) -> None:
    assert page.input_value("#ds-name") == "bars"  # the seed network's dataset is the default
    before = params(page)
    assert iteration(page) == 1

    fill_training_form(page, dataset="bars", iterations=300)
    watch_progress_bar(page)
    start_training(page)
    status = wait_training_over(page)

    widths = bar_widths(page)
    assert widths[0] == 0 and widths[-1] == 100, widths
    assert widths == sorted(widths), f"the bar went backwards: {widths}"
    assert any(0 < w < 100 for w in widths), f"no width between 0 and 100%: {widths}"
    assert page.evaluate("() => document.getElementById('tr-bar').style.width") == "100%"
    assert status.startswith("done: 300 iterations"), status
    assert page.get_attribute("#tr-status", "class") == "small ok"
    # the page asks for 25 history points (one per 12 iterations), after where the run started
    assert curve_points(page) == 26
    assert page.evaluate("() => document.getElementById('tr-curve').data[2].x[0]") == 0
    curve = page.evaluate("() => document.getElementById('tr-curve').data.map(t => t.name)")
    assert curve == ["training loss", "train accuracy", "test accuracy"]
    look = page.evaluate("""() => { const gd = document.getElementById('tr-curve');
        return { x: gd.layout.xaxis.range, ticks: gd.layout.yaxis2.tickvals, fmt: gd.layout.yaxis2.tickformat,
                 lines: gd.data.slice(1).map(t => [t.line.width, t.line.dash ?? 'solid']) }; }""")
    assert look["x"] == [0, 300]  # the axis starts at iteration 0, not at the first point
    assert look["ticks"] == [0, 0.25, 0.5, 0.75, 1] and look["fmt"] == ".0%"  # not 0.386 / 0.772
    assert look["lines"][0] != look["lines"][1]  # the train line stays visible under the test line
    assert page.locator("#btn-cancel").is_hidden() and page.locator("#btn-train").is_enabled()

    # The page now uses the trained params, as a new iteration, and ran a Forward with them.
    trained = params(page)
    assert trained != before
    assert page.evaluate("() => document.body.dataset.phase") == "backward"
    assert iteration(page) == 2
    assert page.inner_text("#loss-value") != "–"
    assert z(page, "pval-W1-0") == trained["W1"][0][0]
    assert page.inner_text("#prediction").startswith("prediction: ")
    screenshot(page, "10-trained-bars.png")

    # Undo goes back to before the training run: the seed's params exactly.
    page.click("#btn-undo")
    wait_iteration(page, 1)
    wait_idle(page, "forward")
    assert params(page) == before
    assert z(page, "pval-W1-0") == before["W1"][0][0]


# ----------------------------------------------------------------------------- 2. cancel
def two_runs_at_once(url: str, network: dict, start: dict) -> list[int]:
    body = {"network": network, "params": start, "dataset": "bars", "iterations": 20, "batch_size": 4,
            "learning_rate": 0.5, "points": 2}

    def one(_: int) -> int:
        with httpx.Client(base_url=url, timeout=30) as c:
            return c.post("/api/train", json=body).status_code

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(2)))


def cancel_on_first_progress(page: Page) -> None:
    page.evaluate("""() => {
        const status = document.getElementById('tr-status');
        const cancel = document.getElementById('btn-cancel');
        const watch = new MutationObserver(() => {
            if (!status.textContent.startsWith('iteration ')) return;
            watch.disconnect();
            window.__cancelledAt = status.textContent;
            cancel.click();
        });
        watch.observe(status, { childList: true, characterData: true, subtree: true });
    }""")


def test_cancelling_a_run_keeps_the_params_and_frees_the_slot(page: Page, server_url: str) -> None:
    state = saved_state(page)
    before = state["params"]

    # The whole 10000-iteration run takes about 3 s here, less than a round trip from this test
    # under load can be trusted with: the page itself clicks Cancel as its first progress shows.
    fill_training_form(page, dataset="bars", iterations=10_000, batch=64)
    cancel_on_first_progress(page)
    start_training(page)
    status = wait_training_over(page, timeout=10_000)
    assert page.evaluate("() => window.__cancelledAt").startswith("iteration ")
    assert status.startswith("cancelled (it had reached ") and status.endswith("): the parameters are unchanged")
    reached = float(status.split("reached ")[1].split("%")[0])
    assert 0 < reached < 100
    assert page.evaluate("() => document.getElementById('tr-bar').style.width") == "0%"  # not left at 88%
    assert params(page) == before
    assert iteration(page) == 1
    assert page.evaluate("() => document.body.dataset.phase") == "forward"

    # Both of the server's training slots are free again (a slot the cancelled run kept would
    # make one of two simultaneous runs a 429); the server lets go at its next chunk boundary.
    deadline = time.monotonic() + 15
    while (codes := two_runs_at_once(server_url, state["network"], before)) != [200, 200]:
        assert set(codes) <= {200, 429}, codes
        assert time.monotonic() < deadline, f"a training slot stayed taken after the cancel: {codes}"
        time.sleep(0.3)

    # And the page trains again.
    status = train(page, iterations=300)
    assert status.startswith("done: 300 iterations"), status
    assert params(page) != before


# ----------------------------------------------------------------------------- 3. architecture editor
def test_architecture_editor_checks_and_applies(page: Page, page_log: PageLog) -> None:
    # POST /api/network answers a draft that does not fit with a 422, which Chromium logs.
    page_log.allow(r"^error: Failed to load resource: the server responded with a status of 422")
    wait_arch_status(page, "✓")  # the seed network, checked at start
    page.select_option("#arch-preset", "twoblock")
    status = wait_arch_status(page, "✓", " 1898 ")
    assert status.startswith("✓ 1898 trainable parameters"), status
    assert page.input_value("#ds-name") == "digits"  # the preset chose its dataset
    assert page.input_value("#ds-classes") == ""
    assert page.locator("#arch-table tr").count() == 1 + 9
    assert page.is_enabled("#arch-apply")

    # A kernel larger than the (padded) 8x8 input: refused with the layer named, Apply disabled.
    page.fill(arch_field(page, 0, "kernel_size"), "11")
    status = wait_arch_status(page, "✗")
    assert "layer 0" in status and "kernel 11x11 is larger than its input 8x8" in status, status
    assert page.is_disabled("#arch-apply")
    assert page.get_attribute("#arch-status", "class") == "small bad"
    page.fill(arch_field(page, 0, "kernel_size"), "3")
    wait_arch_status(page, "✓", " 1898 ")
    assert page.is_enabled("#arch-apply")

    # Typing into a field: each check fills in the shapes and counts around it, and the field
    # keeps its focus and what was typed (a check used to rebuild the table, input included).
    field = page.locator(arch_field(page, 3, "filters"))
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("8")
    wait_arch_status(page, "✓", " 994 ")
    assert field.evaluate("e => e === document.activeElement"), "the check took the focus from the field"
    assert field.input_value() == "8"
    assert page.locator("#arch-table tr").nth(1 + 3).locator("td").nth(5).inner_text() == "584"
    page.keyboard.press("Backspace")
    page.keyboard.type("16")
    wait_arch_status(page, "✓", " 1898 ")
    assert field.evaluate("e => e === document.activeElement"), "the check took the focus from the field"
    assert field.input_value() == "16"
    assert page.locator("#arch-table tr").nth(1 + 3).locator("td").nth(5).inner_text() == "1168"

    # No flatten before the dense layer: refused, then added back (new layers go before the dense + softmax).
    page.locator("#arch-table tr").nth(1 + 6).locator("button").click()
    status = wait_arch_status(page, "✗")
    assert "layer 6" in status and "flatten" in status, status
    assert page.is_disabled("#arch-apply")
    page.select_option("#arch-add-type", "flatten")
    page.click("#arch-add")
    wait_arch_status(page, "✓", " 1898 ")
    types = page.locator("#arch-table tr td:nth-child(2)").all_inner_texts()
    assert types == ["conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "flatten", "dense", "softmax"]
    assert page.is_enabled("#arch-apply")

    page.click("#arch-apply")
    page.wait_for_function("() => document.getElementById('net-summary').textContent.startsWith('1898 ')")
    wait_idle(page, "forward")
    assert page.inner_text("#net-summary") == "1898 trainable parameters"
    assert stage_names(page) == TWOBLOCK_STAGES
    for name in ("Z1", "Z2", "Z3", "P2", "F"):
        assert page.locator(f"#stage-{name}").is_visible(), name
    assert page.inner_text("#stage-Z3 .shape") == "(10)"
    assert page.inner_text("#stage-P2 .shape") == "(16×2×2)"
    assert iteration(page) == 1
    saved = saved_state(page)
    assert saved["network"]["input_shape"] == [1, 8, 8]
    assert sorted(saved["params"]) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert page.locator("#label option").count() == 10


# ----------------------------------------------------------------------------- 4. two-block step through
def assert_loss_card_unclipped(page: Page) -> None:
    """With ten stages the loss card is the narrowest column: its number must still fit (it
    used to be cut to "2.17" of "2.1746" by the card's overflow: hidden)."""
    sizes = page.evaluate("""() => ['stage-L', 'loss-value', 'loss-after'].map(id => {
        const e = document.getElementById(id); return [id, e.scrollWidth, e.clientWidth]; })""")
    assert all(scroll <= client for _, scroll, client in sizes), sizes
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280


def test_one_iteration_of_the_two_block_network(page: Page, api: httpx.Client) -> None:
    use_twoblock(page)
    sample = page.locator("#ds-samples .sample").first
    label = int(sample.get_attribute("title").split("(label ")[1].rstrip(")"))
    sample.click()
    wait_idle(page, "backward")
    assert page.input_value("#label") == str(label)
    x = saved_state(page)["input"]
    assert len(x) == 1 and len(x[0]) == 8 and len(x[0][0]) == 8
    assert z(page, "input-X-0") == x[0]

    page.locator("body").focus()
    page.keyboard.press("b")
    wait_idle(page, "update", timeout=30_000)
    for name in ("Z1", "Z2", "Z3"):
        assert page.locator(f"#gradwrap-{name}").is_visible(), name
    for plot in ("grad-dZ1-0", "grad-dZ2-0", "grad-dZ2-7", "pgrad-dW1-0", "pgrad-dW3-0"):
        assert z(page, plot) is not None, plot
    assert_loss_card_unclipped(page)
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky controls then sit at the top of the shot
    screenshot(page, "11-twoblock-backward.png")

    # The plotted output A3 is the API's for the state the page saved.
    state = saved_state(page)
    ref = api.post("/api/forward", json={k: state[k] for k in ("network", "params", "input", "label")})
    assert ref.status_code == 200, ref.text
    a3 = ref.json()["activations"]["A3"]
    shown = z(page, "act-A3-0")
    assert shown == [a3] or close(shown, [a3]), (shown, a3)
    assert float(page.inner_text("#loss-value")) == sig(ref.json()["loss"], 5)

    assert page.locator("#prediction .prob").count() == 10
    top = max(range(10), key=lambda i: a3[i])
    assert page.inner_text("#prediction > div:first-child") == f"prediction: {top} (class {top})"
    assert math.isclose(sum(probabilities(page)), 1, abs_tol=0.01)

    before = state["params"]
    page.keyboard.press("u")
    wait_idle(page, "forward")
    assert iteration(page) == 2
    after = params(page)
    assert after != before and sorted(after) == sorted(before)
    assert page.locator("#update-W3").is_visible()
    assert page.inner_text("#loss-after").startswith("after update: ")
    assert_loss_card_unclipped(page)


# ----------------------------------------------------------------------------- 5. train the two-block net
def test_training_the_two_block_network_on_digits(page: Page) -> None:
    use_twoblock(page)
    before = params(page)
    status = train(page, dataset="digits", iterations=60, batch=16, optimizer="adam", lr=0.01)
    assert status.startswith("done: 60 iterations"), status
    assert curve_points(page) == 31  # 60 // 25 = 2 iterations per point, and iteration 0
    trained = params(page)
    assert trained != before
    assert all(trained[k] != before[k] for k in before), "a parameter was not trained"

    page.select_option("#ds-split", "train")
    page.wait_for_function("() => document.querySelector('#ds-samples .sample')?.title.startsWith('train #')")
    page.locator("#ds-samples .sample").nth(3).click()
    wait_idle(page, "backward")
    assert params(page) == trained
    probs = probabilities(page)
    assert len(probs) == 10
    assert math.isclose(sum(probs), 1, abs_tol=0.006)  # ten values rounded to 3 significant digits
    a3 = z(page, "act-A3-0")[0]
    assert math.isclose(sum(a3), 1, abs_tol=1e-12) and all(0 <= p <= 1 for p in a3)
    assert probs == [sig(p, 3) for p in a3]  # 3 significant digits, as the page shows them
    screenshot(page, "12-twoblock-trained.png")
