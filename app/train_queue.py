"""The machine's training queue: first come, first served, shared by every worker of a server.

The workers share one listening socket and the kernel picks which one accepts a connection,
so a queue per worker could leave a core idle while another worker has a backlog. The queue
lives in a directory the workers share instead:

- ``slot-<i>``: one file per slot; a running run holds an exclusive ``flock`` on one. The kernel
  drops the lock when its process dies, so a killed worker never keeps a slot.
- ``state.json``: under its own ``flock``, the ticket counter, the waiting tickets (ticket, pid,
  cost) in order, the running runs (slot, pid, cost, start time), the workers that have used
  the queue, and the measured rate in multiply-adds per second of one run. Entries of a dead
  process, and running entries whose slot is not locked, are dropped at every look.

Each process polls the state every ``POLL_S`` while it has waiters (and at once when one joins
or leaves) and starts its waiters when it is their turn: first come, first served, whichever
worker holds them (a run computes in its slot's runner process, app/train_runner.py, not in
its worker, so two runs held by one worker still use two cores). Estimates come from the
runs' own cost (``run_macs``) divided by the rate measured on the runs this server finished.
"""

from __future__ import annotations

import asyncio
import fcntl
import heapq
import json
import math
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLL_S = 0.05
# Multiply-adds per second of one run until this server has finished a run and measured its own.
ASSUMED_RATE = 5e8


class QueueFull(Exception):
    def __init__(self, waiting: int, retry_after_s: int) -> None:
        super().__init__(f"{waiting} runs are waiting already")
        self.waiting = waiting
        self.retry_after_s = retry_after_s


@dataclass
class Place:
    """One run's place: waiting (``slot`` None) or running (holding ``slot``'s lock)."""

    ticket: int
    macs: float
    loop: asyncio.AbstractEventLoop
    position: int = 0
    estimate_s: float = 0.0
    slot: int | None = None
    fd: int | None = None
    started_at: float = 0.0
    finished: bool = False  # ran to its end, so its time measures the rate
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> dict[str, Any]:
        return {"type": "queued", "position": self.position, "ahead": self.position - 1,
                "estimate_s": round(self.estimate_s, 1)}


def default_directory(root: str = "") -> Path:
    """The directory the workers of this server share: ``root`` if given, else one named after
    the server's supervisor process (uvicorn --workers spawns the workers with multiprocessing)
    or, for a single process, after this process."""
    if root:
        return Path(root)
    parent = multiprocessing.parent_process()
    server_pid = parent.pid if parent is not None and parent.pid is not None else os.getpid()
    return Path(tempfile.gettempdir()) / f"bpv-train-queue-{os.getuid()}-{server_pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainQueue:
    def __init__(self, directory: Path, slots: int, bound: int) -> None:
        self.dir = directory
        self.slots = slots
        self.bound = bound
        self.pid = os.getpid()
        self.local: dict[int, Place] = {}
        # The local places and the one open state file (a test may run uvicorn in a thread of this process).
        self.lock = threading.Lock()
        self.pollers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.dir.stat().st_uid != os.getuid():
            raise RuntimeError(f"{self.dir} belongs to another user: set BPV_TRAIN_QUEUE_DIR")
        self.state_fd = os.open(self.dir / "state.json", os.O_RDWR | os.O_CREAT, 0o600)
        self.probes = [os.open(self.dir / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600) for i in range(slots)]

    # ------------------------------------------------------------------ the shared state
    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """The shared state, locked against this process's other threads and every other
        process, and written back if it changed. One open file for the whole process: each
        system call here lets a training thread take the interpreter lock for up to its
        switch interval, so a look at the queue makes as few as it can."""
        with self.lock:
            fcntl.flock(self.state_fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(self.state_fd, 1 << 20, 0)
                state = json.loads(raw) if raw else {}
                for key, default in (("next", 1), ("rate", ASSUMED_RATE), ("waiting", []), ("running", []),
                                     ("workers", [])):
                    state.setdefault(key, default)
                yield state
                data = json.dumps(state).encode()
                if data != raw:
                    os.ftruncate(self.state_fd, 0)
                    os.pwrite(self.state_fd, data, 0)
            finally:
                fcntl.flock(self.state_fd, fcntl.LOCK_UN)

    def _slot_held(self, slot: int) -> bool:
        """Whether a run holds the slot's lock (any process's, this one's included: a lock is
        per open file, and the probe is a file of its own)."""
        probe = self.probes[slot]
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False

    def _purge(self, state: dict[str, Any]) -> None:
        mine = self.local.keys()
        alive = {pid: pid == self.pid or _alive(pid) for pid in {w[1] for w in state["waiting"]} | {*state["workers"]}}
        state["waiting"] = [w for w in state["waiting"] if (w[0] in mine if w[1] == self.pid else alive[w[1]])]
        state["running"] = [r for r in state["running"] if r[0] < self.slots and self._slot_held(r[0])]
        state["workers"] = [pid for pid in state["workers"] if alive[pid]]

    def _schedule(self, state: dict[str, Any], now: float) -> list[float]:
        """When each waiting run would start (seconds from now), slots taken in turn."""
        rate = state["rate"]
        free_at = [max(0.0, r[2] / rate - (now - r[3])) for r in state["running"]]
        free_at += [0.0] * (self.slots - len(free_at))
        heapq.heapify(free_at)
        starts = []
        for w in state["waiting"]:
            t = heapq.heappop(free_at)
            starts.append(t)
            heapq.heappush(free_at, t + w[2] / rate)
        return starts

    def _round(self, join: Place | None = None) -> None:
        """One look at the queue: join, start the local waiters whose turn it is, update the rest."""
        with self._state() as state:
            self._purge(state)
            if join is not None:
                if len(state["waiting"]) >= self.bound:
                    first = min(self._schedule(state, time.time())[:1] or [1.0])
                    raise QueueFull(len(state["waiting"]), max(1, min(60, math.ceil(first))))
                if self.pid not in state["workers"]:
                    state["workers"].append(self.pid)
                join.ticket = state["next"]
                state["next"] += 1
                state["waiting"].append([join.ticket, self.pid, join.macs])
                self.local[join.ticket] = join
            self._start_turns(state)
            for i, (w, start) in enumerate(zip(state["waiting"], self._schedule(state, time.time()))):
                place = self.local.get(w[0]) if w[1] == self.pid else None
                if place is not None:
                    moved = place.position != i + 1
                    place.position, place.estimate_s = i + 1, start
                    if moved:  # a new line for a new place; the heartbeat carries the estimate
                        place.loop.call_soon_threadsafe(place.changed.set)

    def _start_turns(self, state: dict[str, Any]) -> None:
        taken = {r[0] for r in state["running"]}
        free = [s for s in range(self.slots) if s not in taken]
        while free and state["waiting"]:
            w = state["waiting"][0]
            place = self.local.get(w[0]) if w[1] == self.pid else None
            if place is None:
                return  # another worker's turn: it starts it at its next look
            slot = free.pop(0)
            fd = os.open(self.dir / f"slot-{slot}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # not free after all: held by a run not (yet) in the state
                os.close(fd)
                continue
            place.slot, place.fd, place.started_at, place.position = slot, fd, time.time(), 0
            state["waiting"].remove(w)
            state["running"].append([slot, self.pid, place.macs, place.started_at])
            place.loop.call_soon_threadsafe(place.changed.set)

    # ------------------------------------------------------------------ the polling task
    def _ensure_poller(self, loop: asyncio.AbstractEventLoop) -> None:
        task = self.pollers.get(loop)
        if task is None or task.done():
            self.pollers[loop] = loop.create_task(self._poll(loop))

    async def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            with self.lock:
                waiting = any(p.slot is None and p.loop is loop for p in self.local.values())
            if not waiting:
                self.pollers.pop(loop, None)
                return
            self._round()

    # ------------------------------------------------------------------ a run's place
    def join(self, macs: float) -> Place:
        """A place at the end of the queue (started at once if a slot is free and nobody waits);
        raises QueueFull beyond the bound."""
        loop = asyncio.get_running_loop()
        place = Place(ticket=0, macs=float(macs), loop=loop)
        self._round(join=place)
        self._ensure_poller(loop)
        return place

    async def wait(self, place: Place, heartbeat_s: float, min_gap_s: float = 1.0) -> AsyncIterator[dict[str, Any]]:
        """The place's queued status at least every ``heartbeat_s``, and when it moves up (at
        most every ``min_gap_s``: with short runs every waiter moves at every start, and a line
        each time would keep the workers busy writing them), until it starts (at once; nothing
        at all if it started at once)."""
        loop = asyncio.get_running_loop()
        while place.slot is None:
            yield place.status()
            sent = loop.time()
            moved = False
            while place.slot is None:
                now = loop.time()
                until = min(sent + heartbeat_s, sent + min_gap_s if moved else math.inf)
                if now >= until:
                    break
                place.changed.clear()
                try:
                    await asyncio.wait_for(place.changed.wait(), until - now)
                    moved = True
                except TimeoutError:
                    pass

    def leave(self, place: Place, finished: bool = False) -> None:
        """Leave the queue or give back the slot (at once: a cancelled waiter frees its place).
        A finished run's measured rate updates the estimates."""
        with self._state() as state:
            self.local.pop(place.ticket, None)
            state["waiting"] = [w for w in state["waiting"] if not (w[0] == place.ticket and w[1] == self.pid)]
            if place.slot is not None:
                state["running"] = [r for r in state["running"] if not (r[0] == place.slot and r[1] == self.pid)]
                elapsed = time.time() - place.started_at
                if finished and elapsed > 0.05:
                    state["rate"] = 0.7 * state["rate"] + 0.3 * place.macs / elapsed
                if place.fd is not None:
                    os.close(place.fd)
                place.slot = place.fd = None
        self._round()  # the next in line may start now

    def snapshot(self) -> dict[str, Any]:
        """The shared state as it is now (for tests and the health of the queue)."""
        with self._state() as state:
            self._purge(state)
            return {"waiting": len(state["waiting"]), "running": len(state["running"]), "rate": state["rate"]}
