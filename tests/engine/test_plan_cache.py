"""engine/layers.py's byte-bounded plan cache: hits return the very plan, the oldest plans go
once the cache holds more than PLAN_CACHE_BYTES, and the newest always stays."""

from __future__ import annotations

import numpy as np
import pytest

from engine.layers import _plans as layers


def test_plans_are_reused_and_evicted_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "PLAN_CACHE_BYTES", 3 * 800)  # room for three 100-float plans
    built: list[int] = []

    @layers.byte_bounded_cache
    def plan(n: int) -> np.ndarray:
        built.append(n)
        return np.zeros(100)

    first = plan(1)
    assert plan(1) is first and built == [1]
    for n in (2, 3, 4):  # the fourth plan pushes the first one out
        plan(n)
    assert built == [1, 2, 3, 4]
    plan(4), plan(3), plan(2)
    assert built == [1, 2, 3, 4]  # still cached
    plan(1)
    assert built == [1, 2, 3, 4, 1]  # rebuilt: it had been evicted


def test_views_are_not_counted_and_an_oversized_plan_still_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "PLAN_CACHE_BYTES", 800)
    built: list[int] = []

    @layers.byte_bounded_cache
    def plan(n: int) -> tuple[np.ndarray, np.ndarray]:
        built.append(n)
        base = np.zeros(100 * n)
        return base, base.ravel()  # the view shares base's bytes

    plan(1)
    plan(1)
    assert built == [1]  # 800 bytes (the view not counted twice): fits
    big = plan(5)
    assert plan(5) is big and built == [1, 5]  # over the budget alone, but the newest stays
    plan(1)
    assert built == [1, 5, 1]
