"""Datasets and training: GET /api/datasets, GET /api/datasets/{name}/samples, POST /api/train.

Runs wait their turn in the machine's queue (app/train_queue.py): a streamed one says where it
stands in `queued` lines until it starts. A run computes in the runner process of the slot it
holds (app/train_runner.py), in chunks; with `stream: true` each chunk's history point goes
out as an NDJSON line as soon as it exists, and a client that disconnects (cancel) stops the
run at the next chunk boundary, streamed or not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from app import compute
from app.arrays import encode, json_response
from app.body import json_body, openapi_body
from app.errors import ApiError
from app.schemas import SERVER_ERRORS, ErrorResponse, TrainRequest, TrainResponse
from app.settings import limits, settings
from app.train_queue import Place, QueueFull, TrainQueue, default_directory
from app.train_runner import Job, Run, Runners
from engine import datasets
from engine.train import DatasetMismatch, Trainer, eval_every, run_macs

router = APIRouter(prefix="/api", tags=["training"])
# Whether the client has gone (closed the stream or the page): a run waiting or running for
# nobody stops. A dependency, so the route still takes nothing from the request itself.
Gone = Callable[[], Awaitable[bool]]


async def client_gone(request: Request) -> Gone:
    return request.is_disconnected
_queue: TrainQueue | None = None
_runners: Runners | None = None


def queue() -> TrainQueue:
    """This server's queue, made on first use (in the worker, which knows its supervisor)."""
    global _queue
    if _queue is None:
        _queue = TrainQueue(default_directory(settings.train_queue_dir), settings.train_slots,
                            settings.train_queue_max)
    return _queue


def runners() -> Runners:
    """This worker's runner processes, one per slot, started when its first run joins the queue."""
    global _runners
    if _runners is None:
        _runners = Runners(settings.train_slots, settings.train_nice)
    return _runners


def dataset(name: str, classes: list[int] | None = None) -> datasets.Dataset:
    try:
        data = datasets.load(name)
    except KeyError:
        raise ApiError(404, f"no dataset named {name!r}; available: {', '.join(datasets.NAMES)}") from None
    if classes is not None:
        k = len(data.classes)
        if len(set(classes)) != len(classes) or not all(0 <= c < k for c in classes):
            raise ApiError(422, f"classes must be distinct class indices from 0 to {k - 1} of {name}, got {classes}")
        data = data.select(classes)
    return data


@router.get("/datasets")
async def list_datasets() -> Response:
    """The shipped datasets: name, description, input shape, classes, split sizes, licence and source."""
    return json_response({"datasets": [datasets.load(n).meta() for n in datasets.NAMES]})


@router.get("/datasets/{name}/samples", responses={
    404: {"model": ErrorResponse, "description": "Unknown dataset."},
    422: {"model": ErrorResponse, "description": "A bad split, offset, count or classes."}})
async def samples(
    name: str,
    split: Annotated[str, Query(pattern="^(train|test)$")] = "test",
    offset: Annotated[int, Query(ge=0)] = 0,
    count: Annotated[int, Query(ge=1, le=settings.max_samples)] = 12,
    classes: Annotated[str | None, Query(description="Comma-separated class indices, e.g. 3,8.")] = None,
) -> Response:
    """Examples to use as the `input`, with their labels (relabelled if `classes` is given)."""
    picked = _parse_classes(classes)
    data = dataset(name, picked)
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    rows = range(offset, min(offset + count, len(y)))
    return json_response({
        "dataset": data.name, "split": split, "total": len(y), "classes": list(data.classes),
        "samples": [{"index": i, "input": x[i].tolist(), "label": int(y[i]), "class_name": data.classes[int(y[i])]}
                    for i in rows],
    })


def _parse_classes(text: str | None) -> list[int] | None:
    if text is None or text == "":
        return None
    try:
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise ApiError(422, f"classes must be comma-separated integers, got {text!r}") from None


def _prepare(req: TrainRequest) -> tuple[Trainer, int, datasets.Dataset, int]:
    net = compute.network(req.network)
    params = compute.params(net, req.params)
    data = dataset(req.dataset, req.classes)
    batch_bytes = net.example_bytes * min(req.batch_size, len(data.y_train))
    if batch_bytes > limits.MAX_BATCH_BYTES:
        raise ApiError(422, f"a batch of {req.batch_size} needs about {batch_bytes / 2**20:.0f} MiB with this network; "
                            f"at most {limits.MAX_BATCH_BYTES // 2**20} MiB are allowed: use a smaller batch")
    cost = run_macs(net, data, req.iterations, req.batch_size, req.points)
    if cost > settings.max_train_macs:
        raise ApiError(422, f"this run needs about {cost:.2e} multiply-adds; at most {settings.max_train_macs:.0e} "
                            "are allowed per request: use fewer iterations, a smaller batch or a smaller network")
    try:
        trainer = Trainer(net, params, data, req.batch_size, req.learning_rate, req.optimizer, req.seed)
    except DatasetMismatch as e:
        raise ApiError(422, str(e)) from None
    return trainer, eval_every(req.iterations, req.points), data, cost


def _result(end: dict[str, Any], data: datasets.Dataset, initial: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "initial": initial,
        "status": "diverged" if end["diverged_at"] else "done",
        "iterations_done": end["iterations_done"],
        "diverged_at": end["diverged_at"],
        "params": end["params"],
        "history": end["history"],
        "dataset": data.meta(),
    }


LOST = "the training process stopped unexpectedly; train again"


def _start(place: Place, trainer: Trainer, iterations: int, every: int) -> Run:
    """Hand the run to the runner of the slot the place holds; the slot is given back when the
    runner says the run ended (however it ends), not before."""
    def ended(end: dict[str, Any] | None) -> None:
        place.finished = end is not None and end["iterations_done"] == iterations
        queue().leave(place, place.finished)

    assert place.slot is not None
    run = Run(asyncio.get_running_loop(), ended)
    runners().get(place.slot).start(Job(trainer, iterations, every), run)
    return run


def _join(cost: int) -> Place:
    runners().warm()
    try:
        return queue().join(cost)
    except QueueFull as e:
        raise ApiError(429, f"the training queue is full ({e.waiting} runs are waiting for "
                            f"{settings.train_slots} at a time); retry in {e.retry_after_s} s",
                       headers={"Retry-After": str(e.retry_after_s)}) from None


async def _turn(place: Place, gone: Gone) -> bool:
    """Wait for the place's turn; False if the client went away first."""
    async for _ in queue().wait(place, 0.25):  # a quarter second: how soon a gone client is noticed
        if await gone():
            return False
    return True


class _Queued(StreamingResponse):
    """A stream that gives its place back however it ends, even cancelled before its first line."""

    def __init__(self, place: Place) -> None:
        super().__init__(iter(()), media_type="application/x-ndjson")
        self.place = place
        self.run: Run | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            _release(self.place, self.run)


@router.post("/train", response_model=TrainResponse, openapi_extra=openapi_body(TrainRequest), responses={
    **SERVER_ERRORS,
    404: {"model": ErrorResponse, "description": "Unknown dataset."},
    429: {"model": ErrorResponse, "description": "The training queue is full (with Retry-After)."},
    422: {"model": ErrorResponse,
          "description": "Bad request, a dataset that does not fit the network, or too much work."}})
async def train(req: Annotated[TrainRequest, Depends(json_body(TrainRequest))],
                gone: Annotated[Gone, Depends(client_gone)]) -> Response:
    """Train on a dataset. `stream: false` waits its turn, then answers with {status, initial, params,
    history}; `stream: true` answers with NDJSON: `queued` lines ({position, ahead, estimate_s}, at least
    every few seconds) while it waits, a `start` line (with `initial`: the accuracies before the first
    step), a `progress` line per history point, then a `done` or `diverged` line carrying the same result
    (or, if the training process failed, an `error` line with its `detail`). A run that diverges stops
    and returns its last finite parameters. Beyond the queue's bound: 429 with Retry-After."""
    trainer, every, data, cost = _prepare(req)
    place = _join(cost)
    if not req.stream:
        return await _train_whole(req, trainer, every, data, place, gone)

    response = _Queued(place)

    async def events() -> AsyncIterator[bytes]:
        async for status in queue().wait(place, settings.train_queue_heartbeat_s):
            yield _line(status)
        response.run = run = _start(place, trainer, req.iterations, every)
        initial = None
        async for kind, value in run.events():
            if kind == "start":
                initial = value
                yield _line({"type": "start", "iterations": req.iterations, "dataset": data.meta(), "initial": value})
            elif kind == "point":
                yield _line({"type": "progress", "total": req.iterations, **value})
            elif kind == "end":
                result = _result(value, data, initial)
                yield _line({"type": result["status"], **result})
            else:
                yield _line({"type": "error", "detail": value if kind == "error" else LOST})

    response.body_iterator = events()
    return response


async def _train_whole(req: TrainRequest, trainer: Trainer, every: int, data: datasets.Dataset, place: Place,
                       gone: Gone) -> Response:
    """A run answered at its end (``stream: false``); stopped early if its client goes away."""
    run: Run | None = None
    try:
        if not await _turn(place, gone):
            return Response(status_code=204)  # nobody is listening any more
        run = _start(place, trainer, req.iterations, every)
        initial = None
        async for kind, value in run.events():
            if kind == "start":
                initial = value
            elif kind == "point" and await gone():
                run.stop()
            elif kind == "end":
                return json_response(_result(value, data, initial))
            elif kind != "point":
                raise ApiError(503, value if kind == "error" else LOST)
        raise AssertionError("a run's events end with its end")  # pragma: no cover
    finally:
        _release(place, run)


def _release(place: Place, run: Run | None) -> None:
    """However a request ends: a run not started gives its place (or slot) back at once; a
    started one is stopped, and gives its slot back when its runner says it has ended."""
    if run is None:
        queue().leave(place)
    else:
        run.stop()


def _line(obj: dict[str, Any]) -> bytes:
    return encode(obj) + b"\n"
