"""Dataset examples and what training starts from: the example buttons mix the classes (the
splits are stored grouped by class), and a run can start from fresh weights, saying so."""

from __future__ import annotations

import httpx
from browser_testlib import fill_training_form, require_chromium, saved_state, train, wait_iteration
from playwright.sync_api import Page

require_chromium()


KINDS = """n => { const s = [...document.querySelectorAll('#ds-samples .sample span')];
    return s.length === 12 && new Set(s.map(e => e.textContent)).size === n; }"""


def shown_classes(page: Page) -> list[str]:
    return page.locator("#ds-samples .sample span").all_inner_texts()


def test_examples_mix_the_classes(page: Page) -> None:
    names = shown_classes(page)  # bars: the first 64 test examples are all horizontal
    assert len(names) == 12 and set(names) == {"horizontal", "vertical"}, names
    page.select_option("#ds-name", "strokes")
    page.wait_for_function(KINDS, arg=4)
    first = page.get_attribute("#ds-samples .sample", "data-index")
    page.click("#ds-more")  # other examples: still mixed
    page.wait_for_function("i => document.querySelector('#ds-samples .sample').dataset.index !== i", arg=first)
    page.wait_for_function(KINDS, arg=4)


def test_training_from_fresh_weights_says_so_and_starts_there(page: Page, api: httpx.Client) -> None:
    assert page.inner_text("#tr-from").startswith("Training continues from the current weights (iteration 1)")
    page.click("#btn-step")
    wait_iteration(page, 2)
    assert "iteration 2" in page.inner_text("#tr-from")
    page.check("#tr-fresh")
    assert page.inner_text("#tr-from").startswith("Training starts from fresh weights (seed 0)")
    state = saved_state(page)
    fresh = api.post("/api/init", json={"network": state["network"], "seed": 0}).json()["params"]
    assert fresh != state["params"]
    fill_training_form(page, dataset="bars", iterations=10, batch=16, optimizer="sgd", lr=0.5)
    status = train(page)
    assert status.startswith("done: 10 iterations"), status
    ref = api.post("/api/train", json={
        "network": state["network"], "params": fresh, "dataset": "bars", "classes": None, "iterations": 10,
        "batch_size": 16, "learning_rate": 0.5, "optimizer": "sgd", "seed": 0, "stream": False, "points": 25})
    assert ref.status_code == 200, ref.text
    assert saved_state(page)["params"] == ref.json()["params"]


def test_a_run_that_ends_at_chance_is_flagged(page: Page) -> None:
    status = train(page, dataset="diagonals", iterations=5, batch=16, optimizer="sgd", lr=0.0001)
    assert status.startswith("done: 5 iterations"), status
    flag = page.locator("#tr-chance")
    assert flag.is_visible()
    assert flag.inner_text().startswith(
        "This run ended at chance: test accuracy 39.3% where guessing among 2 classes gets 50%")
    train(page, dataset="bars", iterations=300, batch=16, optimizer="sgd", lr=0.5)
    assert flag.is_hidden()
