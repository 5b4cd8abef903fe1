"""Network specs: read a JSON-like spec, check it, infer every shape and name every array.

A spec is ``{"input_shape": [C, H, W], "layers": [{"type": ...}, ...], "loss": "bce"}``.
Reading it yields a :class:`Network` whose layers carry their input/output shapes and the
seed's names (``Z{k}``, ``A{k}``, ``P{k}``, ``F``, ``W{k}``, ``b{k}``), so a bad spec fails
here, once, with the layer index and the shapes that do not fit, never later inside NumPy.
Everything about a layer type comes from the registry (engine/layers); this file names none.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SpecError, shown, shown_names
from engine.layers import REGISTRY, Layer, LayerType
from engine.layers._base import prod, read_int
from engine.limits import MAX_ACTIVATION_VALUES, MAX_CHANNELS, MAX_INPUT_HW, MAX_LAYERS, MAX_MACS, MAX_PARAMS
from engine.losses import LOSSES, Loss

Shape = tuple[int, ...]
__all__ = ["DEFAULT_SPEC", "Layer", "Network", "SpecError", "default_spec", "read_spec"]

# The seed's network: 6x6 input, one 3x3 filter + bias, ReLU, 2x2 pool, flatten to 4,
# dense 1x4 + bias, sigmoid, binary cross-entropy. 15 trainable parameters.
DEFAULT_SPEC: dict[str, Any] = {
    "input_shape": [1, 6, 6],
    "layers": [
        {"type": "conv2d", "filters": 1, "kernel_size": 3, "stride": 1, "padding": 0},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2, "stride": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 1},
        {"type": "sigmoid"},
    ],
    "loss": "bce",
}


@dataclass(frozen=True)
class Network:
    spec: dict[str, Any]
    input_shape: Shape
    layers: tuple[Layer, ...]
    loss: str
    param_shapes: dict[str, Shape] = field(default_factory=dict)
    macs: int = 0  # multiply-adds per example in the forward pass
    work_values: int = 0  # float64 values one example holds in a forward pass: arrays + im2col patches

    @property
    def loss_kind(self) -> Loss:
        return LOSSES[self.loss]

    @property
    def example_bytes(self) -> int:
        """Memory one example of a batch costs through forward and backward (arrays, patches,
        their gradients and caches: about three copies)."""
        return 3 * 8 * self.work_values

    def summary(self) -> list[dict[str, Any]]:
        """Per layer: its config, the array it produces and shape, and its parameter count."""
        return [{**layer.config(), "index": layer.index, "output": layer.out, "in_shape": list(layer.in_shape),
                 "out_shape": list(layer.out_shape), "params": {p: list(self.param_shapes[p]) for p in layer.params},
                 "param_count": sum(prod(self.param_shapes[p]) for p in layer.params)}
                for layer in self.layers]

    @property
    def param_count(self) -> int:
        return sum(prod(s) for s in self.param_shapes.values())

    @property
    def output_units(self) -> int:
        return self.layers[-1].out_shape[0]

    @property
    def activation_names(self) -> list[str]:
        return ["X"] + [layer.out for layer in self.layers]

    def shapes(self) -> dict[str, Shape]:
        """Every activation's per-example shape, by name, in forward order."""
        out = {"X": self.input_shape}
        out.update({layer.out: layer.out_shape for layer in self.layers})
        return out


def _kind(raw: Any, i: int) -> LayerType:
    if not isinstance(raw, dict) or "type" not in raw:
        raise SpecError("each layer must be an object with a 'type'", i)
    name = raw["type"]
    if not isinstance(name, str) or name not in REGISTRY:
        raise SpecError(f"unknown layer type {shown(name)}; allowed: {', '.join(REGISTRY)}", i)
    kind = REGISTRY[name]
    extra = set(raw) - {f.name for f in kind.fields} - {"type"}
    if extra:
        allowed = ", ".join(f.name for f in kind.fields) or "no other fields"
        raise SpecError(f"unknown field(s) {shown_names(extra)} for {name}; allowed: {allowed}", i)
    return kind


def _input_shape(spec: dict[str, Any]) -> Shape:
    shape_in = spec.get("input_shape")
    if not isinstance(shape_in, (list, tuple)) or len(shape_in) != 3:
        raise SpecError(f"input_shape must be [channels, height, width], got {shown(shape_in)}")
    return (read_int(shape_in[0], "input channels", 1, MAX_CHANNELS, None),
            read_int(shape_in[1], "input height", 1, MAX_INPUT_HW, None),
            read_int(shape_in[2], "input width", 1, MAX_INPUT_HW, None))


def _top_level(spec: Any) -> tuple[Shape, Loss, list[Any]]:
    if not isinstance(spec, dict):
        raise SpecError("a network spec must be an object with input_shape, layers and loss")
    unknown = set(spec) - {"input_shape", "layers", "loss"}
    if unknown:
        raise SpecError(f"unknown network field(s) {shown_names(unknown)}; allowed: input_shape, layers, loss")
    input_shape = _input_shape(spec)
    loss = spec.get("loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise SpecError(f"loss must be one of {sorted(LOSSES)}, got {shown(loss)} (the loss layer is missing)")
    raw_layers = spec.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SpecError("layers must be a non-empty list of layer objects")
    if len(raw_layers) > MAX_LAYERS:
        raise SpecError(f"at most {MAX_LAYERS} layers are allowed, got {len(raw_layers)}")
    return input_shape, LOSSES[loss], raw_layers


@dataclass
class _Reader:
    """The running state of a read: the block index k (names Z{k}, A{k}, P{k}), the names used,
    and the totals the limits bound."""

    shape: Shape
    k: int = 0
    used: set[str] = field(default_factory=lambda: {"X"})
    param_shapes: dict[str, Shape] = field(default_factory=dict)
    macs: int = 0
    patches: int = 0
    values: int = 0

    def layer(self, i: int, raw: dict[str, Any]) -> Layer:
        kind = _kind(raw, i)
        kind.check_input(self.shape, i)
        cfg: dict[str, Any] = {}
        for f in kind.fields:
            cfg[f.name] = f.read(raw, cfg, i)
        built = kind.build(cfg, self.shape, i)
        if kind.opens_block:
            self.k += 1
        name = kind.out_name(self.k)
        if name in self.used:
            raise SpecError(f"{kind.name} would produce a second array named {name}; at most one activation "
                            f"and one pool may follow each conv/dense layer, and one flatten in all", i)
        self.used.add(name)
        names = tuple(f"{role}{self.k}" for role in built.params)
        self.param_shapes.update(zip(names, built.params.values()))
        self.macs += built.macs
        self.patches += built.patches
        self.values += prod(built.out_shape)
        if self.values > MAX_ACTIVATION_VALUES:
            raise SpecError(f"the network's arrays hold over {MAX_ACTIVATION_VALUES} values per example; "
                            "use a smaller input, fewer filters or more pooling", i)
        layer = Layer(index=i, type=kind.name, kind=kind, in_shape=self.shape, out_shape=built.out_shape, out=name,
                      params=names, param_shapes=tuple(built.params.values()), cfg=cfg, attrs=built.attrs)
        self.shape = built.out_shape
        return layer


def _check_output(layers: list[Layer], loss: Loss) -> None:
    last = layers[-1]
    if last.type != loss.output_layer:
        raise SpecError(f"loss {loss.name!r} needs the network to end with a {loss.output_layer} layer, it ends "
                        f"with {last.type}", last.index)
    early = [layer for layer in layers[:-1] if layer.kind.output_layer]
    if early:
        raise SpecError(f"{early[0].type} is only allowed as the last layer (with the loss that reads it)",
                        early[0].index)
    if len(layers) < 2 or layers[-2].type != loss.logits_layer:
        raise SpecError(f"the final {last.type} must follow a {loss.logits_layer} layer (it reads its logits)",
                        last.index)
    wrong = loss.units_error(last.out_shape[0])
    if wrong:
        raise SpecError(wrong, last.index)


def read_spec(spec: Any = None) -> Network:
    """Check ``spec`` (default: the seed's network) and return the built :class:`Network`."""
    input_shape, loss, raw_layers = _top_level(DEFAULT_SPEC if spec is None else spec)
    reader = _Reader(shape=input_shape, values=prod(input_shape))
    layers = [reader.layer(i, raw) for i, raw in enumerate(raw_layers)]
    _check_output(layers, loss)
    net = Network(spec=normalised(input_shape, layers, loss.name), input_shape=input_shape, layers=tuple(layers),
                  loss=loss.name, param_shapes=reader.param_shapes, macs=reader.macs,
                  work_values=reader.values + reader.patches)
    if net.param_count > MAX_PARAMS:
        raise SpecError(f"the network has {net.param_count} parameters; at most {MAX_PARAMS} are allowed")
    if net.macs > MAX_MACS:
        raise SpecError(f"the network needs {net.macs} multiply-adds per example; at most {MAX_MACS} are allowed")
    return net


def normalised(input_shape: Shape, layers: list[Layer], loss: str) -> dict[str, Any]:
    return {"input_shape": list(input_shape), "layers": [layer.config() for layer in layers], "loss": loss}


def default_spec() -> dict[str, Any]:
    """A fresh copy of the seed's spec (callers may mutate it)."""
    return copy.deepcopy(DEFAULT_SPEC)
