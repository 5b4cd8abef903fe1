"""Two checkouts of this project side by side in one run: bench.py's figures for each, as
the ratio of minima over interleaved rounds (engine figures) and of medians (HTTP).

Run: python bench/versus.py OLD_ROOT NEW_ROOT [--rounds 7] [--requests 1500] (--rounds 0: HTTP only)
(e.g. two ``git archive`` exports under /tmp). Each root's engine runs in its own worker
process; each round asks both workers in turn, so drift on the machine hits both alike.
A ratio above 1 means NEW is faster. Engine figures are CPU time of each worker (as bench.py
measures them, so a worker waiting for a core is not charged for it), HTTP ones wall-clock.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent

# The worker: reads "round" lines, answers one JSON line of seconds per call per case.
WORKER = r"""
import json, sys, time, timeit
import numpy as np
sys.path.insert(0, sys.argv[1])
import engine as E
from bench.bench import MNIST_LIKE

def case(spec, n):
    net = E.read_spec(spec)
    params = E.init_params(net, 0)
    rng = np.random.default_rng(0)
    x = rng.random((n, *net.input_shape))
    if net.loss == "cross_entropy":
        y = rng.integers(0, net.output_units, size=n).astype(np.int64)
    else:
        y = rng.integers(0, 2, size=n).astype(np.float64)
    def run(full):
        rec = E.forward(net, params, x, y)
        E.backward(rec, full=full)
        return E.sgd_update(params, rec.gradients, 0.1)
    return (lambda: run(False)), (lambda: run(True))

seed_train, seed_full = case(E.default_spec(), 1)
big_train, big_full = case(MNIST_LIKE, 32)
cases = {"seed step": (seed_train, 1000), "seed step with dX, dA": (seed_full, 1000),
         "28x28 step": (big_train, 10), "28x28 step with dX, dA": (big_full, 10)}
for line in sys.stdin:
    out = {name: min(timeit.repeat(fn, number=k, repeat=3, timer=time.process_time)) / k
           for name, (fn, k) in cases.items()}
    print(json.dumps(out), flush=True)
"""


def engines(roots: list[str], rounds: int) -> dict[str, list[list[float]]]:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, r], cwd=r, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for r in roots]
    times: dict[str, list[list[float]]] = {}
    try:
        for _ in range(rounds):
            for i, p in enumerate(procs):
                assert p.stdin is not None and p.stdout is not None
                p.stdin.write("round\n")
                p.stdin.flush()
                for name, t in json.loads(p.stdout.readline()).items():
                    times.setdefault(name, [[] for _ in roots])[i].append(t)
    finally:
        for p in procs:
            assert p.stdin is not None
            p.stdin.close()
            p.wait(30)
    return times


def http(roots: list[str], requests: int) -> dict[str, list[list[float]]]:
    """/api/health, /bench/floor, /bench/engine and /api/step of each root's server, interleaved request
    by request; the last three give bench.py's breakdown (the floor, the engine, the rest)."""
    import http.client

    sys.path.insert(0, str(HERE.parent))
    from bench.bench import step_body
    from bench.load import free_port, wait_ready

    ports = [free_port() for _ in roots]
    servers = [subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port),
                                 "--log-level", "warning", "--no-access-log"], cwd=r)
               for r, port in zip(roots, ports)]
    body = step_body()
    paths = {"health": ("GET", "/api/health", None), "floor": ("POST", "/bench/floor", body),
             "engine": ("POST", "/bench/engine", body), "step": ("POST", "/api/step", body)}
    times: dict[str, list[list[float]]] = {path: [[] for _ in roots] for _, path, _ in paths.values()}
    try:
        for port in ports:
            wait_ready(port)
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
        headers = {"content-type": "application/json"}
        for k in range(300 + requests):
            for i, conn in enumerate(conns):
                for method, path, data in paths.values():
                    t = time.perf_counter()
                    conn.request(method, path, body=data, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    assert r.status == 200
                    if k >= 300:
                        times[path][i].append(time.perf_counter() - t)
    finally:
        for s in servers:
            s.terminate()
            s.wait(10)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=1500)
    args = ap.parse_args()
    roots = [str(Path(args.old).resolve()), str(Path(args.new).resolve())]
    print(f"old: {roots[0]}\nnew: {roots[1]}", flush=True)
    for name, (old, new) in (engines(roots, args.rounds) if args.rounds else {}).items():
        print(f"{name:26s} old {min(old) * 1e6:9.1f} us  new {min(new) * 1e6:9.1f} us  "
              f"old/new = {min(old) / min(new):.2f}x (ratio of minima over {args.rounds} rounds)", flush=True)
    if args.requests:
        times = http(roots, args.requests)
        for name, (old, new) in times.items():
            mo, mn = statistics.median(old), statistics.median(new)
            print(f"{name:26s} old {mo * 1e6:9.0f} us  new {mn * 1e6:9.0f} us  old/new = {mo / mn:.2f}x "
                  f"(medians of {args.requests} interleaved requests)", flush=True)
        for i, side in enumerate(("old", "new")):
            f, e, s = (statistics.median(times[path][i]) for path in ("/bench/floor", "/bench/engine", "/api/step"))
            print(f"{side}: step {s / f:.2f}x the floor, floor + engine {e / f:.2f}x | the engine "
                  f"{(e - f) * 1e6:.0f} us ({(e - f) / f:.0%} of the floor), the rest {(s - e) * 1e6:.0f} us "
                  f"({(s - e) / f:.0%})", flush=True)


if __name__ == "__main__":
    main()
