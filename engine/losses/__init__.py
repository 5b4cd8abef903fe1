"""The loss registry: every module of this package that defines ``LOSS`` is a loss, computed
from the logits so it stays exact and finite for any logit (see each module's docstring)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from engine.losses._base import Loss


def _discover() -> dict[str, Loss]:
    found: dict[str, Loss] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            loss = importlib.import_module(f"{__name__}.{info.name}").LOSS
            found[loss.name] = loss
    return found


LOSSES: dict[str, Loss] = _discover()


def describe() -> list[dict[str, Any]]:
    return [loss.describe() for loss in LOSSES.values()]


__all__ = ["LOSSES", "Loss", "describe"]
