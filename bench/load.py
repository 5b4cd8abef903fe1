"""Loopback load test: the production command (uvicorn --workers N) under C concurrent clients
stepping the seed network for T seconds. Every answer is checked against the engine's own
answer for its request; errors, requests/s and p50/p99 latency are reported.

Run: python bench/load.py [--workers 2] [--clients 50] [--seconds 30]. Traffic goes to
127.0.0.1 only; the run is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine as E  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_command(port: int, workers: int) -> list[str]:
    """The command the README documents for production, on a loopback port."""
    return [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "30"]


def make_requests(n: int, seed: int = 0) -> list[dict]:
    net = E.read_spec()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        params = {k: v.tolist() for k, v in E.init_params(net, i).items()}
        out.append({"params": params, "input": rng.random((6, 6)).round(3).tolist(), "label": int(rng.integers(0, 2)),
                    "learning_rate": float(rng.choice([0.01, 0.1, 0.5, 1.0]))})
    return out


def expected(req: dict) -> dict:
    net = E.read_spec()
    params = E.check_params(net, req["params"])
    x = E.check_input(net, req["input"])
    y = E.check_labels(net, req["label"], 1)
    step = E.train_step(net, params, x, y, req["learning_rate"])
    return {"loss": step.record.loss, "loss_after": step.loss_after,
            "params": {k: v.tolist() for k, v in step.params.items()}}


async def run(port: int, clients: int, seconds: float, requests: list[dict]) -> tuple[list, list, list]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    answers: list[tuple[int, dict]] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
        async def worker(w: int) -> None:
            rnd = random.Random(w)
            while time.perf_counter() < deadline:
                i = rnd.randrange(len(requests))
                t = time.perf_counter()
                try:
                    r = await client.post("/api/step", json=requests[i])
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
                body = r.json()
                answers.append((i, {"loss": body["loss"], "loss_after": body["loss_after"], "params": body["params"]}))

        await asyncio.gather(*(worker(w) for w in range(clients)))
    return latencies, errors, answers


def wait_ready(port: int, timeout: float = 30.0) -> None:
    import httpx

    end = time.time() + timeout
    while time.time() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def load_test(workers: int, clients: int, seconds: float) -> dict:
    port = free_port()
    server = subprocess.Popen(production_command(port, workers), cwd=ROOT, env={**os.environ})
    try:
        wait_ready(port)
        requests = make_requests(200)
        start = time.perf_counter()
        latencies, errors, answers = asyncio.run(run(port, clients, seconds, requests))
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(15)
    truth = {}
    wrong = 0
    for i, got in answers:
        if i not in truth:
            truth[i] = expected(requests[i])
        if json.dumps(got) != json.dumps(truth[i]):  # bit-for-bit: the same float64 work
            wrong += 1
    lat = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {"workers": workers, "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1), "errors": len(errors), "wrong_answers": wrong,
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "first_errors": errors[:3]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    result = load_test(args.workers, args.clients, min(args.seconds, 300.0))
    print(json.dumps(result, indent=1))
    sys.exit(0 if result["errors"] == 0 and result["wrong_answers"] == 0 else 1)


if __name__ == "__main__":
    main()
