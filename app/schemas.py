"""Request and response bodies of the JSON API, with an example for every endpoint.

Arrays travel as nested lists of numbers (typed ``Any`` here and checked in app/arrays.py,
which reports the array's name and expected shape; pydantic's own messages for a 6x6 nest
of floats would be dozens of lines). Names follow the seed: W1, b1, Z1, A1, P1, F, Z2, A2.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt

from app.settings import settings
from engine import default_spec, init_params, read_spec

NestedList = Any  # a number or a rectangular nested list of finite numbers

# Examples computed from the engine itself, so the docs always show a valid body.
_NET = read_spec()
EXAMPLE_PARAMS = {k: v.round(4).tolist() for k, v in init_params(_NET, 0).items()}
EXAMPLE_INPUT = [[0.0, 0.0, 1.0, 1.0, 0.0, 0.0] for _ in range(6)]  # a vertical bar
EXAMPLE_GRADS = {"d" + k: (0.01 * np.asarray(v)).round(4).tolist() for k, v in EXAMPLE_PARAMS.items()}

NetworkField = Field(default=None, description="Network spec; omitted means the seed's network.",
                     examples=[default_spec()])


def in_float_range(value: Any) -> Any:
    """An integer no float64 holds (10**400) is refused as such: pydantic would call it "not a
    valid number", and the engine's float(label) would overflow."""
    if type(value) is int and abs(value) > sys.float_info.max:
        raise ValueError(f"must be a finite number in range (|x| <= {sys.float_info.max:.4g})")
    return value


InRange = BeforeValidator(in_float_range)
Label = Annotated[StrictInt | StrictFloat, InRange]
Rate = Annotated[float, InRange]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @classmethod
    def read(cls, data: Any, plain: bool = False) -> Self:
        """The validated body. ``plain``: the raw body vouched that every number in it is finite
        and no boolean or null is anywhere in it (app/body.py's ``parse``), so its arrays skip
        those checks (app/arrays.py)."""
        body = cls.model_validate(data)
        # Kept in pydantic's slot for private values, set directly: a declared PrivateAttr
        # runs pydantic's Python-level post-init on every validation, which cost more than
        # validating the rest of the body.
        object.__setattr__(body, "__pydantic_private__", {"plain_numbers": plain})
        return body

    @property
    def plain_numbers(self) -> bool:
        private = self.__pydantic_private__
        return bool(private and private.get("plain_numbers"))


class InitRequest(Body):
    network: dict[str, Any] | None = NetworkField
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="RNG seed; the same seed gives the same params.")
    model_config = ConfigDict(json_schema_extra={"examples": [{"seed": 0}]})


class ForwardRequest(Body):
    network: dict[str, Any] | None = NetworkField
    params: dict[str, NestedList] = Field(description="W{k}, b{k} in PyTorch layouts (W1 (1,1,3,3) or 3x3).")
    input: NestedList = Field(description="X: (C, H, W), or (H, W) when C = 1.")
    label: Label | None = Field(None, description="0/1 for bce, a class index for cross_entropy.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "input": EXAMPLE_INPUT, "label": 1}]})


class BackwardRequest(ForwardRequest):
    label: Label = Field(description="0/1 for bce, a class index for cross_entropy.")


class UpdateRequest(Body):
    network: dict[str, Any] | None = NetworkField
    params: dict[str, NestedList]
    gradients: dict[str, NestedList] = Field(description="dW{k}, db{k}, as returned by /api/backward.")
    learning_rate: Rate = Field(gt=0, le=settings.max_learning_rate, strict=True, description="eta in W - eta * dW.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "gradients": EXAMPLE_GRADS, "learning_rate": 0.1}]})


class StepRequest(BackwardRequest):
    learning_rate: Rate = Field(gt=0, le=settings.max_learning_rate, strict=True, description="eta in W - eta * dW.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "input": EXAMPLE_INPUT, "label": 1, "learning_rate": 0.1}]})


class GradcheckRequest(BackwardRequest):
    max_entries: StrictInt = Field(settings.max_gradcheck_entries, ge=1, le=settings.max_gradcheck_entries,
                                   description="Entries checked per parameter; larger tensors are sampled.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "input": EXAMPLE_INPUT, "label": 1}]})


class NetworkRequest(Body):
    network: dict[str, Any] | None = NetworkField
    model_config = ConfigDict(json_schema_extra={"examples": [{"network": default_spec()}]})


# ----------------------------------------------------------------------------- responses
class FieldError(BaseModel):
    loc: list[str]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every 4xx body (app/errors.py): never FastAPI's default, whose `detail` is a list."""

    detail: str = Field(description="What was wrong and what is allowed.")
    errors: list[FieldError] | None = Field(None, description="Per field, when the request failed validation.")


# What the server itself may answer to any POST, before or around a route's own work (the
# middleware's guards, the JSON parse): documented on every POST route.
SERVER_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be parsed (not UTF-8, or nested too deep)."},
    408: {"model": ErrorResponse, "description": "The body arrived too slowly (over 5 s, or under 1 KiB/s after 1 s)."},
    413: {"model": ErrorResponse, "description": "The body is over this route's limit (1 MiB of JSON, 2 MiB uploads)."},
    503: {"model": ErrorResponse, "description": "The worker is busy (requests or bodies in flight, or large "
                                                 "computations); retry after the Retry-After header's seconds."},
}


class Prediction(BaseModel):
    class_: int = Field(alias="class", description="The predicted class (A2 >= 0.5 for bce).")
    probabilities: list[float] = Field(description="Per class; for bce [1 - A2, A2].")


class InitResponse(BaseModel):
    network: dict[str, Any]
    params: dict[str, NestedList]


class ForwardResponse(BaseModel):
    network: dict[str, Any] = Field(description="The spec used, normalised.")
    activations: dict[str, NestedList] = Field(description="X, Z1, A1, P1, F, Z2, A2, ... one example each.")
    masks: dict[str, NestedList] = Field(description="Per max-pool output P{k}: 1 where its input's cell won.")
    prediction: Prediction
    loss: float | None = None


class BackwardResponse(ForwardResponse):
    gradients: dict[str, NestedList] = Field(description="d + name: dL/d(name) for every activation and parameter.")
    local: dict[str, NestedList] = Field(description="Element-wise chain-rule factors: 'dA2/dZ2' = a2 (1 - a2) "
                                                     "for a sigmoid, 'dA1/dZ1' = 1 where Z1 > 0 for a ReLU.")
    not_representable: list[str] = Field(
        default_factory=list,
        description="Entries of display-only arrays (the output's dA, dX, `local`) that float64 cannot hold, sent as "
                    "null: e.g. 'gradients.dA2[1]' when cross-entropy's -1/a overflows because a class's probability "
                    "underflowed. Indices are in the arrays' layout in this answer (one example). Empty when every "
                    "number is finite; an overflow in anything used for learning is a 422 instead.")


class UpdateResponse(BaseModel):
    params: dict[str, NestedList]


class StepResponse(BackwardResponse):
    params: dict[str, NestedList] = Field(description="The updated parameters W - eta dW.")
    loss_after: float = Field(description="The updated network's loss on the same example.")
    learning_rate: float


class EntryCheck(BaseModel):
    name: str
    index: list[list[int]]
    analytic: list[float]
    numeric: list[float]
    rel_error: list[float]
    max_rel_error: float
    entries_total: int


class GradcheckResponse(BaseModel):
    eps: float
    loss: float
    max_rel_error: float
    checks: list[EntryCheck]


class ImageResponse(BaseModel):
    input: NestedList = Field(description="(C, H, W) in [0, 1], ready to send as `input`.")
    channels: int
    height: int
    width: int
    source: dict[str, Any] = Field(description="What was uploaded: filename, format, size, mode, frames.")


class NetworkResponse(BaseModel):
    network: dict[str, Any]
    layers: list[dict[str, Any]]
    shapes: dict[str, list[int]]
    param_shapes: dict[str, list[int]]
    param_count: int
    macs: int


class HealthResponse(BaseModel):
    status: str
    version: str
    limits: dict[str, Any]


# ----------------------------------------------------------------------------- training
class TrainRequest(Body):
    network: dict[str, Any] | None = NetworkField
    params: dict[str, NestedList]
    dataset: str = Field(description="A name from GET /api/datasets.")
    classes: list[StrictInt] | None = Field(None, min_length=2, max_length=10,
                                            description="Train on these classes only, relabelled 0..k-1 in order.")
    iterations: StrictInt = Field(ge=1, le=settings.max_train_iterations)
    batch_size: StrictInt = Field(16, ge=1, le=settings.max_batch_size)
    learning_rate: Rate = Field(gt=0, le=settings.max_learning_rate, strict=True)
    optimizer: Literal["sgd", "momentum", "adam"] = Field("sgd", description="sgd is the seed's rule.")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="Seeds the minibatch order.")
    points: StrictInt = Field(50, ge=1, le=500, description="How many history points (and progress events).")
    stream: bool = Field(False, description="True: NDJSON progress events as the run goes, then the result.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "dataset": "bars", "iterations": 1500, "batch_size": 16, "learning_rate": 0.5,
         "optimizer": "sgd", "seed": 0}]})


class TrainResponse(BaseModel):
    status: Literal["done", "diverged"]
    initial: dict[str, Any] | None = Field(description="Where the run started: {iteration 0, loss null, "
                                                       "train_accuracy, test_accuracy} before its first step.")
    iterations_done: int
    diverged_at: int | None = Field(None, description="The iteration whose loss or update was not finite.")
    params: dict[str, NestedList] = Field(description="The trained (or last finite) parameters.")
    history: list[dict[str, Any]] = Field(description="{iteration, loss, train_accuracy, test_accuracy} points.")
    dataset: dict[str, Any]


# ----------------------------------------------------------------------------- explain
class ExplainRequest(StepRequest):
    array: str = Field(max_length=64, description="Any array the API returns: X, Z1, A1, P1, F, dZ1, dW1, dX, "
                                                  "dA1/dZ1, L, W1, W1_new, ...")
    index: list[StrictInt] = Field(max_length=8, description="The cell, in the array's one-example layout "
                                                             "(Z1 [f, i, j], W1 [f, c, i, j], F [k]); [] for L.")
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"params": EXAMPLE_PARAMS, "input": EXAMPLE_INPUT, "label": 1, "learning_rate": 0.1, "array": "dW1",
         "index": [0, 0, 1, 2]}]})


class ExplainFactor(BaseModel):
    array: str | None = Field(description="The array this factor is an entry of; null for a constant.")
    index: list[int] | None = None
    value: float
    label: str | None = Field(None, description="A constant's name: -Y, eta, 1/N, slope, 1, 0, ...")
    padding: bool | None = Field(None, description="A zero-padding cell, outside the array it pads.")


class ExplainTerm(BaseModel):
    factors: list[ExplainFactor]
    value: float = Field(description="The product of the factors.")


class ExplainResponse(BaseModel):
    array: str
    index: list[int]
    value: float | None = Field(description="The entry, as /api/step answers it (null where float64 cannot hold "
                                            "a display-only value; then not_representable is [\"value\"]).")
    not_representable: list[str] | None = None
    rule: str = Field(description="The rule in symbols, as LaTeX.")
    rule_mathml: str = Field(description="The same rule as MathML.")
    op: str = Field(description="How the terms give the value: sum, max, mean, sigmoid, tanh, softmax, bce_logits, "
                                "cross_entropy, bce_output_grad, ce_output_grad, given (see the README).")
    how: str = Field(description="How the op makes the value from the terms, in words.")
    terms: list[ExplainTerm]
    note: str = Field(description="Why this rule, in a sentence.")
