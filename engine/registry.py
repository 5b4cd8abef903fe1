"""The public description of what the engine knows: every layer type and every loss, as
GET /api/layers serves it, so the page builds its editor, strip and marks from it."""

from __future__ import annotations

from typing import Any

from engine import layers, losses


def describe() -> dict[str, Any]:
    return {"layers": layers.describe(), "losses": losses.describe()}
