"""Every server setting in one place: one pydantic-settings class, each field overridable by an
environment variable ``BPV_<FIELD>`` (``BPV_PORT=9000``; ``BPV_BODY_TIMEOUT`` keeps its old
name). A bad value stops the server at start with pydantic's message. The engine's own limits
(input size, layers, parameters) live in engine/limits.py, since the engine never imports
app/; ``Settings.limits`` re-exports them. ``page_limits`` is what /api/health quotes and the
page's templates use, so no limit is typed in twice. The README lists every variable."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine import limits as engine_limits

KIB = 1024
MIB = 1024 * KIB
ENV_PREFIX = "BPV_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, populate_by_name=True)
    limits: ClassVar[ModuleType] = engine_limits  # the engine's limits, re-exported

    # One field per line, each with its default and why (the README's table lists them all).
    host: str = "127.0.0.1"  # `python -m app` binds here
    port: int = Field(8000, ge=1, le=65535)
    max_json_bytes: int = Field(1 * MIB, ge=1024)  # any JSON body
    max_upload_bytes: int = Field(2 * MIB, ge=1024)  # the image file itself
    # The whole multipart body may carry the file plus a few small fields and boundaries.
    max_multipart_bytes: int = Field(2 * MIB + 64 * KIB, ge=1024)
    body_timeout_s: float = Field(5.0, gt=0, validation_alias="BPV_BODY_TIMEOUT")  # a trickling body gets a 408
    max_learning_rate: float = Field(100.0, gt=0)
    max_image_pixels: int = Field(4096 * 4096, ge=1)  # decoded size; larger is treated as a decompression bomb
    max_gradcheck_entries: int = Field(256, ge=1)  # per parameter; a bigger tensor is sampled
    gradcheck_macs: int = Field(300_000_000, ge=1)  # multiply-adds one gradient check may spend (about a second)
    # Work above this many multiply-adds goes to a worker thread; below it the thread hop
    # would cost more than the work, so it runs inline on the event loop.
    inline_macs: int = Field(200_000, ge=0)
    max_train_iterations: int = Field(10_000, ge=1)
    max_batch_size: int = Field(256, ge=1)
    # Multiply-adds one training run may spend, forward and backward (about 3x forward) plus
    # its evaluations: roughly 30 s of NumPy here at worst.
    max_train_macs: int = Field(30_000_000_000, ge=1)
    max_heavy_jobs: int = Field(4, ge=1)  # gradient checks and big networks waiting for a thread; more get a 503
    max_in_flight: int = Field(128, ge=1)  # requests per worker; more get a 503
    max_samples: int = Field(64, ge=1)  # examples per /api/datasets/{name}/samples call
    min_body_rate: float = Field(1024.0, gt=0)  # bytes/s a body must keep up after its grace; slower: 408
    body_rate_grace_s: float = Field(1.0, ge=0)  # seconds before the rate applies
    max_bodies_in_progress: int = Field(1024, ge=1)  # bodies still arriving, per worker; more get a 503
    train_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)  # runs at once, per server
    train_queue_max: int = Field(64, ge=0)  # runs waiting their turn; more get a 429
    train_queue_dir: str = ""  # shared by the workers; "": a temp dir named after the server's process
    train_nice: int = Field(10, ge=0, le=19)  # the runner processes' CPU priority below the workers (0: the same)
    train_queue_heartbeat_s: float = Field(5.0, gt=0)  # a queued stream's line interval at least

    def page_limits(self) -> dict[str, Any]:
        """The limits a client may show or check before sending: /api/health's ``limits``, and
        the page's (templates/base.html puts them in a JSON data block for the scripts)."""
        lim = self.limits
        return {
            "max_input": [lim.MAX_CHANNELS, lim.MAX_INPUT_HW, lim.MAX_INPUT_HW],
            "max_params": lim.MAX_PARAMS,
            "max_layers": lim.MAX_LAYERS,
            "max_macs": lim.MAX_MACS,
            "max_json_bytes": self.max_json_bytes,
            "max_upload_bytes": self.max_upload_bytes,
            "max_learning_rate": self.max_learning_rate,
            "max_train_iterations": self.max_train_iterations,
            "max_batch_size": self.max_batch_size,
        }


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


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
