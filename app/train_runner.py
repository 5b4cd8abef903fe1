"""Training runs in runner processes: one per slot of the machine's queue, in each worker.

A run that computed in its worker's threads shared that worker's interpreter lock with the
worker's other run and with every request it serves: two runs that both landed in one worker
used about one core between them, and the steps it served waited behind them. A runner is a
process of its own, so the two slots' runs use both cores whichever workers hold them, and
it runs at a lower CPU priority (``nice``) than the workers, so a learner's step is served
first while the trainers use the rest.

A worker keeps one runner per slot, started when its first run joins the queue; the slot's
lock (app/train_queue.py) says which runner may compute, so at most ``slots`` runners work
at once on the whole machine. The worker sends the prepared :class:`engine.train.Trainer`
(the request already checked), the runner sends back each history point as it exists, then
the end of the run; a ``stop`` between two chunks ends a run early (the client went away).
The worker gives the slot back only once its runner has said the run ended, so a stopped run
never computes on while the next one starts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from engine.train import Trainer

# spawn, not fork: a worker has an event loop and threads, which a forked child would copy
# mid-flight; a spawned runner imports the engine afresh (once: it lives as long as its worker).
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class Job:
    trainer: Trainer
    iterations: int
    every: int


def _run(job: Job, commands: Connection, results: Connection) -> None:
    """One run: where it starts from (the accuracies before its first step), then each chunk's
    history point as it exists, then its end; a ``stop`` command ends it before its next chunk."""
    trainer = job.trainer
    results.send(("start", trainer.begin()))
    for point in trainer.points(job.iterations, job.every, lambda: commands.poll() and commands.recv() == "stop"):
        results.send(("point", point))
    results.send(("end", {"iterations_done": trainer.iteration, "diverged_at": trainer.diverged_at,
                          "params": trainer.params, "history": trainer.history}))


def serve(commands: Connection, results: Connection, nice: int) -> None:
    """A runner's life: run each job it is sent until its worker goes (the pipe closes)."""
    if nice:
        os.nice(nice)
    while True:
        try:
            job = commands.recv()
        except (EOFError, OSError):
            return
        if not isinstance(job, Job):
            continue  # a stop that arrived after its run had ended
        try:
            _run(job, commands, results)
        except (EOFError, BrokenPipeError, OSError):
            return  # the worker is gone
        except Exception as e:  # noqa: BLE001 - the run's failure is reported; the runner lives on
            results.send(("error", f"{type(e).__name__}: {e}"))


@dataclass
class Run:
    """A run handed to a runner: its messages arrive on the event loop it was started from."""

    loop: asyncio.AbstractEventLoop
    on_end: Callable[[dict[str, Any] | None], None]
    messages: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    ended: bool = False
    stop_asked: bool = False
    runner: Runner | None = None

    def _deliver(self, message: tuple[str, Any]) -> None:
        if message[0] in ("end", "error", "lost"):
            self.ended = True
            self.on_end(message[1] if message[0] == "end" else None)
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.messages.put_nowait, message)

    def stop(self) -> None:
        """Ask the runner to end the run after its current chunk (nothing if it has ended)."""
        self.stop_asked = True
        if not self.ended and self.runner is not None:
            self.runner.send("stop")

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """("start", the point before the first step), ("point", history point) per chunk, then
        one of ("end", result), ("error", text) or ("lost", None) (the runner process died)."""
        while True:
            message = await self.messages.get()
            yield message
            if message[0] not in ("start", "point"):
                return


class Runner:
    """One runner process, and the thread that reads what it says (so no message is lost when
    the request that waits for it is cancelled)."""

    def __init__(self, nice: int) -> None:
        command_end, self._commands = _CONTEXT.Pipe(duplex=False)
        self._results, result_end = _CONTEXT.Pipe(duplex=False)
        self.process = _CONTEXT.Process(target=serve, args=(command_end, result_end, nice), daemon=True,
                                        name="bpv-train-runner")
        self.process.start()
        command_end.close()
        result_end.close()
        self.send_lock = threading.Lock()
        self.current: Run | None = None
        self.lost = False
        threading.Thread(target=self._read, daemon=True, name="bpv-train-runner-reader").start()

    def alive(self) -> bool:
        return not self.lost and self.process.is_alive()

    def send(self, message: Any) -> None:
        """Blocks while the runner is still starting (its pipe is full): call it off the event loop
        for a job; a stop is a few bytes."""
        with self.send_lock:
            try:
                self._commands.send(message)
            except (BrokenPipeError, OSError):
                self.lost = True

    def _read(self) -> None:
        while True:
            try:
                message = self._results.recv()
            except (EOFError, OSError):
                message = ("lost", None)
                self.lost = True
            run = self.current
            if message[0] not in ("start", "point"):
                self.current = None
            if run is not None:
                run._deliver(message)
            if self.lost:
                return

    def start(self, job: Job, run: Run) -> None:
        """Hand the run to this runner. Not a coroutine, so no cancellation can come between the
        run becoming the runner's and the job being on its way: the job is sent from a thread
        (it blocks while a new runner is still starting)."""
        run.runner, self.current = self, run
        threading.Thread(target=self._send_job, args=(job, run), daemon=True, name="bpv-train-send").start()

    def _send_job(self, job: Job, run: Run) -> None:
        self.send(job)
        if run.stop_asked:  # asked before the job was sent: that stop reached an idle runner
            self.send("stop")
        if self.lost and not run.ended and self.current is run:
            self.current = None
            run._deliver(("lost", None))


class Runners:
    """This worker's runners, one per slot."""

    def __init__(self, slots: int, nice: int) -> None:
        self.slots, self.nice = slots, nice
        self.lock = threading.Lock()
        self.by_slot: dict[int, Runner] = {}

    def warm(self) -> None:
        """Start every slot's runner not running yet (a spawned process needs a moment to import
        the engine; started as its worker's first run joins the queue, it is ready by its turn)."""
        for slot in range(self.slots):
            self.get(slot)

    def get(self, slot: int) -> Runner:
        with self.lock:
            runner = self.by_slot.get(slot)
            if runner is None or not runner.alive():
                runner = self.by_slot[slot] = Runner(self.nice)
            return runner

    def close(self) -> None:
        """End every runner (their worker is shutting down; a runner also ends by itself when its
        worker's pipe closes, e.g. when the worker is killed)."""
        with self.lock:
            runners, self.by_slot = list(self.by_slot.values()), {}
        for runner in runners:
            runner.process.terminate()
            runner.process.join(5)

    def pids(self) -> list[int]:
        with self.lock:
            return [r.process.pid for r in self.by_slot.values() if r.process.pid is not None]
