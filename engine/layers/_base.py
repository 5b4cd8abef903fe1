"""What a layer type is, and the pieces every type module uses.

A layer type is one module in this package holding everything about it: its spec fields
(defaults, bounds, error texts), shape inference, output name, parameters (shapes, init),
cost, forward beside backward (CS231n style), what it records for the page (winners, the
local derivative dA/dZ) and its description for the page. The module defines a subclass of
:class:`LayerType` and exposes one instance as ``LAYER``; the registry (``__init__``) finds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.errors import SpecError, shown

Array = np.ndarray
Shape = tuple[int, ...]
Cache = dict[str, Any]
Grads = tuple[Array, ...]

REQUIRED = object()  # a field's default when the spec must give it


@dataclass(frozen=True)
class Field:
    """One spec field. ``kind`` "int" (an integer), "pair" (an integer or [h, w]) or "number"
    (a finite float). ``default`` may name another field ("kernel_size"): same value as it."""

    name: str
    kind: str
    lo: float
    hi: float
    default: Any = REQUIRED
    editor_default: Any = None
    label: str = ""
    exclusive_max: bool = False

    def read(self, raw: dict[str, Any], got: dict[str, Any], layer: int) -> Any:
        if self.name in raw:
            value = raw[self.name]
        elif self.default is REQUIRED:
            raise SpecError(f"{raw['type']} needs '{self.name}'", layer)
        elif isinstance(self.default, str):
            return got[self.default]
        else:
            value = self.default
        if self.kind == "pair":
            return read_pair(value, self.name, int(self.lo), int(self.hi), layer)
        if self.kind == "int":
            return read_int(value, self.name, int(self.lo), int(self.hi), layer)
        return self._number(value, layer)

    def _number(self, value: Any, layer: int) -> float:
        top = f"below {self.hi}" if self.exclusive_max else f"at most {self.hi}"
        what = f"{self.name} must be a number from {self.lo}, {top}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{what}, got {shown(value)}", layer)
        if isinstance(value, int) and abs(value) > 2 ** 53:
            raise SpecError(f"{what}, got {shown(value)}", layer)
        v = float(value)
        if not (math.isfinite(v) and self.lo <= v and (v < self.hi if self.exclusive_max else v <= self.hi)):
            raise SpecError(f"{what}, got {shown(value)}", layer)
        return v

    def to_json(self, value: Any) -> Any:
        return list(value) if self.kind == "pair" else value

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "required": self.default is REQUIRED,
                "default": None if self.default is REQUIRED else self.default, "min": self.lo, "max": self.hi,
                "exclusive_max": self.exclusive_max, "editor_default": self.editor_default,
                "label": self.label or self.name}


def read_int(value: Any, what: str, lo: int, hi: int, layer: int | None) -> int:
    # bool is an int subclass in Python; a spec saying "filters": true is a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SpecError(f"{what} must be an integer from {lo} to {hi}, got {shown(value)}", layer)
    if not lo <= value <= hi:
        raise SpecError(f"{what} must be from {lo} to {hi}, got {shown(value)}", layer)
    return value


def read_pair(value: Any, what: str, lo: int, hi: int, layer: int) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(f"{what} must be an integer or a pair [h, w], got {shown(value)}", layer)
        return (read_int(value[0], what, lo, hi, layer), read_int(value[1], what, lo, hi, layer))
    v = read_int(value, what, lo, hi, layer)
    return (v, v)


def prod(shape: Shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


@dataclass(frozen=True)
class Layer:
    """One layer of a read spec: its type's module (``kind``), shapes, output name, its
    parameters' names and shapes (in the type's role order, e.g. W1, b1) and its read fields
    (``cfg``). Fields are also attributes: ``layer.kernel_size``; so are the type's derived
    ``attrs`` (e.g. a conv's ``kernel``, ``stride``, ``padding``)."""

    index: int
    type: str
    kind: LayerType
    in_shape: Shape
    out_shape: Shape
    out: str
    params: tuple[str, ...] = ()
    param_shapes: tuple[Shape, ...] = ()
    cfg: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Fields and derived attributes as plain attributes: the forward pass reads them on
        # every call, and an instance attribute is the cheapest lookup there is.
        for name, value in {**self.cfg, **self.attrs}.items():
            if name in self.__dataclass_fields__:
                raise TypeError(f"{self.type}: a field or attribute may not be named {name!r}")
            object.__setattr__(self, name, value)

    @property
    def param_shape(self) -> Shape:
        """The first parameter's shape (W's, for conv2d and dense)."""
        return self.param_shapes[0]

    def config(self) -> dict[str, Any]:
        """The layer as it would be written in a spec (normalised, defaults filled in)."""
        return {"type": self.type, **{f.name: f.to_json(self.cfg[f.name]) for f in self.kind.fields}}


@dataclass(frozen=True)
class Built:
    """What a type infers from its fields and input: the output shape, its parameters' shapes
    by role, the forward pass's multiply-adds and im2col patch values per example, and
    derived attributes its forward reads."""

    out_shape: Shape
    params: dict[str, Shape] = field(default_factory=dict)
    macs: int = 0
    patches: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)


class LayerType:
    """The interface of a layer type; see the package docstring. Defaults suit element-wise
    layers with no parameters."""

    name: ClassVar[str]
    label: ClassVar[str]
    order: ClassVar[int]  # place in the registry (the editor's menu)
    prefix: ClassVar[str]  # output name: prefix + block index (Z1, A1, P1)
    opens_block: ClassVar[bool] = False  # a layer with weights starts block k + 1
    fields: ClassVar[tuple[Field, ...]] = ()
    param_roles: ClassVar[tuple[str, ...]] = ()
    input_rank: ClassVar[int | None] = None  # 3 for (C, H, W), 1 for flat, None: any
    input_hint: ClassVar[str] = ""  # what a wrong-rank input usually means, for the error
    output_layer: ClassVar[bool] = False  # only ever last (chosen by the loss)
    marks: ClassVar[tuple[str, ...]] = ()
    formula: ClassVar[str]  # {out}, {in} and the parameter roles ({W}, {b}) filled in per layer
    formula_text: ClassVar[str]
    description: ClassVar[str]

    def out_name(self, k: int) -> str:
        return f"{self.prefix}{k}"

    def check_input(self, shape: Shape, layer: int) -> None:
        if self.input_rank is None or len(shape) == self.input_rank:
            return
        wanted = "a (C, H, W)" if self.input_rank == 3 else "a flat"
        hint = f": {self.input_hint}" if self.input_hint else ""
        raise SpecError(f"{self.name} needs {wanted} input, got {list(shape)}{hint}", layer)

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        """Element-wise: the output has the input's shape."""
        return Built(out_shape=shape)

    def init(self, shapes: dict[str, Shape], rng: np.random.Generator) -> dict[str, Array]:
        """PyTorch's default init, seeded: weights kaiming-uniform with a = sqrt(5), which is
        U(-1/sqrt(fan_in), +1/sqrt(fan_in)), biases from the same range (drawn in role order)."""
        if not shapes:
            return {}
        first = next(iter(shapes.values()))
        bound = 1.0 / np.sqrt(prod(first[1:]))
        return {role: rng.uniform(-bound, bound, size=s) for role, s in shapes.items()}

    def forward(self, x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
        raise NotImplementedError

    def backward(self, dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array | None, Grads]:
        raise NotImplementedError

    def local(self, z: Array, a: Array, layer: Layer) -> Array | None:
        """The element-wise local derivative dA/dZ the page shows, or None (not element-wise)."""
        return None

    def mask(self, cache: Cache) -> Array | None:
        """Winners the page outlines on the input (1 where a window's max was taken), or None."""
        return None

    # Explanations (engine/explain.py): the rule of one output cell, or of one cell of a
    # gradient this layer's backward produces (``role`` "input" for the input's gradient, or a
    # parameter role such as "W"), with every term's numbers.
    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} has no forward explanation")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} has no backward explanation")

    def explain_local(self, ex: Any, layer: Layer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} has no local derivative")

    def describe(self) -> dict[str, Any]:
        """The public description GET /api/layers serves."""
        return {"type": self.name, "label": self.label, "output_prefix": self.out_name(0).rstrip("0"),
                "params": list(self.param_roles), "input": {3: "maps", 1: "flat"}.get(self.input_rank, "any"),
                "fields": [f.describe() for f in self.fields], "formula": self.formula,
                "formula_text": self.formula_text, "marks": list(self.marks), "output_layer": self.output_layer,
                "description": self.description}
