"""The engine's errors, and how they quote a client's input (briefly: an error is never a
megabyte because the input was)."""

from __future__ import annotations

from typing import Any

SHOWN_CHARS = 60


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters with the cut marked."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value) if not isinstance(value, (list, dict)) else _short_repr(value, limit)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr(value: Any, limit: int) -> str:
    # repr of a huge nest would build the whole string first; the first items are enough.
    if isinstance(value, list):
        inner = ", ".join(shown(v, limit) for v in value[:8])
        return f"[{inner}{', ...' if len(value) > 8 else ''}]"
    items = ", ".join(f"{shown(k, limit)}: {shown(v, limit)}" for k, v in list(value.items())[:8])
    return "{" + items + (", ..." if len(value) > 8 else "") + "}"


def shown_names(names: Any, limit: int = 8) -> str:
    """A few names from a collection, each cut short, e.g. for "unknown field(s) [...]"."""
    names = sorted(map(str, names))
    parts = [shown(n) for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{', '.join(parts)}]{more}"


class SpecError(ValueError):
    """A spec that cannot be built; ``layer`` is the 0-based layer index, if one is at fault."""

    def __init__(self, message: str, layer: int | None = None) -> None:
        self.layer = layer
        super().__init__(f"layer {layer}: {message}" if layer is not None else message)


class InputError(ValueError):
    """An array or label that does not fit the network (the message names it and the shape)."""
