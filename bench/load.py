"""Loopback load tests of the production setup. Traffic goes to 127.0.0.1 only; every run is
bounded in time and stops by itself.

- ``steps`` (the default): the production command (uvicorn --workers N) under C concurrent
  clients stepping the seed network for T seconds. Every answer is checked against the engine's
  own answer for its request; errors, requests/s and p50/p99 latency are reported.
  Run: python bench/load.py [--workers 2] [--clients 50] [--seconds 30]
- ``classroom``: N learners, each doing step, step, step, train, step with think times between,
  starting within 3 s, against one server (--workers 2) or against two such servers behind nginx
  with docs/nginx.conf (each with half the machine's training slots, as two machines of half
  its size). The run is the page's two-block digits preset. Reported: /api/step
  p50/p95 latency (all, and while runs are training), runs completed and refused, whether every
  result is bit for bit a lone run's, and the last run's finish against N x one run / cores.
  Run: python bench/load.py classroom [--learners 30] [--target one|nginx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def worker_pids(supervisor: int) -> set[int]:
    """The server's worker processes: the supervisor's children that multiprocessing spawned."""
    try:
        children = open(f"/proc/{supervisor}/task/{supervisor}/children").read().split()
    except OSError:
        return set()
    pids = set()
    for pid in map(int, children):
        try:
            if b"spawn_main" in open(f"/proc/{pid}/cmdline", "rb").read():  # not the resource tracker
                pids.add(pid)
        except OSError:
            continue
    return pids


def kill_a_worker(supervisor: int, at_s: float, workers: int, out: dict) -> None:
    """At ``at_s`` seconds, SIGKILL one worker; record how long until the supervisor has a full set
    of workers again and the new one answers (``recovery_s``)."""
    import signal

    time.sleep(at_s)
    before = worker_pids(supervisor)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    killed = time.perf_counter()
    while time.perf_counter() - killed < 30:
        now = worker_pids(supervisor)
        if victim not in now and len(now) >= workers:
            out["recovery_s"] = round(time.perf_counter() - killed, 3)
            out["replaced_by"] = sorted(now - before)
            return
        time.sleep(0.01)
    out["recovery_s"] = None


def load_test(workers: int, clients: int, seconds: float, kill_at: float | None = None) -> dict:
    import threading

    port = free_port()
    server = subprocess.Popen(production_command(port, workers), cwd=ROOT, env={**os.environ})
    killed: dict = {}
    try:
        wait_ready(port)
        requests = make_requests(200)
        if kill_at is not None:
            threading.Thread(target=kill_a_worker, args=(server.pid, kill_at, workers, killed), daemon=True).start()
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
            "first_errors": errors[:3], **({"killed_worker_at_s": kill_at, **killed} if kill_at is not None else {})}


# ----------------------------------------------------------------------------- nginx in front
NGINX_CONFIG = ROOT / "docs" / "nginx.conf"


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def nginx_config(listen: int, upstreams: list[int], prefix: Path) -> str:
    """docs/nginx.conf with these ports, and its pid, logs and temp files under ``prefix``."""
    text = NGINX_CONFIG.read_text()
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    for default, port in zip((8001, 8002), upstreams, strict=True):
        assert f"server 127.0.0.1:{default} " in text, default
        text = text.replace(f"server 127.0.0.1:{default} ", f"server 127.0.0.1:{port} ")
    text = re.sub(r"^pid .*;$", f"pid {prefix}/nginx.pid;", text, flags=re.M)
    text = re.sub(r"^(\s*)(error_log|access_log) /var/log/nginx/(\S+)", rf"\1\2 {prefix}/\3", text, flags=re.M)
    text = re.sub(r"^(\s*)(\w+_temp_path) /var/lib/nginx/(\w+);", rf"\1\2 {prefix}/\3;", text, flags=re.M)
    text = text.replace("worker_processes auto;", "worker_processes 1;")  # loopback, a small machine
    assert "/var/" not in text and "/run/" not in text, text
    return text


class Nginx:
    """nginx with docs/nginx.conf in front of ``upstreams``, under a private prefix (readable by
    all: started as root, its workers run as "nobody" and buffer request bodies there)."""

    def __init__(self, upstreams: list[int], nginx: str, timeout: float = 15.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.prefix = Path(tempfile.mkdtemp(prefix="bpv-nginx-"))
        self.prefix.chmod(0o755)
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_config(self.port, upstreams, self.prefix))
        self.proc = subprocess.Popen([nginx, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float) -> None:
        import httpx

        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("nginx did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.prefix, ignore_errors=True)


# ----------------------------------------------------------------------------- the classroom
TWO_BLOCK = {  # the page's two-block preset (static/js/architecture.js) and its training settings
    "input_shape": [1, 8, 8],
    "layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
               {"type": "maxpool2d", "kernel_size": 2},
               {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
               {"type": "maxpool2d", "kernel_size": 2},
               {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}],
    "loss": "cross_entropy",
}


def preset_run(name: str) -> dict:
    """The training body a learner sends: "digits" is the page's two-block preset, "small" the
    seed network on bars (for quick checks of this script)."""
    if name == "digits":
        net = E.read_spec(TWO_BLOCK)
        params = {k: v.tolist() for k, v in E.init_params(net, 0).items()}
        return {"network": TWO_BLOCK, "params": params, "dataset": "digits", "iterations": 600, "batch_size": 32,
                "learning_rate": 0.01, "optimizer": "adam", "seed": 0, "points": 25, "stream": True}
    params = {k: v.tolist() for k, v in E.init_params(E.read_spec(), 0).items()}
    return {"params": params, "dataset": "bars", "iterations": 1500, "batch_size": 16, "learning_rate": 0.5,
            "optimizer": "sgd", "seed": 0, "points": 10, "stream": True}


class Classroom:
    """What the learners saw: step latencies (and whether a run was training meanwhile), runs."""

    def __init__(self, base_url: str, run: dict, steps: list[dict]) -> None:
        self.base_url = base_url
        self.run = run
        self.steps = steps
        self.training = 0  # runs between their start line and their end, as the learners see them
        self.step_ms: list[tuple[float, bool]] = []
        self.errors: list[str] = []
        self.refused = 0
        self.runs: list[dict[str, Any]] = []

    async def step(self, client: Any, rnd: random.Random) -> None:
        busy = self.training > 0
        t = time.perf_counter()
        r = await client.post("/api/step", json=self.steps[rnd.randrange(len(self.steps))])
        self.step_ms.append(((time.perf_counter() - t) * 1000, busy or self.training > 0))
        if r.status_code != 200:
            self.errors.append(f"step: HTTP {r.status_code}: {r.text[:200]}")

    async def train(self, client: Any) -> None:
        """One run as the page does it: a 429 is waited out (Retry-After) and asked again."""
        submitted = time.perf_counter()
        while True:
            async with client.stream("POST", "/api/train", json=self.run) as r:
                if r.status_code == 429:
                    self.refused += 1
                    await r.aread()
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                if r.status_code != 200:
                    self.errors.append(f"train: HTTP {r.status_code}: {(await r.aread())[:200]!r}")
                    return
                await self._read_run(r, submitted)
                return

    async def _read_run(self, r: Any, submitted: float) -> None:
        seen: dict[str, Any] = {"submitted": submitted, "queued": 0, "progress": 0}
        started = False
        try:
            async for line in r.aiter_lines():
                event = json.loads(line)
                kind = event["type"]
                if kind == "queued":
                    seen["queued"] += 1
                    seen.setdefault("first_position", event["position"])
                elif kind == "start":
                    started = True
                    self.training += 1
                    seen["started"] = time.perf_counter()
                elif kind == "progress":
                    seen["progress"] += 1
                elif kind in ("done", "diverged"):
                    seen.update(finished=time.perf_counter(), status=kind, params=json.dumps(event["params"]))
        finally:
            if started:
                self.training -= 1
        if "finished" not in seen:
            self.errors.append("train: the stream ended early")
        self.runs.append(seen)

    async def learner(self, client: Any, i: int, spread_s: float, think_s: tuple[float, float]) -> None:
        import httpx

        rnd = random.Random(i)
        await asyncio.sleep(rnd.uniform(0, spread_s))
        for action in ("step", "step", "step", "train", "step"):
            try:
                await (self.train(client) if action == "train" else self.step(client, rnd))
            except httpx.HTTPError as e:
                self.errors.append(f"{action}: {type(e).__name__}: {e}")
            await asyncio.sleep(rnd.uniform(*think_s))

    async def everyone(self, learners: int, spread_s: float, think_s: tuple[float, float]) -> None:
        """All learners through one client (a connection each as they need it): a client per
        learner would build an SSL context each, blocking this loop for seconds in all while
        other learners' requests are being timed."""
        import httpx

        limits = httpx.Limits(max_connections=2 * learners, max_keepalive_connections=2 * learners)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(30, read=900),
                                     limits=limits) as client:
            await asyncio.gather(*(self.learner(client, i, spread_s, think_s) for i in range(learners)))


def lone_run(base_url: str, run: dict, times: int = 4) -> tuple[float, str]:
    """One run with the server to itself: the least of its seconds over ``times`` runs (the
    first ones also start the runner processes of the worker they land in, once per server),
    and its result's params (the same every time)."""
    import httpx

    seconds, results = [], set()
    for _ in range(times):
        t = time.perf_counter()
        r = httpx.post(f"{base_url}/api/train", json={**run, "stream": False}, timeout=900)
        r.raise_for_status()
        seconds.append(time.perf_counter() - t)
        results.add(json.dumps(r.json()["params"]))
    assert len(results) == 1, "a lone run gave different results"
    return min(seconds), results.pop()


def classroom_report(room: Classroom, learners: int, one_run_s: float, lone_params: str, cores: int,
                     elapsed: float) -> dict:
    steps = np.array([ms for ms, _ in room.step_ms] or [0.0])
    busy = np.array([ms for ms, b in room.step_ms if b] or [0.0])
    done = [r for r in room.runs if "finished" in r]
    first = min((r["submitted"] for r in room.runs), default=0.0)
    last = max((r["finished"] for r in done), default=first) - first
    ideal = learners * one_run_s / cores
    return {
        "learners": learners, "seconds": round(elapsed, 1), "errors": len(room.errors),
        "first_errors": room.errors[:3], "refused_429": room.refused,
        "runs_completed": len(done), "runs_queued_first": sum(1 for r in done if r["queued"]),
        "runs_with_progress": sum(1 for r in done if r["progress"]),
        "results_bit_for_bit_a_lone_run": sum(1 for r in done if r["params"] == lone_params),
        "steps": len(room.step_ms), "step_p50_ms": round(float(np.percentile(steps, 50)), 1),
        "step_p95_ms": round(float(np.percentile(steps, 95)), 1),
        "steps_while_training": sum(1 for _, b in room.step_ms if b),
        "step_p95_while_training_ms": round(float(np.percentile(busy, 95)), 1),
        "one_run_s": round(one_run_s, 2),
        # a run's own time in the class (start line to result): above one_run_s, the runs were
        # slowed by each other or by other load; the queue's own overhead shows in the gap
        # between last_finish_s and runs x that time / slots
        "mean_run_s_in_class": round(float(np.mean([r["finished"] - r["started"] for r in done])), 2) if done else None,
        "last_finish_s": round(last, 1),
        "ideal_s": round(ideal, 1), "last_finish_over_ideal": round(last / ideal, 2) if ideal else None,
    }


def classroom(learners: int = 30, target: str = "one", preset: str = "digits", cores: int | None = None,
              spread_s: float = 3.0, think_s: tuple[float, float] = (0.5, 2.0)) -> dict:
    """The classroom against one 2-worker server ("one") or two behind nginx ("nginx")."""
    cores = cores or os.cpu_count() or 1
    n = 1 if target == "one" else 2
    # Two replicas on one machine stand for two machines: they share its cores between them.
    env = {**os.environ, "BPV_TRAIN_SLOTS": str(max(1, cores // n))}
    servers = []
    proxy = None
    try:
        for _ in range(n):
            port = free_port()
            servers.append((port, subprocess.Popen(production_command(port, 2), cwd=ROOT, env=env)))
            wait_ready(port)
        base_url = f"http://127.0.0.1:{servers[0][0]}"
        if target == "nginx":
            nginx = find_nginx()
            if nginx is None:
                raise RuntimeError("nginx is not installed (apt-get install nginx)")
            proxy = Nginx([p for p, _ in servers], nginx)
            base_url = proxy.base_url
        run = preset_run(preset)
        one_run_s, lone_params = lone_run(base_url, run)
        room = Classroom(base_url, run, make_requests(50))

        start = time.perf_counter()
        asyncio.run(asyncio.wait_for(room.everyone(learners, spread_s, think_s), 1800))
        elapsed = time.perf_counter() - start
    finally:
        if proxy is not None:
            proxy.stop()
        for _, proc in servers:
            proc.terminate()
            proc.wait(15)
    return {"target": target, "preset": preset, "cores": cores,
            **classroom_report(room, learners, one_run_s, lone_params, cores, elapsed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", choices=["steps", "classroom"], default="steps")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--learners", type=int, default=30)
    ap.add_argument("--target", choices=["one", "nginx"], default="one")
    ap.add_argument("--preset", choices=["digits", "small"], default="digits")
    ap.add_argument("--kill-worker-at", type=float, default=None,
                    help="steps: SIGKILL one worker this many seconds in, and report the recovery")
    args = ap.parse_args()
    if args.scenario == "classroom":
        result = classroom(args.learners, args.target, args.preset)
        ok = result["errors"] == 0 and result["refused_429"] == 0 and result["runs_completed"] == args.learners
    else:
        result = load_test(args.workers, args.clients, min(args.seconds, 300.0), args.kill_worker_at)
        # A killed worker drops the requests it was holding (their connections reset): only
        # wrong answers fail a run with a kill.
        ok = result["wrong_answers"] == 0 and (args.kill_worker_at is not None or result["errors"] == 0)
    print(json.dumps(result, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
