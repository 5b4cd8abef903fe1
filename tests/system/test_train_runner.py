"""The runner processes (app/train_runner.py): a run computes outside its worker, at a lower CPU
priority, two of one worker's runs on two cores at once, bit for bit the run the engine makes
in-process; a stop ends a run at its next chunk; a killed runner is reported and replaced."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from engine_testlib import TWO_BLOCK_SPEC

import engine as E
from app.train_runner import Job, Run, Runners
from engine import datasets
from engine.train import Trainer, eval_every, train


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nice_of(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])


def two_block_trainer(iterations_seed: int = 0) -> Trainer:
    net = E.read_spec(TWO_BLOCK_SPEC)
    return Trainer(net, E.init_params(net, iterations_seed), datasets.load("digits"), 32, 0.01, "adam", 0)


async def collect(run: Run) -> list[tuple[str, Any]]:
    return [message async for message in run.events()]


@pytest.fixture
def pool() -> Iterator[Runners]:
    runners = Runners(slots=2, nice=7)
    runners.warm()
    yield runners
    runners.close()


def test_two_runs_compute_in_two_niced_processes_at_once_bit_for_bit(pool: Runners) -> None:
    iterations, points = 400, 4
    ended: list[Any] = []

    async def scenario() -> list[list[tuple[str, Any]]]:
        loop = asyncio.get_running_loop()
        runs = [Run(loop, ended.append) for _ in range(2)]
        for slot, run in enumerate(runs):
            pool.get(slot).start(Job(two_block_trainer(), iterations, eval_every(iterations, points)), run)
        return await asyncio.gather(*(collect(r) for r in runs))

    pids = pool.pids()
    assert len(pids) == 2 and os.getpid() not in pids
    before, mine = [cpu_seconds(p) for p in pids], time.process_time()
    results = asyncio.run(scenario())
    used, mine = [cpu_seconds(p) - b for p, b in zip(pids, before)], time.process_time() - mine
    assert all(nice_of(p) == nice_of(os.getpid()) + 7 for p in pids)
    # Each runner did one run's work, and the process that sent them (the worker) little of it.
    assert min(used) > 0.3 * sum(used) and mine < 0.5 * min(used), (used, mine)
    alone = train(E.read_spec(TWO_BLOCK_SPEC), E.init_params(E.read_spec(TWO_BLOCK_SPEC), 0),
                  datasets.load("digits"), iterations, 32, 0.01, "adam", 0, points)
    for messages in results:
        kinds = [k for k, _ in messages]
        assert kinds == ["start"] + ["point"] * points + ["end"], kinds
        assert messages[0][1] == alone.initial
        end = messages[-1][1]
        assert end["iterations_done"] == iterations and end["diverged_at"] is None
        assert json.dumps(end["history"]) == json.dumps(alone.history)
        assert all(np.array_equal(end["params"][k], alone.params[k]) for k in alone.params)
    assert len(ended) == 2 and all(e is not None for e in ended)


def test_a_stop_ends_the_run_at_its_next_chunk_and_the_runner_serves_again(pool: Runners) -> None:
    async def scenario() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        loop = asyncio.get_running_loop()
        run = Run(loop, lambda end: None)
        pool.get(0).start(Job(two_block_trainer(), 10_000, 100), run)
        seen = []
        async for message in run.events():
            seen.append(message)
            if len(seen) == 3:  # the start and two points
                run.stop()
        again = Run(loop, lambda end: None)
        pool.get(0).start(Job(two_block_trainer(), 20, 10), again)
        return seen, await collect(again)

    stopped, again = asyncio.run(scenario())
    end = stopped[-1]
    # Stopped: it neither did all 10,000 iterations nor diverged.
    assert end[0] == "end" and end[1]["diverged_at"] is None and end[1]["iterations_done"] <= 300
    pid = pool.pids()[0]
    spent = cpu_seconds(pid)
    time.sleep(0.3)
    assert cpu_seconds(pid) - spent < 0.05  # idle: it does not compute on
    assert [k for k, _ in again] == ["start", "point", "point", "end"] and again[-1][1]["iterations_done"] == 20


def test_a_killed_runner_is_reported_and_replaced(pool: Runners) -> None:
    ended: list[Any] = []

    async def scenario() -> list[tuple[str, Any]]:
        run = Run(asyncio.get_running_loop(), ended.append)
        runner = pool.get(0)
        runner.start(Job(two_block_trainer(), 10_000, 100), run)
        seen = []
        async for message in run.events():
            seen.append(message)
            if len(seen) == 2:
                os.kill(runner.process.pid, signal.SIGKILL)
        return seen

    first_pid = pool.pids()[0] if pool.pids() else None
    seen = asyncio.run(scenario())
    assert seen[-1] == ("lost", None) and ended == [None]
    replacement = pool.get(0)
    assert replacement.alive() and replacement.process.pid != first_pid


def test_a_stop_asked_as_the_run_starts_is_not_lost(pool: Runners) -> None:
    """Cancelled at once (the job may still be on its way to a runner that is starting): the run
    ends at its first chunk boundary, not after its 10,000 iterations."""
    async def scenario() -> list[tuple[str, Any]]:
        run = Run(asyncio.get_running_loop(), lambda end: None)
        pool.get(1).start(Job(two_block_trainer(), 10_000, 100), run)
        run.stop()
        return await collect(run)

    messages = asyncio.run(scenario())
    assert messages[-1][0] == "end" and messages[-1][1]["diverged_at"] is None
    assert messages[-1][1]["iterations_done"] <= 100, messages[-1][1]["iterations_done"]
