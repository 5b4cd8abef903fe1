"""Index plans shared by the layers that gather windows (conv2d, the pools): planned once per
shape, kept in a byte-bounded cache, so each pass is a gather, a GEMM or a bincount."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.errors import SpecError

Array = np.ndarray

PLAN_CACHE_BYTES = 256 * 1024 * 1024

# glibc hands out every block over 128 KiB as a fresh mmap and unmaps it on free, so each pass
# over a batch pays a page fault per 4 KiB it writes (on a VM, that can cost more than the
# arithmetic). Keeping blocks up to glibc's ceiling for the mmap threshold (32 MiB) in the heap
# and not trimming freed heap back to the OS lets the next array reuse those pages. The
# process keeps at most its peak heap (bounded by MAX_BATCH_BYTES per batch) instead of
# returning it between steps.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above; False where that is not glibc (nothing changes there)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) and mallopt(_M_TRIM_THRESHOLD, 8 * _MMAP_THRESHOLD_MAX)
                and mallopt(_M_TOP_PAD, _MMAP_THRESHOLD_MAX))


MALLOC_TUNED = keep_freed_memory()


def byte_bounded_cache(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Memoise ``fn`` by its (int) arguments, evicting the oldest plans once they hold more
    than PLAN_CACHE_BYTES: a count-bounded cache could pin gigabytes of index maps for big
    batches. A hit costs a dict lookup."""
    cache: dict[tuple[int, ...], tuple[Any, int]] = {}  # args -> (plan, bytes it owns)
    total = 0
    lock = threading.Lock()  # training runs in worker threads

    def cached(*args: int) -> Any:
        nonlocal total
        hit = cache.get(args)
        if hit is not None:
            return hit[0]
        value = fn(*args)
        arrays = value if isinstance(value, tuple) else (value,)
        size = sum(a.nbytes for a in arrays if a.base is None)
        with lock:
            if args not in cache:  # another thread may have planned the same shape meanwhile
                cache[args] = (value, size)
                total += size
            while len(cache) > 1 and total > PLAN_CACHE_BYTES:
                oldest = next(iter(cache))
                total -= cache.pop(oldest)[1]
        return value

    return cached


@byte_bounded_cache
def conv_plan(n: int, c: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int,
              pw: int) -> Array:
    """Gather map (N, Ho*Wo, C*kh*kw) into the batch's flat input: [n, p, k] is the input cell
    under kernel entry k (channel, ki, kj, W's layout) at output pixel p. Padding cells point
    at N*C*H*W, a zero slot the caller appends, so no ``np.pad`` copy is made. The same map,
    raveled, is the scatter target of the backward pass."""
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    r = (np.arange(ho) * sh)[:, None, None, None, None] + np.arange(kh)[None, None, None, :, None] - ph
    q = (np.arange(wo) * sw)[None, :, None, None, None] + np.arange(kw)[None, None, None, None, :] - pw
    ch = np.arange(c)[None, None, :, None, None]
    inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
    local = np.where(inside, ch * h * w + r * w + q, -1)
    local = np.broadcast_to(local, (ho, wo, c, kh, kw)).reshape(ho * wo, c * kh * kw)
    glob = local[None] + (np.arange(n) * (c * h * w))[:, None, None]
    glob[np.broadcast_to(local[None] < 0, glob.shape)] = n * c * h * w
    return np.ascontiguousarray(glob, dtype=np.intp)


@byte_bounded_cache
def pool_plan(n: int, c: int, h: int, w: int, kh: int, kw: int, sh: int, sw: int) -> tuple[Array, Array, Array]:
    """Window map (N*C*Ho*Wo, kh*kw) into the batch's flat input, window cells in row-major
    order so ``argmax`` picks the first maximum as PyTorch does; the same map raveled, and
    each window's offset in it (row * kh*kw) to turn an argmax into a flat position."""
    ho = (h - kh) // sh + 1
    wo = (w - kw) // sw + 1
    r = (np.arange(ho) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    q = (np.arange(wo) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    local = (r * w + q).reshape(1, ho * wo, kh * kw)
    glob = (local + (np.arange(n * c) * (h * w))[:, None, None]).reshape(-1, kh * kw).astype(np.intp)
    rows = np.arange(glob.shape[0], dtype=np.intp) * (kh * kw)
    return glob, glob.ravel(), rows


def window_shape(layer_index: int, shape: tuple[int, ...], kernel: tuple[int, int],
                 stride: tuple[int, int]) -> tuple[int, int, int]:
    """A pool's output shape (C, Ho, Wo), or the SpecError of a window larger than its input."""
    c, h, w = shape
    if kernel[0] > h or kernel[1] > w:
        raise SpecError(f"pool window {kernel[0]}x{kernel[1]} is larger than its input {h}x{w}", layer_index)
    return (c, (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1)
