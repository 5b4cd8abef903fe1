"""How long explanations take: 1,000 random cells of the two-block network from one record
(in process), and POST /api/explain on the seed network through the ASGI app.

Run: python bench/explain.py (the figures go in the README)."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import init_params, read_spec, train_step  # noqa: E402
from engine.explain import Explainer  # noqa: E402

TWO_BLOCK = {"input_shape": [1, 8, 8], "layers": [
    {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10},
    {"type": "softmax"}], "loss": "cross_entropy"}


def cells(ex: Explainer, count: int, rng: np.random.Generator) -> list[tuple[str, list[int]]]:
    names = [n for n in ex.producers if n != "L"]
    picks = []
    for _ in range(count):
        name = names[rng.integers(len(names))]
        shape = ex.arrays[name].shape
        picks.append((name, [int(rng.integers(s)) for s in shape]))
    return picks


def in_process(rounds: int = 7) -> list[float]:
    net = read_spec(TWO_BLOCK)
    params = init_params(net, 0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 8, 8))
    step = train_step(net, params, x, np.array([3]), 0.1)
    times = []
    for r in range(rounds):
        picks = cells(Explainer(step, params, 0.1), 1000, np.random.default_rng(r))
        t = time.perf_counter()
        ex = Explainer(step, params, 0.1)
        for name, idx in picks:
            ex.explain(name, idx)
        times.append(time.perf_counter() - t)
    return times


def over_http(count: int = 200) -> list[float]:
    import httpx

    from app.main import app

    async def run() -> list[float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            params = (await client.post("/api/init", json={"seed": 0})).json()["params"]
            body = {"params": params, "input": np.eye(6).tolist(), "label": 1, "learning_rate": 0.1,
                    "array": "dW1", "index": [0, 0, 1, 2]}
            out = []
            for _ in range(count):
                t = time.perf_counter()
                r = await client.post("/api/explain", json=body)
                out.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            return out

    import asyncio

    return asyncio.run(run())


if __name__ == "__main__":
    t = in_process()
    print(f"1,000 random cells of the two-block network from one record: min {min(t) * 1e3:.0f} ms, "
          f"median {statistics.median(t) * 1e3:.0f} ms")
    if "--no-http" not in sys.argv:
        h = over_http()
        print(f"POST /api/explain (seed network, dW1[0,0,1,2], ASGI in process): median "
              f"{statistics.median(h) * 1e3:.2f} ms, p95 {sorted(h)[int(len(h) * 0.95)] * 1e3:.2f} ms")
