"""Benchmarks, side by side in one run, reported as ratios (numbers go in the README).

1. Engine forward+backward+update on the seed network vs PyTorch CPU eager, float64.
2. A 28x28 input, 8 filters of 3x3, batch 32: engine vs PyTorch, same step.
3. The grid (bench/grid.py): every served size of one network family, engine vs PyTorch,
   printed as a table and drawn to docs/bench.svg.
4. The README's two-block digits training run, and the peak memory of the largest training
   batch the limits allow.
5. /api/step on the seed network vs the same server's /api/health, keep-alive loopback, with
   the floor beside them: the same body in and the same bytes out with no work (floor_app.py).

Run: python bench/bench.py [--quick] [--wall] [--no-http | --only http]. PyTorch is optional (parts 1-3 need it).
Engine timings are the minimum of interleaved rounds (engine, torch, engine, ...), in CPU
time of this process (time.process_time) unless --wall: on a shared machine a process that
waits for a core is not charged for the wait, so the minima are those of the work itself.
HTTP timings are wall-clock medians (client and server are two processes). Both sides run
one thread (the server runs one worker per core with single-threaded BLAS), so the ratios
are per core.
"""

from __future__ import annotations

import os

# Before NumPy (and torch) load: one thread each, per core as the server runs.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine as E  # noqa: E402

MNIST_LIKE = {
    "input_shape": [1, 28, 28],
    "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 10},
        {"type": "softmax"},
    ],
    "loss": "cross_entropy",
}


TIMER: Callable[[], float] = time.process_time


def best(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Seconds per call: the minimum over repeats (the least disturbed run)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat, timer=TIMER)) / number


def engine_step(net: E.Network, params: dict, x: np.ndarray, y: np.ndarray, full: bool) -> Callable[[], object]:
    def run() -> object:
        rec = E.forward(net, params, x, y)
        E.backward(rec, full=full)
        return E.sgd_update(params, rec.gradients, 0.1)
    return run


def torch_step(spec: dict, params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    import torch
    import torch.nn.functional as F

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x)
    ty = torch.tensor(y if spec["loss"] == "cross_entropy" else y.reshape(-1, 1))
    if spec["loss"] == "cross_entropy":
        ty = ty.long()

    def run() -> object:
        for v in tp.values():
            v.grad = None
        h = F.conv2d(tx, tp["W1"], tp["b1"])
        h = F.max_pool2d(torch.relu(h), 2)
        z = F.linear(torch.flatten(h, 1), tp["W2"], tp["b2"])
        if spec["loss"] == "bce":
            loss = F.binary_cross_entropy_with_logits(z, ty)
        else:
            loss = F.cross_entropy(z, ty)
        loss.backward()
        with torch.no_grad():
            for v in tp.values():
                v -= 0.1 * v.grad
        return loss
    return run


def compare(name: str, spec: dict, n: int, number: int, repeat: int, rounds: int) -> None:
    net = E.read_spec(spec)
    params = E.init_params(net, 0)
    rng = np.random.default_rng(0)
    x = rng.random((n, *net.input_shape))
    y = rng.integers(0, net.output_units if net.loss == "cross_entropy" else 2, size=n).astype(np.float64)
    if net.loss == "cross_entropy":
        y = y.astype(np.int64)
    train = engine_step(net, params, x, y, full=False)
    record = engine_step(net, params, x, y, full=True)
    try:
        import torch
        torch.set_default_dtype(torch.float64)
        torch.set_num_threads(1)
        ref = torch_step(spec, params, x, y)
    except ImportError:
        ref = None
    ours, full, theirs = [], [], []
    for _ in range(rounds):  # interleaved, so drift on the machine hits both alike
        ours.append(best(train, number, repeat))
        if ref is not None:
            theirs.append(best(ref, number, repeat))
        full.append(best(record, number, repeat))
    o, f = min(ours), min(full)
    line = f"{name}: engine {o * 1e6:8.1f} us (with dX and dA for display: {f * 1e6:.1f} us)"
    if theirs:
        # Headline: the ratio of the minima (each side's least disturbed timing). This VM's
        # speed drifts within seconds, so the per-round ratios are printed as a range too.
        ratios = sorted(t / e for t, e in zip(theirs, ours))
        line += (f" | torch {min(theirs) * 1e6:8.1f} us | torch/engine = {min(theirs) / o:.2f}x "
                 f"(per-round ratios {ratios[0]:.2f}-{ratios[-1]:.2f}, median {statistics.median(ratios):.2f})")
    print(line, flush=True)


def step_body() -> bytes:
    """The benchmark's /api/step request: the seed network at seed 0, the seed's bar image."""
    params = {k: v.tolist() for k, v in E.init_params(E.read_spec(), 0).items()}
    return json.dumps({"params": params, "input": [[0, 0, 1, 1, 0, 0]] * 6, "label": 1,
                       "learning_rate": 0.1}).encode()


def http(requests: int) -> None:
    """/api/health, /bench/floor (bench/floor_app.py) and /api/step, interleaved over one
    keep-alive connection with http.client (what requests and urllib use)."""
    import http.client

    from bench.load import free_port, wait_ready

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port),
                               "--log-level", "warning", "--no-access-log"], cwd=ROOT)
    try:
        wait_ready(port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"content-type": "application/json"}

        def call(method: str, path: str, body: bytes | None = None) -> bytes:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200, data[:200]
            return data

        body = step_body()
        cases = {"health": ("GET", "/api/health", None), "floor": ("POST", "/bench/floor", body),
                 "engine": ("POST", "/bench/engine", body), "bare": ("POST", "/bench/bare", body),
                 "step": ("POST", "/api/step", body)}
        # The floor and the bare step answer the step's very bytes.
        assert call(*cases["floor"]) == call(*cases["step"]) == call(*cases["bare"])
        times: dict[str, list[float]] = {name: [] for name in cases}
        for i in range(200 + requests):  # the first 200 warm up
            for name, args in cases.items():
                t = time.perf_counter()
                call(*args)
                if i >= 200:
                    times[name].append(time.perf_counter() - t)
        h, f, e, b, s = (statistics.median(times[name]) for name in cases)
        print(f"HTTP keep-alive: /api/health median {h * 1e6:.0f} us | /api/step median {s * 1e6:.0f} us | "
              f"step/health = {s / h:.2f}x", flush=True)
        print(f"  floor (same body in, same bytes out, no work) {f * 1e6:.0f} us = {f / h:.2f}x health | "
              f"floor + the engine's step alone {e * 1e6:.0f} us = {e / h:.2f}x health", flush=True)
        print(f"  against the floor: step {s / f:.2f}x, floor + engine {e / f:.2f}x | the step's own work costs "
              f"{(s - f) * 1e6:.0f} us: the engine {(e - f) * 1e6:.0f} us ({(e - f) / f:.0%} of the floor), "
              f"the rest {(s - e) * 1e6:.0f} us ({(s - e) / f:.0%} of the floor)", flush=True)
        print(f"  the bare step (a Starlette route, no validation, the same engine work and bytes) {b * 1e6:.0f} us = "
              f"{b / f:.2f}x the floor: the least this stack's step could cost", flush=True)
    finally:
        server.terminate()
        server.wait(10)


def training(rounds: int) -> None:
    """The README's digits run (the page's two-block preset, Adam 0.01, batch 32, 600
    iterations, 10 history points as tests/engine/test_training.py runs it): minimum of rounds."""
    from bench.grid import TWO_BLOCK_DIGITS
    from engine.datasets import load
    from engine.train import train

    net, data = E.read_spec(TWO_BLOCK_DIGITS), load("digits")
    times, acc = [], 0.0
    for _ in range(rounds):
        t = TIMER()
        run = train(net, E.init_params(net, 0), data, iterations=600, batch_size=32, learning_rate=0.01,
                    optimizer="adam", seed=0, points=10)
        times.append(TIMER() - t)
        acc = run.history[-1]["test_accuracy"]
    print(f"training: two-block digits, 600 iterations of batch 32: {min(times):.3f} s (min of {rounds}; "
          f"test accuracy {acc:.1%})", flush=True)


def memory() -> None:
    """Peak memory (tracemalloc, which NumPy reports its buffers to) of one training step of
    the largest training batch the limits allow, for the largest grid network, beside the
    engine's own estimate of it (example_bytes x batch, which the API bounds by MAX_BATCH_BYTES)."""
    import tracemalloc

    from bench.grid import grid_spec
    from engine.limits import MAX_BATCH_BYTES
    from engine.optim import make

    net = E.read_spec(grid_spec(64, 3, 16, 2))
    n = min(256, MAX_BATCH_BYTES // net.example_bytes)  # 256: the API's largest batch_size
    params = E.init_params(net, 0)
    rng = np.random.default_rng(0)
    x, y = rng.random((n, *net.input_shape)), rng.integers(0, 10, size=n)
    opt = make("adam", 0.01)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rec = E.forward(net, params, x, y)
    E.backward(rec, full=False)
    opt.step(params, rec.gradients)
    del rec
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(f"memory: 3x64x64, 16 filters, two blocks, batch {n} (the largest allowed): peak {peak / 2**20:.0f} MiB "
          f"over the batch's input; the engine's estimate {net.example_bytes * n / 2**20:.0f} MiB, "
          f"limit {MAX_BATCH_BYTES // 2**20} MiB", flush=True)


def steal_seconds() -> float | None:
    """CPU time the hypervisor took from this machine's cores so far (/proc/stat's steal
    column), or None where there is none to read: a run with much of it was disturbed."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def report_steal(before: float | None, started: float) -> None:
    after = steal_seconds()
    if before is not None and after is not None:
        share = (after - before) / ((time.perf_counter() - started) * (os.cpu_count() or 1))
        print(f"CPU time stolen by the hypervisor during the run: {after - before:.1f} s, {share:.0%} of the "
              "cores' time (the more, the less these figures say about the code)", flush=True)


def main() -> None:
    global TIMER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and half the grid (a smoke run)")
    ap.add_argument("--wall", action="store_true", help="time by the wall clock instead of CPU time")
    ap.add_argument("--no-http", action="store_true", help="leave out the server part")
    ap.add_argument("--only", choices=("http",), help="run just this part (the server part: /api/step vs the floor)")
    args = ap.parse_args()
    q = args.quick
    if args.wall:
        TIMER = time.perf_counter
    started, stolen = time.perf_counter(), steal_seconds()
    if args.only == "http":
        http(200 if q else 2000)
        report_steal(stolen, started)
        return
    compare("seed network (6x6, 15 params), batch 1", E.default_spec(), 1,
            number=500 if q else 1000, repeat=3, rounds=3 if q else 7)
    compare("28x28, 8 filters 3x3, batch 32", MNIST_LIKE, 32,
            number=5 if q else 10, repeat=3, rounds=3 if q else 7)
    try:
        from bench.grid import run_grid
        run_grid(rounds=3 if q else 15, target=0.002, plot_path=None if q else ROOT / "docs" / "bench.svg",
                 quick=q, timer=TIMER)
    except ImportError:
        print("grid: PyTorch is not installed", flush=True)
    training(1 if q else 3)
    memory()
    if not args.no_http:
        http(200 if q else 2000)
    report_steal(stolen, started)
    print(f"bench.py took {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
