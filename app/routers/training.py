"""Datasets and training: GET /api/datasets, GET /api/datasets/{name}/samples, POST /api/train.

Training runs in worker threads, in chunks, so the event loop never blocks on NumPy; with
`stream: true` each chunk's history point goes out as an NDJSON line as soon as it exists,
and a client that disconnects (cancel) stops the run at the next chunk boundary, streamed or
not. Runs wait their turn in the machine's queue (app/train_queue.py): a streamed one says
where it stands in `queued` lines until it starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import compute
from app.arrays import encode, json_response
from app.body import json_body, openapi_body
from app.errors import ApiError
from app.schemas import SERVER_ERRORS, ErrorResponse, TrainRequest, TrainResponse
from app.settings import limits, settings
from app.train_queue import Place, QueueFull, TrainQueue, default_directory
from engine import datasets
from engine.train import DatasetMismatch, Trainer, eval_every, run_macs

router = APIRouter(prefix="/api", tags=["training"])
# Whether the client has gone (closed the stream or the page): a run waiting or running for
# nobody stops. A dependency, so the route still takes nothing from the request itself.
Gone = Callable[[], Awaitable[bool]]


async def client_gone(request: Request) -> Gone:
    return request.is_disconnected
_queue: TrainQueue | None = None


def queue() -> TrainQueue:
    """This server's queue, made on first use (in the worker, which knows its supervisor)."""
    global _queue
    if _queue is None:
        _queue = TrainQueue(default_directory(settings.train_queue_dir), settings.train_slots,
                            settings.train_queue_max)
    return _queue


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


def _chunk(trainer: Trainer, n: int) -> dict[str, Any] | None:
    """``n`` more steps and their history point; None once the run has diverged."""
    return trainer.evaluate() if trainer.run(n) else None


async def _points(trainer: Trainer, iterations: int, every: int,
                  gone: Gone | None = None) -> AsyncIterator[dict[str, Any]]:
    """The run chunk by chunk in the thread pool, each chunk's history point as it exists;
    with ``gone``, it stops before the next chunk once that client has gone."""
    while trainer.iteration < iterations:
        if gone is not None and await gone():
            return
        point = await run_in_threadpool(_chunk, trainer, min(every, iterations - trainer.iteration))
        if point is None:
            return
        yield point


def _result(trainer: Trainer, data: datasets.Dataset) -> dict[str, Any]:
    return {
        "status": "diverged" if trainer.diverged_at else "done",
        "iterations_done": trainer.iteration,
        "diverged_at": trainer.diverged_at,
        "params": trainer.params,
        "history": trainer.history,
        "dataset": data.meta(),
    }


def _join(cost: int) -> Place:
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

    def __init__(self, content: AsyncIterator[bytes], place: Place) -> None:
        super().__init__(content, media_type="application/x-ndjson")
        self.place = place

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            queue().leave(self.place, self.place.finished)


@router.post("/train", response_model=TrainResponse, openapi_extra=openapi_body(TrainRequest), responses={
    **SERVER_ERRORS,
    404: {"model": ErrorResponse, "description": "Unknown dataset."},
    429: {"model": ErrorResponse, "description": "The training queue is full (with Retry-After)."},
    422: {"model": ErrorResponse,
          "description": "Bad request, a dataset that does not fit the network, or too much work."}})
async def train(req: Annotated[TrainRequest, Depends(json_body(TrainRequest))],
                gone: Annotated[Gone, Depends(client_gone)]) -> Response:
    """Train on a dataset. `stream: false` waits its turn, then answers with {status, params, history};
    `stream: true` answers with NDJSON: `queued` lines ({position, ahead, estimate_s}, at least every
    few seconds) while it waits, a `start` line, a `progress` line per history point, then a `done` or
    `diverged` line carrying the same result. A run that diverges stops and returns its last finite
    parameters. Beyond the queue's bound: 429 with Retry-After."""
    trainer, every, data, cost = _prepare(req)
    place = _join(cost)
    if not req.stream:
        try:
            if not await _turn(place, gone):
                return Response(status_code=204)  # nobody is listening any more
            async for _ in _points(trainer, req.iterations, every, gone):
                pass
            place.finished = trainer.iteration == req.iterations
        finally:
            queue().leave(place, place.finished)
        return json_response(_result(trainer, data))

    async def events() -> AsyncIterator[bytes]:
        async for status in queue().wait(place, settings.train_queue_heartbeat_s):
            yield _line(status)
        yield _line({"type": "start", "iterations": req.iterations, "dataset": data.meta()})
        async for point in _points(trainer, req.iterations, every):
            yield _line({"type": "progress", "total": req.iterations, **point})
        place.finished = trainer.iteration == req.iterations
        result = _result(trainer, data)
        yield _line({"type": result["status"], **result})

    return _Queued(events(), place)


def _line(obj: dict[str, Any]) -> bytes:
    return encode(obj) + b"\n"
