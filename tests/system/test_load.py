"""A short run of bench/load.py: the production command (uvicorn --workers 2) under 20
concurrent loopback clients stepping the seed network for 4 s answers every request, and every
answer is bit for bit the engine's own answer for that request."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    name = "bpv_bench_load"  # bench/ is not a package: load the script under a unique name
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "load.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_two_workers_serve_correct_answers_under_concurrency() -> None:
    bench = load_bench()
    assert "--workers" in bench.production_command(8000, 2)
    result = bench.load_test(workers=2, clients=20, seconds=4)
    assert result["requests"] > 0, result
    assert result["errors"] == 0, result["first_errors"]
    assert result["wrong_answers"] == 0, result
