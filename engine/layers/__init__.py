"""The layer registry: every module of this package that defines ``LAYER`` is a layer type,
registered by being here (see ``_base`` for what a type holds). Nothing outside this package
names a layer type; it asks the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from engine.layers._base import Built, Field, Layer, LayerType
from engine.layers._plans import PLAN_CACHE_BYTES, byte_bounded_cache, conv_plan, pool_plan


def _discover() -> dict[str, LayerType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(module.LAYER)
    return {t.name: t for t in sorted(found, key=lambda t: t.order)}


REGISTRY: dict[str, LayerType] = _discover()
# The forward and backward of each type by name, for callers that hold a name (tests, tools).
FORWARD = {name: t.forward for name, t in REGISTRY.items()}
BACKWARD = {name: t.backward for name, t in REGISTRY.items()}


def describe() -> list[dict[str, Any]]:
    """Every type's public description, in registry order (GET /api/layers)."""
    return [t.describe() for t in REGISTRY.values()]


__all__ = ["BACKWARD", "FORWARD", "PLAN_CACHE_BYTES", "REGISTRY", "Built", "Field", "Layer", "LayerType",
           "byte_bounded_cache", "conv_plan", "describe", "pool_plan"]
