"""The training queue on the page: with every training slot of the server held busy, pressing
Train shows the run's place in the queue, then its progress, then its result; cancelling while
queued gives the place back; a full queue (429) is retried by the page itself, saying so, and so is
a busy server's 503 for a large computation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from browser_testlib import PageLog, fill_training_form, require_chromium, start_training, wait_training_over
from engine_testlib import TWO_BLOCK_SPEC
from playwright.sync_api import Page, Route

require_chromium()

MAX_SLOTS = 16  # more than any machine this runs on has cores


def record_status(page: Page) -> None:
    """Keep every text the training status line shows, in order, in window.__statuses."""
    page.evaluate("""() => {
        const status = document.getElementById('tr-status');
        window.__statuses = [];
        new MutationObserver(() => {
            const t = status.textContent;
            if (window.__statuses.at(-1) !== t) window.__statuses.push(t);
        }).observe(status, { childList: true, characterData: true, subtree: true });
    }""")


def statuses(page: Page) -> list[str]:
    return page.evaluate("() => window.__statuses")


class Holders:
    """Long streamed runs started from this test until the server queues one: then every slot is
    busy (the queued one is closed again). ``release()`` ends one of them."""

    def __init__(self, stack: ExitStack, base: str) -> None:
        params = httpx.post(f"{base}/api/init", json={"network": TWO_BLOCK_SPEC, "seed": 0}, timeout=10).json()
        self.body = {"network": TWO_BLOCK_SPEC, "params": params["params"], "dataset": "digits",
                     "iterations": 10_000, "batch_size": 32, "learning_rate": 0.05, "optimizer": "adam",
                     "points": 100, "stream": True}
        self.base = base
        self.stack = stack
        self.running: list[tuple[httpx.Client, Any, Iterator[str]]] = []
        self.fill()

    def first_line(self) -> tuple[httpx.Client, Any, Iterator[str], dict[str, Any]]:
        client = httpx.Client(base_url=self.base, timeout=60)
        response = client.send(client.build_request("POST", "/api/train", json=self.body), stream=True)
        assert response.status_code == 200, response.read()[:300]
        lines = response.iter_lines()  # kept with its response: a dropped iterator closes the connection
        return client, response, lines, json.loads(next(lines))

    def fill(self) -> None:
        for _ in range(MAX_SLOTS + 1):
            client, response, lines, first = self.first_line()
            if first["type"] == "queued":
                self.close(client, response)
                return
            assert first["type"] == "start", first
            self.running.append((client, response, lines))
            self.stack.callback(self.close, client, response)
        raise AssertionError("the server never queued a run")

    @staticmethod
    def close(client: httpx.Client, response: Any) -> None:
        response.close()
        client.close()

    def release(self) -> None:
        client, response, _ = self.running.pop()
        self.close(client, response)

    def probe_position(self) -> int:
        """The queue position a new run gets now (its stream closed again at once)."""
        client, response, _, first = self.first_line()
        self.close(client, response)
        assert first["type"] == "queued", first
        return first["position"]


def test_queued_then_progress_then_result_and_cancelling_frees_the_place(page: Page, server_url: str) -> None:
    fill_training_form(page, dataset="bars", iterations=300)
    record_status(page)
    with ExitStack() as stack:
        holders = Holders(stack, server_url)
        start_training(page)
        page.wait_for_function("() => document.getElementById('tr-status').textContent.startsWith('queued, ')")
        shown = page.inner_text("#tr-status")
        assert shown.startswith("queued, 0 runs ahead of you (about ") and shown.endswith(" s)"), shown
        holders.release()  # a slot frees: the page's run is next
        status = wait_training_over(page, timeout=60_000)
        assert status.startswith("done: 300 iterations"), status
        seen = statuses(page)
        first_progress = next(i for i, t in enumerate(seen) if t.startswith("iteration "))
        assert any(t.startswith("queued, ") for t in seen[:first_progress]), seen
        assert not any(t.startswith("queued, ") for t in seen[first_progress:]), seen

        # Busy again; Train, then Cancel while queued: the place is given back at once.
        holders.fill()
        record_status(page)
        start_training(page)
        page.wait_for_function("() => document.getElementById('tr-status').textContent.startsWith('queued, ')")
        page.click("#btn-cancel")
        status = wait_training_over(page, timeout=10_000)
        assert status.startswith("cancelled") and status.endswith("the parameters are unchanged"), status
        deadline = time.monotonic() + 2.0
        while (position := holders.probe_position()) != 1:  # not 2: nobody waits before a new run
            assert time.monotonic() < deadline, f"the cancelled page kept its place (a new run is {position})"
            time.sleep(0.1)


def refuse_once(page: Page, url: str, status: int, detail: str) -> list[str]:
    """The first request to ``url`` is answered with ``status``, Retry-After: 1 and ``detail``;
    the rest reach the server. Returns the methods of the requests seen, as they come."""
    seen: list[str] = []

    def handle(route: Route) -> None:
        seen.append(route.request.method)
        if len(seen) == 1:
            route.fulfill(status=status, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body=json.dumps({"detail": detail}))
        else:
            route.continue_()

    page.route(url, handle)
    return seen


@pytest.fixture
def full_once(page: Page, page_log: PageLog) -> list[str]:
    """The first POST /api/train answers as a full queue would (429, Retry-After: 1)."""
    page_log.allow("status of 429")
    return refuse_once(page, "**/api/train", 429,
                       "the training queue is full (64 runs are waiting for 2 at a time); retry in 1 s")


def test_a_full_queue_is_retried_by_the_page_saying_so(page: Page, full_once: list[str]) -> None:
    fill_training_form(page, dataset="bars", iterations=300)
    record_status(page)
    start_training(page)
    status = wait_training_over(page, timeout=30_000)
    assert status.startswith("done: 300 iterations"), status
    assert len(full_once) == 2, full_once  # refused once, retried once
    seen = statuses(page)
    assert "the server's queue is full; retrying in 1 s" in seen, seen
    assert not any("error" in t.lower() for t in seen), seen


def test_a_busy_server_is_asked_again_by_the_page_saying_so(page: Page, page_log: PageLog) -> None:
    """A gradient check answered 503 with Retry-After (the worker's large computations at their
    limit) is sent again after the wait it names, the toast saying so; the result then shows."""
    page_log.allow("status of 503")
    seen = refuse_once(page, "**/api/gradcheck", 503, "the server is busy with 4 large computations; retry in 1 s")
    page.evaluate("""() => {
        window.__toasts = [];
        const t = document.getElementById('toast');
        new MutationObserver(() => window.__toasts.push(t.textContent))
            .observe(t, { childList: true, subtree: true });
    }""")
    page.click("#btn-gradcheck")
    page.locator("[data-testid=gradcheck-summary]").wait_for(state="visible", timeout=15_000)
    assert len(seen) == 2, seen  # refused once, asked again once
    toasts = page.evaluate("() => window.__toasts")
    assert "the server is busy; asking again in 1 s" in toasts, toasts
    assert not any("busy with" in t for t in toasts), toasts  # the 503 itself never became an error
