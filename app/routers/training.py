"""Datasets and training: GET /api/datasets, GET /api/datasets/{name}/samples, POST /api/train.

Training runs in worker threads, in chunks, so the event loop never blocks on NumPy; with
`stream: true` each chunk's history point goes out as an NDJSON line as soon as it exists,
and a client that disconnects (cancel) stops the run at the next chunk boundary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import compute
from app.arrays import encode, json_response
from app.body import json_body, openapi_body
from app.errors import ApiError
from app.schemas import ErrorResponse, TrainRequest, TrainResponse
from app.settings import limits, settings
from engine import datasets
from engine.train import DatasetMismatch, Trainer, eval_every, run_macs

router = APIRouter(prefix="/api", tags=["training"])
_running = asyncio.Semaphore(settings.max_concurrent_trainings)


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


def _prepare(req: TrainRequest) -> tuple[Trainer, int, datasets.Dataset]:
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
    return trainer, eval_every(req.iterations, req.points), data


def _chunk(trainer: Trainer, n: int) -> dict[str, Any] | None:
    """``n`` more steps and their history point; None once the run has diverged."""
    return trainer.evaluate() if trainer.run(n) else None


async def _points(trainer: Trainer, iterations: int, every: int) -> AsyncIterator[dict[str, Any]]:
    """The run chunk by chunk in the thread pool, each chunk's history point as it exists."""
    while trainer.iteration < iterations:
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


async def _acquire() -> None:
    if _running.locked():
        raise ApiError(429, f"{settings.max_concurrent_trainings} training runs are in progress already; "
                            "try again when one finishes")
    await _running.acquire()


@router.post("/train", response_model=TrainResponse, openapi_extra=openapi_body(TrainRequest), responses={
    404: {"model": ErrorResponse, "description": "Unknown dataset."},
    429: {"model": ErrorResponse, "description": "Too many runs at once."},
    422: {"model": ErrorResponse,
          "description": "Bad request, a dataset that does not fit the network, or too much work."}})
async def train(req: Annotated[TrainRequest, Depends(json_body(TrainRequest))]) -> Response:
    """Train on a dataset. `stream: false` answers with {status, params, history}; `stream: true` answers with
    NDJSON: a `start` line, a `progress` line per history point, then a `done` or `diverged` line carrying the
    same result. A run that diverges stops and returns its last finite parameters."""
    trainer, every, data = _prepare(req)
    await _acquire()
    if not req.stream:
        try:
            async for _ in _points(trainer, req.iterations, every):
                pass
        finally:
            _running.release()
        return json_response(_result(trainer, data))

    async def events() -> AsyncIterator[bytes]:
        try:
            yield _line({"type": "start", "iterations": req.iterations, "dataset": data.meta()})
            async for point in _points(trainer, req.iterations, every):
                yield _line({"type": "progress", "total": req.iterations, **point})
            result = _result(trainer, data)
            yield _line({"type": result["status"], **result})
        finally:
            _running.release()  # also when the client cancels: the generator is closed

    return StreamingResponse(events(), media_type="application/x-ndjson")


def _line(obj: dict[str, Any]) -> bytes:
    return encode(obj) + b"\n"
