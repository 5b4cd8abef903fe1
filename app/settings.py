"""Every setting and server-side limit in one place. Engine limits (input size, parameter
count) live in engine/limits.py and are re-exported here for the error messages."""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine import limits as engine_limits

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Settings:
    host: str = os.environ.get("BPV_HOST", "127.0.0.1")
    port: int = int(os.environ.get("BPV_PORT", "8000"))
    max_json_bytes: int = 1 * MIB  # any JSON body
    max_upload_bytes: int = 2 * MIB  # the image file itself
    # The whole multipart body may carry the file plus a few small fields and boundaries.
    max_multipart_bytes: int = 2 * MIB + 64 * KIB
    body_timeout_s: float = float(os.environ.get("BPV_BODY_TIMEOUT", "5"))  # a trickling body gets a 408
    max_learning_rate: float = 100.0
    max_image_pixels: int = 4096 * 4096  # decoded size; larger is treated as a decompression bomb
    max_gradcheck_entries: int = 256  # per parameter; a bigger tensor is sampled
    gradcheck_macs: int = 300_000_000  # multiply-adds one gradient check may spend (about a second)
    # Work above this many multiply-adds goes to a worker thread; below it the thread hop
    # would cost more than the work, so it runs inline on the event loop.
    inline_macs: int = 200_000
    max_train_iterations: int = 10_000
    max_batch_size: int = 256
    # Multiply-adds one training run may spend, forward and backward (about 3x forward) plus
    # its evaluations: roughly 30 s of NumPy here at worst.
    max_train_macs: int = 30_000_000_000
    max_concurrent_trainings: int = 2  # one per core; more get a 429
    max_heavy_jobs: int = 4  # gradient checks and big networks waiting for a worker thread; more get a 503
    max_in_flight: int = int(os.environ.get("BPV_MAX_IN_FLIGHT", "128"))  # requests per worker; more get a 503
    max_samples: int = 64  # examples per /api/datasets/{name}/samples call
    min_body_rate: float = float(os.environ.get("BPV_MIN_BODY_RATE", "1024"))  # bytes/s after the grace; slower: 408
    body_rate_grace_s: float = float(os.environ.get("BPV_BODY_RATE_GRACE_S", "1"))  # before the rate applies
    max_bodies_in_progress: int = int(os.environ.get("BPV_MAX_BODIES_IN_PROGRESS", "1024"))  # per worker; then 503
    train_slots: int = int(os.environ.get("BPV_TRAIN_SLOTS", str(os.cpu_count() or 1)))  # runs at once, per server
    train_queue_max: int = int(os.environ.get("BPV_TRAIN_QUEUE_MAX", "64"))  # runs waiting; more get a 429
    train_queue_dir: str = os.environ.get("BPV_TRAIN_QUEUE_DIR", "")  # shared by the workers; "": a temp dir per server
    train_queue_heartbeat_s: float = float(os.environ.get("BPV_TRAIN_QUEUE_HEARTBEAT_S", "5"))  # queued line interval


settings = Settings()

SECURITY_HEADERS = {
    # Scripts only from this origin. Styles also allow 'unsafe-inline' because plotly.js
    # injects a <style> element and sets style attributes at run time; no script can.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

limits = engine_limits
