"""TEMPORARY stand-in for the engine's layer registry: GET /api/layers with exactly the contract
the lead is building (docs in the page branch's notes). The page reads its layer types from here;
the lead deletes this file and its line in app/main.py when the engine's registry lands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["meta"])


def _field(name: str, kind: str, *, required: bool, default: Any, lo: float, hi: float,
           editor_default: Any, label: str, exclusive_max: bool = False) -> dict[str, Any]:
    out = {"name": name, "kind": kind, "required": required, "default": default, "min": lo, "max": hi,
           "editor_default": editor_default, "label": label}
    if exclusive_max:
        out["exclusive_max"] = True
    return out


def _layer(type_: str, label: str, prefix: str, formula: str, formula_text: str, description: str, *,
           params: list[str] | None = None, fields: list[dict[str, Any]] | None = None,
           marks: list[str] | None = None, output_layer: bool = False) -> dict[str, Any]:
    return {"type": type_, "label": label, "output_prefix": prefix, "params": params or [],
            "fields": fields or [], "formula": formula, "formula_text": formula_text, "marks": marks or [],
            "output_layer": output_layer, "description": description}


def _pool_fields() -> list[dict[str, Any]]:
    return [_field("kernel_size", "pair", required=True, default=None, lo=1, hi=64, editor_default=2, label="kernel"),
            _field("stride", "pair", required=False, default="kernel_size", lo=1, hi=64, editor_default=2,
                   label="stride")]


LAYERS = [
    _layer("conv2d", "Convolution", "Z", "{out} = Conv({in}, {W}) + {b}", "Z = X * W + b",
           "Slides each filter over the input and adds a bias; its weight gradient correlates the input "
           "with the output's gradient.", params=["W", "b"], fields=[
               _field("filters", "int", required=True, default=None, lo=1, hi=64, editor_default=4, label="filters"),
               _field("kernel_size", "pair", required=True, default=None, lo=1, hi=64, editor_default=3,
                      label="kernel"),
               _field("stride", "pair", required=False, default=1, lo=1, hi=8, editor_default=1, label="stride"),
               _field("padding", "pair", required=False, default=0, lo=0, hi=64, editor_default=0, label="padding")]),
    _layer("maxpool2d", "Max pool", "P", "{out} = MaxPool({in})", "P = max over each window of A",
           "Keeps each window's largest value; the gradient flows back only to that winning cell.",
           fields=_pool_fields(), marks=["winners"]),
    _layer("avgpool2d", "Average pool", "P", "{out} = AvgPool({in})", "P = mean over each window of A",
           "Averages each window; the gradient is spread evenly over the window's cells.",
           fields=_pool_fields(), marks=["windows"]),
    _layer("dense", "Dense", "Z", "{out} = {in}{W} + {b}", "Z = W F + b",
           "Every output is a weighted sum of every input plus a bias.", params=["W", "b"], fields=[
               _field("units", "int", required=True, default=None, lo=1, hi=256, editor_default=4, label="units")]),
    _layer("flatten", "Flatten", "F", "{out} = Flatten({in})", "F = reshape(P)",
           "Lays the maps out as one vector; the gradient is reshaped back."),
    _layer("relu", "ReLU", "A", "{out} = ReLU({in})", "A = max(0, Z)",
           "Passes positive values and zeroes the rest; the gradient passes only where Z > 0.", marks=["gate"]),
    _layer("leaky_relu", "Leaky ReLU", "A", "{out} = LeakyReLU({in})", "A = Z if Z > 0 else slope·Z",
           "Like ReLU but lets a small slope through for negative inputs, so their gradient is not zero.",
           fields=[_field("negative_slope", "number", required=False, default=0.01, lo=0, hi=1, editor_default=0.01,
                          label="slope", exclusive_max=True)], marks=["gate"]),
    _layer("tanh", "Tanh", "A", "{out} = tanh({in})", "A = tanh(Z)",
           "Squashes values into (-1, 1); its local derivative is 1 - A²."),
    _layer("sigmoid", "Sigmoid", "A", "{out} = σ({in})", "A = 1 / (1 + e^-Z)",
           "Squashes a value into (0, 1), read as a probability; its local derivative is A(1 - A).",
           output_layer=True),
    _layer("softmax", "Softmax", "A", "{out} = softmax({in})", "A = e^Z / Σ e^Z",
           "Turns scores into probabilities that sum to 1.", output_layer=True),
]

LOSSES = [
    {"name": "bce", "label": "sigmoid + binary cross-entropy", "output_layer": "sigmoid",
     "formula": "L = BCE({out}, Y)", "output_units": "exactly 1", "classes": 2},
    {"name": "cross_entropy", "label": "softmax + cross-entropy", "output_layer": "softmax",
     "formula": "L = CE({out}, Y)", "output_units": "at least 2", "classes": None},
]


@router.get("/layers")
async def layers() -> dict[str, Any]:
    """Every layer type and loss the network spec accepts (stub of the engine's registry)."""
    return {"layers": LAYERS, "losses": LOSSES}
