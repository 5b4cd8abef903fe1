"""The grid: engine vs PyTorch CPU eager over every served size of one network family.

Input 6, 16, 28, 64 (1 and 3 channels), filters 1, 8, 16, batch 1, 8, 32, one and two conv
blocks (a block: conv 3x3 padding 1 + ReLU + 2x2 max-pool; the second has twice the
filters; the 6x6 input gets one block), then flatten, dense 10, softmax + cross-entropy.
Each row: forward + backward + SGD update, float64, one thread, as the ratio of the minima
over interleaved rounds (engine, torch, engine, ...). Rows over the engine's limits are
listed as such, not timed.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import engine as E
from engine.errors import SpecError

SIZES = (6, 16, 28, 64)
CHANNELS = (1, 3)
FILTERS = (1, 8, 16)
BATCHES = (1, 8, 32)
BLOCKS = (1, 2)


# The page's two-block preset for the digits (8x8): the README's training run.
TWO_BLOCK_DIGITS: dict[str, Any] = {
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"},
    ],
    "loss": "cross_entropy",
}


def grid_spec(size: int, channels: int, filters: int, blocks: int) -> dict[str, Any]:
    layers: list[dict[str, Any]] = []
    for b in range(blocks):
        layers += [{"type": "conv2d", "filters": filters * 2 ** b, "kernel_size": 3, "padding": 1},
                   {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}]
    layers += [{"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}]
    return {"input_shape": [channels, size, size], "layers": layers, "loss": "cross_entropy"}


def cases() -> list[tuple[int, int, int, int, int]]:
    """(size, channels, filters, batch, blocks) for every row; 6x6 gets one block."""
    return [(s, c, f, n, b) for s, c, f, n, b in itertools.product(SIZES, CHANNELS, FILTERS, BATCHES, BLOCKS)
            if not (s == 6 and b == 2)]


def problem(spec: dict[str, Any], n: int) -> tuple[E.Network, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    net = E.read_spec(spec)
    params = E.init_params(net, 0)
    rng = np.random.default_rng(0)
    x = rng.random((n, *net.input_shape))
    y = rng.integers(0, net.output_units, size=n).astype(np.int64)
    return net, params, x, y


def engine_step(net: E.Network, params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    def run() -> object:
        rec = E.forward(net, params, x, y)
        E.backward(rec, full=False)
        return E.sgd_update(params, rec.gradients, 0.1)
    return run


def torch_step(net: E.Network, params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    """The same network in torch.nn.functional, layer by layer from the read spec."""
    import torch
    import torch.nn.functional as F

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    ops: list[Callable[[Any], Any]] = []
    for layer in net.layers[:-1]:  # the softmax is fused into cross_entropy, as the engine's loss does
        if layer.type == "conv2d":
            w, b = (tp[p] for p in layer.params)
            ops.append(lambda h, w=w, b=b, s=layer.stride, p=layer.padding: F.conv2d(h, w, b, s, p))
        elif layer.type == "relu":
            ops.append(torch.relu)
        elif layer.type == "maxpool2d":
            ops.append(lambda h, k=layer.kernel, s=layer.stride: F.max_pool2d(h, k, s))
        elif layer.type == "flatten":
            ops.append(lambda h: torch.flatten(h, 1))
        elif layer.type == "dense":
            w, b = (tp[p] for p in layer.params)
            ops.append(lambda h, w=w, b=b: F.linear(h, w, b))
    values = list(tp.values())

    def run() -> object:
        for v in values:
            v.grad = None
        h = tx
        for op in ops:
            h = op(h)
        loss = F.cross_entropy(h, ty)
        loss.backward()
        with torch.no_grad():
            for v in values:
                v -= 0.1 * v.grad
        return loss
    return run


TIMER: Callable[[], float] = time.process_time


def per_call(fn: Callable[[], object], number: int) -> float:
    return timeit.timeit(fn, number=number, timer=TIMER) / number


def calls_for(fn: Callable[[], object], target: float) -> int:
    """Calls per timing so one timing lasts about ``target`` seconds (at least one call)."""
    fn()  # warm: plans, allocator
    t = min(per_call(fn, 1), per_call(fn, 1))
    return max(1, min(2000, math.ceil(target / max(t, 1e-7))))


@dataclass
class Row:
    size: int
    channels: int
    filters: int
    batch: int
    blocks: int
    macs: int = 0  # multiply-adds of one forward pass of the batch
    engine: float = math.nan
    torch: float = math.nan
    ratios: tuple[float, ...] = ()
    skipped: str = ""

    @property
    def ratio(self) -> float:
        return self.torch / self.engine


def measure(case: tuple[int, int, int, int, int], rounds: int, target: float) -> Row:
    size, channels, filters, batch, blocks = case
    row = Row(*case)
    try:
        net, params, x, y = problem(grid_spec(size, channels, filters, blocks), batch)
    except SpecError as e:
        row.skipped = str(e)
        return row
    row.macs = net.macs * batch
    ours, theirs = engine_step(net, params, x, y), torch_step(net, params, x, y)
    k_ours, k_theirs = calls_for(ours, target), calls_for(theirs, target)
    e_times, t_times = [], []
    for _ in range(rounds):  # interleaved, so drift on the machine hits both alike
        e_times.append(per_call(ours, k_ours))
        t_times.append(per_call(theirs, k_theirs))
    row.engine, row.torch = min(e_times), min(t_times)
    row.ratios = tuple(sorted(t / e for t, e in zip(t_times, e_times)))
    return row


def fmt_time(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def table(rows: list[Row]) -> str:
    lines = ["| input | filters | batch | blocks | MMACs | engine | PyTorch | ratio | per-round |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        head = f"| {r.channels}x{r.size}x{r.size} | {r.filters} | {r.batch} | {r.blocks} |"
        if r.skipped:
            lines.append(f"{head} | | | | over the limits | ({r.skipped}) |")
            continue
        mark = "**" if r.ratio >= 1.5 else ""
        lines.append(f"{head} {r.macs / 1e6:.3g} | {fmt_time(r.engine)} | {fmt_time(r.torch)} | "
                     f"{mark}{r.ratio:.2f}x{mark} | {r.ratios[0]:.2f}-{r.ratios[-1]:.2f} |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    timed = [r for r in rows if not r.skipped]
    ratios = [r.ratio for r in timed]
    worst = min(timed, key=lambda r: r.ratio)
    return (f"{len(timed)} rows timed ({len(rows) - len(timed)} over the limits): torch/engine min {min(ratios):.2f}x "
            f"(input {worst.channels}x{worst.size}x{worst.size}, {worst.filters} filters, batch {worst.batch}, "
            f"{worst.blocks} block(s)), median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x; "
            f"{sum(r >= 1.0 for r in ratios)} rows at >= 1.0x, {sum(r >= 1.5 for r in ratios)} at >= 1.5x")


def plot(rows: list[Row], path: Path) -> None:
    """Time per step against the forward pass's multiply-adds, both sides, log-log: a small
    hand-written SVG (no plotting dependency)."""
    timed = [r for r in rows if not r.skipped]
    w, h, m = 640, 400, 56
    xs = [math.log10(r.macs) for r in timed]
    ys = [math.log10(t) for r in timed for t in (r.engine, r.torch)]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))

    def px(v: float) -> float:
        return m + (v - x0) / (x1 - x0) * (w - 2 * m)

    def py(v: float) -> float:
        return h - m - (v - y0) / (y1 - y0) * (h - 2 * m)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="sans-serif" font-size="12">', f'<rect width="{w}" height="{h}" fill="white"/>']
    for e in range(x0, x1 + 1):
        out.append(f'<line x1="{px(e):.1f}" y1="{m}" x2="{px(e):.1f}" y2="{h - m}" stroke="#ddd"/>'
                   f'<text x="{px(e):.1f}" y="{h - m + 16}" text-anchor="middle">1e{e}</text>')
    for e in range(y0, y1 + 1):
        out.append(f'<line x1="{m}" y1="{py(e):.1f}" x2="{w - m}" y2="{py(e):.1f}" stroke="#ddd"/>'
                   f'<text x="{m - 6}" y="{py(e) + 4:.1f}" text-anchor="end">1e{e} s</text>')
    for r in timed:
        x = px(math.log10(r.macs))
        out.append(f'<line x1="{x:.1f}" y1="{py(math.log10(r.engine)):.1f}" x2="{x:.1f}" '
                   f'y2="{py(math.log10(r.torch)):.1f}" stroke="#bbb"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{py(math.log10(r.torch)):.1f}" r="3" fill="#d62728"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{py(math.log10(r.engine)):.1f}" r="3" fill="#1f77b4"/>')
    out += [f'<text x="{w / 2}" y="{h - 14}" text-anchor="middle">multiply-adds of the forward pass (batch)</text>',
            f'<text x="{m}" y="20">time per forward + backward + SGD step, float64, one thread</text>',
            f'<circle cx="{w - 200}" cy="{h - m - 44}" r="4" fill="#1f77b4"/>'
            f'<text x="{w - 190}" y="{h - m - 40}">engine (NumPy)</text>',
            f'<circle cx="{w - 200}" cy="{h - m - 26}" r="4" fill="#d62728"/>'
            f'<text x="{w - 190}" y="{h - m - 22}">PyTorch CPU eager</text>',
            "</svg>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


def run_grid(rounds: int, target: float, plot_path: Path | None, quick: bool = False,
             timer: Callable[[], float] = time.process_time) -> list[Row]:
    global TIMER
    TIMER = timer
    import torch
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    chosen = cases()
    if quick:  # a smoke run: every size and batch, the middle filter count only
        chosen = [c for c in chosen if c[2] == 8]
    rows = []
    for case in chosen:
        rows.append(measure(case, rounds, target))
    print(table(rows), flush=True)
    print(summary(rows), flush=True)
    if plot_path is not None:
        plot(rows, plot_path)
        print(f"plot: {plot_path}", flush=True)
    return rows
