"""Network specs: read a JSON-like spec, check it, infer every shape and name every array.

A spec is ``{"input_shape": [C, H, W], "layers": [{"type": ...}, ...], "loss": "bce"}``.
Reading it yields a :class:`Network` whose layers carry their input/output shapes and the
seed's names (``Z{k}``, ``A{k}``, ``P{k}``, ``F``, ``W{k}``, ``b{k}``), so a bad spec fails
here, once, with the layer index and the shapes that do not fit, never later inside NumPy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.limits import (
    MAX_ACTIVATION_VALUES,
    MAX_CHANNELS,
    MAX_FILTERS,
    MAX_INPUT_HW,
    MAX_LAYERS,
    MAX_MACS,
    MAX_PARAMS,
    MAX_STRIDE,
    MAX_UNITS,
)

Shape = tuple[int, ...]

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

LOSSES = {"bce": "sigmoid", "cross_entropy": "softmax"}

# Allowed keys per layer type, with defaults (None = required). Kept as data so the
# error message can list exactly what is allowed.
LAYER_FIELDS: dict[str, dict[str, Any]] = {
    "conv2d": {"filters": None, "kernel_size": None, "stride": 1, "padding": 0},
    "maxpool2d": {"kernel_size": None, "stride": None},  # stride defaults to kernel_size
    "dense": {"units": None},
    "relu": {},
    "sigmoid": {},
    "softmax": {},
    "flatten": {},
}


class SpecError(ValueError):
    """A spec that cannot be built; ``layer`` is the 0-based layer index, if one is at fault."""

    def __init__(self, message: str, layer: int | None = None) -> None:
        self.layer = layer
        super().__init__(f"layer {layer}: {message}" if layer is not None else message)


@dataclass(frozen=True)
class Layer:
    """One layer of a read spec. ``out`` names its output array; ``params`` its W/b names."""

    index: int
    type: str
    in_shape: Shape
    out_shape: Shape
    out: str
    params: tuple[str, ...] = ()
    kernel: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    units: int = 0  # filters for conv2d, units for dense

    @property
    def padded(self) -> bool:
        return self.padding != (0, 0)

    @property
    def param_shape(self) -> Shape:
        """W's shape: (filters, C, kh, kw) for conv2d, (units, D) for dense."""
        if self.type == "conv2d":
            return (self.units, self.in_shape[0], *self.kernel)
        return (self.units, self.in_shape[0])

    def config(self) -> dict[str, Any]:
        """The layer as it would be written in a spec (normalised, defaults filled in)."""
        c: dict[str, Any] = {"type": self.type}
        if self.type == "conv2d":
            c.update(filters=self.units, kernel_size=list(self.kernel), stride=list(self.stride),
                     padding=list(self.padding))
        elif self.type == "maxpool2d":
            c.update(kernel_size=list(self.kernel), stride=list(self.stride))
        elif self.type == "dense":
            c.update(units=self.units)
        return c


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
    def example_bytes(self) -> int:
        """Memory one example of a batch costs through forward and backward (arrays, patches,
        their gradients and caches: about three copies)."""
        return 3 * 8 * self.work_values

    def summary(self) -> list[dict[str, Any]]:
        """Per layer: its config, the array it produces and shape, and its parameter count."""
        return [{**layer.config(), "index": layer.index, "output": layer.out, "in_shape": list(layer.in_shape),
                 "out_shape": list(layer.out_shape), "params": {p: list(self.param_shapes[p]) for p in layer.params},
                 "param_count": sum(_prod(self.param_shapes[p]) for p in layer.params)}
                for layer in self.layers]

    @property
    def param_count(self) -> int:
        return sum(_prod(s) for s in self.param_shapes.values())

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


def _prod(shape: Shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _int(value: Any, what: str, lo: int, hi: int, layer: int | None) -> int:
    # bool is an int subclass in Python; a spec saying "filters": true is a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SpecError(f"{what} must be an integer from {lo} to {hi}, got {value!r}", layer)
    if not lo <= value <= hi:
        raise SpecError(f"{what} must be from {lo} to {hi}, got {value}", layer)
    return value


def _pair(value: Any, what: str, lo: int, hi: int, layer: int) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(f"{what} must be an integer or a pair [h, w], got {value!r}", layer)
        return (_int(value[0], what, lo, hi, layer), _int(value[1], what, lo, hi, layer))
    v = _int(value, what, lo, hi, layer)
    return (v, v)


def read_spec(spec: Any = None) -> Network:
    """Check ``spec`` (default: the seed's network) and return the built :class:`Network`."""
    if spec is None:
        spec = DEFAULT_SPEC
    if not isinstance(spec, dict):
        raise SpecError("a network spec must be an object with input_shape, layers and loss")
    unknown = set(spec) - {"input_shape", "layers", "loss"}
    if unknown:
        raise SpecError(f"unknown network field(s) {sorted(unknown)}; allowed: input_shape, layers, loss")

    shape_in = spec.get("input_shape")
    if not isinstance(shape_in, (list, tuple)) or len(shape_in) != 3:
        raise SpecError(f"input_shape must be [channels, height, width], got {shape_in!r}")
    c = _int(shape_in[0], "input channels", 1, MAX_CHANNELS, None)
    h = _int(shape_in[1], "input height", 1, MAX_INPUT_HW, None)
    w = _int(shape_in[2], "input width", 1, MAX_INPUT_HW, None)
    input_shape: Shape = (c, h, w)

    loss = spec.get("loss")
    if loss not in LOSSES:
        raise SpecError(f"loss must be one of {sorted(LOSSES)}, got {loss!r} (the loss layer is missing)")

    raw_layers = spec.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SpecError("layers must be a non-empty list of layer objects")
    if len(raw_layers) > MAX_LAYERS:
        raise SpecError(f"at most {MAX_LAYERS} layers are allowed, got {len(raw_layers)}")

    layers: list[Layer] = []
    param_shapes: dict[str, Shape] = {}
    shape = input_shape
    k = 0  # index of the latest trainable layer: names Z{k}, A{k}, P{k}
    used: set[str] = {"X"}
    macs = 0
    patches = 0
    values = _prod(input_shape)
    for i, raw in enumerate(raw_layers):
        if not isinstance(raw, dict) or "type" not in raw:
            raise SpecError("each layer must be an object with a 'type'", i)
        kind = raw["type"]
        if kind not in LAYER_FIELDS:
            raise SpecError(f"unknown layer type {kind!r}; allowed: {', '.join(LAYER_FIELDS)}", i)
        extra = set(raw) - set(LAYER_FIELDS[kind]) - {"type"}
        if extra:
            allowed = ", ".join(LAYER_FIELDS[kind]) or "no other fields"
            raise SpecError(f"unknown field(s) {sorted(extra)} for {kind}; allowed: {allowed}", i)
        for key, default in LAYER_FIELDS[kind].items():
            if default is None and key not in raw and not (kind == "maxpool2d" and key == "stride"):
                raise SpecError(f"{kind} needs '{key}'", i)

        params: tuple[str, ...] = ()
        kw: dict[str, Any] = {}
        if kind == "conv2d":
            if len(shape) != 3:
                raise SpecError(f"conv2d needs a (C, H, W) input, got {list(shape)}: conv after flatten", i)
            cin, hin, win = shape
            filters = _int(raw["filters"], "filters", 1, MAX_FILTERS, i)
            kh, kwid = _pair(raw["kernel_size"], "kernel_size", 1, MAX_INPUT_HW, i)
            sh, sw = _pair(raw.get("stride", 1), "stride", 1, MAX_STRIDE, i)
            ph, pw = _pair(raw.get("padding", 0), "padding", 0, MAX_INPUT_HW, i)
            if ph >= kh or pw >= kwid:
                raise SpecError(f"padding {[ph, pw]} must be smaller than kernel_size {[kh, kwid]}", i)
            if kh > hin + 2 * ph or kwid > win + 2 * pw:
                raise SpecError(f"kernel {kh}x{kwid} is larger than its input {hin}x{win} "
                                f"(padded {hin + 2 * ph}x{win + 2 * pw})", i)
            k += 1
            out_shape: Shape = (filters, (hin + 2 * ph - kh) // sh + 1, (win + 2 * pw - kwid) // sw + 1)
            params = (f"W{k}", f"b{k}")
            param_shapes[f"W{k}"] = (filters, cin, kh, kwid)
            param_shapes[f"b{k}"] = (filters,)
            name = f"Z{k}"
            macs += _prod(out_shape) * cin * kh * kwid
            patches += _prod(out_shape[1:]) * cin * kh * kwid
            kw = dict(kernel=(kh, kwid), stride=(sh, sw), padding=(ph, pw), units=filters)
        elif kind == "maxpool2d":
            if len(shape) != 3:
                raise SpecError(f"maxpool2d needs a (C, H, W) input, got {list(shape)}", i)
            cin, hin, win = shape
            kh, kwid = _pair(raw["kernel_size"], "kernel_size", 1, MAX_INPUT_HW, i)
            sh, sw = _pair(raw.get("stride", [kh, kwid]), "stride", 1, MAX_STRIDE, i)
            if kh > hin or kwid > win:
                raise SpecError(f"pool window {kh}x{kwid} is larger than its input {hin}x{win}", i)
            out_shape = (cin, (hin - kh) // sh + 1, (win - kwid) // sw + 1)
            name = f"P{k}"
            kw = dict(kernel=(kh, kwid), stride=(sh, sw))
        elif kind == "flatten":
            if len(shape) != 3:
                raise SpecError(f"flatten needs a (C, H, W) input, got {list(shape)}: flatten twice", i)
            out_shape = (_prod(shape),)
            name = "F"
        elif kind == "dense":
            if len(shape) != 1:
                raise SpecError(f"dense needs a flat input, got {list(shape)}: add a flatten layer before it", i)
            units = _int(raw["units"], "units", 1, MAX_UNITS, i)
            k += 1
            out_shape = (units,)
            params = (f"W{k}", f"b{k}")
            param_shapes[f"W{k}"] = (units, shape[0])
            param_shapes[f"b{k}"] = (units,)
            name = f"Z{k}"
            macs += units * shape[0]
            kw = dict(units=units)
        else:  # relu, sigmoid, softmax: element-wise on whatever shape comes in
            if kind == "softmax" and len(shape) != 1:
                raise SpecError(f"softmax needs a flat input, got {list(shape)}", i)
            out_shape = shape
            name = f"A{k}"
        if name in used:
            raise SpecError(f"{kind} would produce a second array named {name}; at most one activation "
                            f"and one max-pool may follow each conv/dense layer, and one flatten in all", i)
        used.add(name)
        values += _prod(out_shape)
        if values > MAX_ACTIVATION_VALUES:
            raise SpecError(f"the network's arrays hold over {MAX_ACTIVATION_VALUES} values per example; "
                            "use a smaller input, fewer filters or more pooling", i)
        layers.append(Layer(index=i, type=kind, in_shape=shape, out_shape=out_shape, out=name,
                            params=params, **kw))
        shape = out_shape

    last = layers[-1]
    final = LOSSES[loss]
    if last.type != final:
        raise SpecError(f"loss {loss!r} needs the network to end with a {final} layer, it ends with "
                        f"{last.type}", last.index)
    early = [layer.index for layer in layers[:-1] if layer.type == "softmax"]
    if early:
        raise SpecError("softmax is only allowed as the last layer (with the cross_entropy loss)", early[0])
    if len(layers) < 2 or layers[-2].type != "dense":
        raise SpecError(f"the final {final} must follow a dense layer (it reads its logits)", last.index)
    if loss == "bce" and last.out_shape != (1,):
        raise SpecError(f"bce needs exactly 1 output unit, the last dense layer has {last.out_shape[0]}",
                        last.index)
    if loss == "cross_entropy" and last.out_shape[0] < 2:
        raise SpecError("cross_entropy needs at least 2 output units (one per class)", last.index)

    net = Network(spec=normalised(input_shape, layers, loss), input_shape=input_shape,
                  layers=tuple(layers), loss=loss, param_shapes=param_shapes, macs=macs,
                  work_values=values + patches)
    if net.param_count > MAX_PARAMS:
        raise SpecError(f"the network has {net.param_count} parameters; at most {MAX_PARAMS} are allowed")
    if macs > MAX_MACS:
        raise SpecError(f"the network needs {macs} multiply-adds per example; at most {MAX_MACS} are allowed")
    return net


def normalised(input_shape: Shape, layers: list[Layer], loss: str) -> dict[str, Any]:
    return {"input_shape": list(input_shape), "layers": [layer.config() for layer in layers], "loss": loss}


def default_spec() -> dict[str, Any]:
    """A fresh copy of the seed's spec (callers may mutate it)."""
    return copy.deepcopy(DEFAULT_SPEC)
