"""read_spec: the seed's network reads to the documented names and shapes, and every bad spec
fails here with a SpecError naming the layer at fault and the sizes that do not fit (the
API forwards the message verbatim, so its wording is part of the interface)."""

from __future__ import annotations

from typing import Any

import pytest
from engine_testlib import FLATTEN, RELU, SIGMOID, SOFTMAX, conv, dense, pool, spec

from engine import DEFAULT_SPEC, SpecError, default_spec, read_spec
from engine.limits import MAX_PARAMS

HEAD = [FLATTEN, dense(1), SIGMOID]


# ----------------------------------------------------------------------------- the seed's network
def test_default_spec_reads_to_the_seed_network() -> None:
    net = read_spec()
    assert net.param_count == 15  # 9 + 1 + 4 + 1
    assert net.param_shapes == {"W1": (1, 1, 3, 3), "b1": (1,), "W2": (1, 4), "b2": (1,)}
    assert net.activation_names == ["X", "Z1", "A1", "P1", "F", "Z2", "A2"]
    assert net.shapes() == {"X": (1, 6, 6), "Z1": (1, 4, 4), "A1": (1, 4, 4), "P1": (1, 2, 2), "F": (4,),
                            "Z2": (1,), "A2": (1,)}
    assert [layer.type for layer in net.layers] == ["conv2d", "relu", "maxpool2d", "flatten", "dense", "sigmoid"]
    assert [layer.params for layer in net.layers] == [("W1", "b1"), (), (), (), ("W2", "b2"), ()]
    assert net.loss == "bce" and net.output_units == 1 and net.input_shape == (1, 6, 6)


def test_read_spec_none_and_default_spec_agree() -> None:
    assert read_spec(None) == read_spec(default_spec()) == read_spec(DEFAULT_SPEC)


def test_default_spec_is_a_fresh_copy() -> None:
    # Callers may mutate what default_spec() returns; the module's DEFAULT_SPEC must not change.
    s = default_spec()
    s["layers"][0]["filters"] = 7
    s["layers"].append(RELU)
    assert DEFAULT_SPEC["layers"][0]["filters"] == 1 and len(DEFAULT_SPEC["layers"]) == 6
    assert read_spec().param_count == 15


def test_normalised_spec_fills_defaults_and_pairs() -> None:
    # Integers become [h, w] pairs, float integers become ints, pool stride defaults to its kernel.
    net = read_spec(spec([2, 7, 6], [conv(2.0, [2, 3]), pool(2), FLATTEN, dense(3), SOFTMAX], "cross_entropy"))
    assert net.spec["layers"][0] == {"type": "conv2d", "filters": 2, "kernel_size": [2, 3], "stride": [1, 1],
                                     "padding": [0, 0]}
    assert net.spec["layers"][1] == {"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2]}
    assert net.shapes()["Z1"] == (2, 6, 4) and net.shapes()["P1"] == (2, 3, 2) and net.shapes()["F"] == (12,)
    assert read_spec(net.spec) == net  # the normalised spec reads back to the same network


def test_names_and_shapes_of_a_two_block_network() -> None:
    net = read_spec(spec([3, 12, 10], [conv(4, 3, 1, 1), RELU, pool(2), conv(2, [3, 2], 2, [2, 1]), SIGMOID,
                                       pool(3, 2), FLATTEN, dense(5), RELU, dense(3), SOFTMAX], "cross_entropy"))
    assert net.activation_names == ["X", "Z1", "A1", "P1", "Z2", "A2", "P2", "F", "Z3", "A3", "Z4", "A4"]
    shapes = net.shapes()
    assert shapes["Z1"] == (4, 12, 10) and shapes["P1"] == (4, 6, 5)
    # (6 + 2*2 - 3) // 2 + 1 = 4, (5 + 2*1 - 2) // 2 + 1 = 3; then pool 3/2: (4-3)//2+1 = 1, (3-3)//2+1 = 1
    assert shapes["Z2"] == (2, 4, 3) and shapes["P2"] == (2, 1, 1) and shapes["F"] == (2,)
    assert net.param_shapes == {"W1": (4, 3, 3, 3), "b1": (4,), "W2": (2, 4, 3, 2), "b2": (2,), "W3": (5, 2),
                                "b3": (5,), "W4": (3, 5), "b4": (3,)}
    assert net.param_count == 108 + 4 + 48 + 2 + 10 + 5 + 15 + 3
    assert net.output_units == 3


# ----------------------------------------------------------------------------- bad specs
# (spec, layer index or None for a network-level error, fragments the message must contain)
BAD: dict[str, tuple[Any, int | None, list[str]]] = {
    "kernel larger than input": (
        spec([1, 4, 4], [conv(1, 5), RELU, *HEAD]), 0,
        ["layer 0", "kernel 5x5 is larger than its input 4x4"]),
    "kernel larger than padded input": (
        spec([1, 2, 6], [conv(1, [5, 3], 1, [1, 0]), *HEAD]), 0,
        ["layer 0", "kernel 5x3", "input 2x6", "padded 4x6"]),
    "unknown layer type": (
        spec([1, 6, 6], [conv(1, 3), RELU, {"type": "dropout"}, *HEAD]), 2,
        ["layer 2", "unknown layer type 'dropout'", "conv2d", "maxpool2d", "dense"]),
    "dense before flatten": (
        spec([1, 6, 6], [conv(1, 3), dense(1), SIGMOID]), 1,
        ["layer 1", "dense needs a flat input", "[1, 4, 4]", "add a flatten"]),
    "missing loss": (
        {"input_shape": [1, 6, 6], "layers": HEAD}, None,
        ["loss must be one of ['bce', 'cross_entropy']", "got None", "missing"]),
    "unknown loss": (
        spec([1, 6, 6], HEAD, "mse"), None, ["loss must be one of", "'mse'"]),
    "cross_entropy after sigmoid": (
        spec([1, 6, 6], [FLATTEN, dense(3), SIGMOID], "cross_entropy"), 2,
        ["layer 2", "loss 'cross_entropy' needs the network to end with a softmax", "ends with sigmoid"]),
    "bce after softmax": (
        spec([1, 6, 6], [FLATTEN, dense(3), SOFTMAX], "bce"), 2,
        ["layer 2", "loss 'bce' needs the network to end with a sigmoid", "ends with softmax"]),
    "bce with 2 units": (
        spec([1, 6, 6], [FLATTEN, dense(2), SIGMOID]), 2,
        ["layer 2", "bce needs exactly 1 output unit", "has 2"]),
    "cross_entropy with 1 unit": (
        spec([1, 6, 6], [FLATTEN, dense(1), SOFTMAX], "cross_entropy"), 2,
        ["layer 2", "at least 2 output units"]),
    "unknown layer field": (
        spec([1, 6, 6], [{"type": "conv2d", "filters": 1, "kernel": 3}, *HEAD]), 0,
        ["layer 0", "unknown field(s) ['kernel'] for conv2d", "allowed: filters, kernel_size, stride, padding"]),
    "field on a layer without fields": (
        spec([1, 6, 6], [conv(1, 3), {"type": "relu", "alpha": 0.1}, *HEAD]), 1,
        ["layer 1", "unknown field(s) ['alpha'] for relu", "no other fields"]),
    "unknown network field": (
        {**spec([1, 6, 6], HEAD), "optimizer": "sgd"}, None, ["unknown network field(s) ['optimizer']"]),
    "missing required field": (
        spec([1, 6, 6], [{"type": "conv2d", "kernel_size": 3}, *HEAD]), 0, ["layer 0", "conv2d needs 'filters'"]),
    "non-integer filters": (
        spec([1, 6, 6], [conv(2.5, 3), *HEAD]), 0, ["layer 0", "filters must be an integer", "2.5"]),
    "string filters": (
        spec([1, 6, 6], [conv("2", 3), *HEAD]), 0, ["layer 0", "filters must be an integer", "'2'"]),
    "boolean filters": (
        spec([1, 6, 6], [conv(True, 3), *HEAD]), 0, ["layer 0", "filters must be an integer", "True"]),
    "too many filters": (
        spec([1, 6, 6], [conv(65, 3), *HEAD]), 0, ["layer 0", "filters must be from 1 to 64, got 65"]),
    "stride 0": (
        spec([1, 6, 6], [conv(1, 3, 0), *HEAD]), 0, ["layer 0", "stride must be from 1 to 8, got 0"]),
    "kernel triple": (
        spec([1, 6, 6], [conv(1, [1, 2, 3]), *HEAD]), 0, ["layer 0", "integer or a pair [h, w]", "[1, 2, 3]"]),
    "padding not below kernel": (
        spec([1, 6, 6], [conv(1, 3, 1, 3), *HEAD]), 0,
        ["layer 0", "padding [3, 3] must be smaller than kernel_size [3, 3]"]),
    "too many params": (
        spec([1, 10, 10], [FLATTEN, dense(1001), dense(1), SIGMOID]), None,
        # 100 * 1001 + 1001 + 1001 * 1 + 1
        ["the network has 102103 parameters", f"at most {MAX_PARAMS}"]),
    "too many multiply-adds": (
        spec([3, 64, 64], [conv(64, 7), pool(58, 8), *HEAD]), None,
        ["multiply-adds per example", "at most 20000000"]),
    "too many activation values": (
        spec([3, 64, 64], [conv(64, 1), RELU, pool(1, 1), conv(64, 1), *HEAD]), 3,
        ["layer 3", "over 1000000 values per example"]),
    "input height over 64": (
        spec([3, 65, 64], HEAD), None, ["input height must be from 1 to 64, got 65"]),
    "input width over 64": (
        spec([1, 8, 100], HEAD), None, ["input width must be from 1 to 64, got 100"]),
    "input channels over 3": (
        spec([4, 8, 8], HEAD), None, ["input channels must be from 1 to 3, got 4"]),
    "input shape not CHW": (
        spec([6, 6], HEAD), None, ["input_shape must be [channels, height, width]", "[6, 6]"]),
    "softmax not last": (
        spec([1, 6, 6], [FLATTEN, dense(4), SOFTMAX, dense(3), SOFTMAX], "cross_entropy"), 2,
        ["layer 2", "softmax is only allowed as the last layer"]),
    "softmax not last before sigmoid": (
        spec([1, 6, 6], [FLATTEN, dense(4), SOFTMAX, dense(1), SIGMOID]), 2,
        ["layer 2", "softmax is only allowed as the last layer"]),
    "softmax on an image": (
        spec([1, 6, 6], [conv(1, 3), SOFTMAX, FLATTEN, dense(2), SOFTMAX], "cross_entropy"), 1,
        ["layer 1", "softmax needs a flat input", "[1, 4, 4]"]),
    "two flattens": (
        spec([1, 6, 6], [conv(1, 3), FLATTEN, FLATTEN, dense(1), SIGMOID]), 2,
        ["layer 2", "flatten needs a (C, H, W) input, got [16]", "flatten twice"]),
    "two activations in a row": (
        spec([1, 6, 6], [conv(1, 3), RELU, RELU, *HEAD]), 2,
        ["layer 2", "second array named A1"]),
    "conv after flatten": (
        spec([1, 6, 6], [FLATTEN, conv(1, 3), dense(1), SIGMOID]), 1,
        ["layer 1", "conv2d needs a (C, H, W) input, got [36]"]),
    "pool window larger than input": (
        spec([1, 6, 6], [conv(1, 3), pool(5), *HEAD]), 1,
        ["layer 1", "pool window 5x5 is larger than its input 4x4"]),
    "final sigmoid not after dense": (
        spec([1, 6, 6], [FLATTEN, SIGMOID]), 1, ["layer 1", "must follow a dense layer"]),
    "too many layers": (
        spec([1, 6, 6], [RELU] * 25), None, ["at most 24 layers", "got 25"]),
    "no layers": (spec([1, 6, 6], []), None, ["non-empty list"]),
    "layer not an object": (spec([1, 6, 6], ["relu"]), 0, ["layer 0", "object with a 'type'"]),
    "spec not an object": ([1, 6, 6], None, ["must be an object"]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_spec_raises_spec_error(name: str) -> None:
    bad, layer, fragments = BAD[name]
    with pytest.raises(SpecError) as info:
        read_spec(bad)
    message = str(info.value)
    assert info.value.layer == layer, message
    if layer is None:
        assert not message.startswith("layer "), message
    else:
        assert message.startswith(f"layer {layer}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_spec_error_is_a_value_error() -> None:
    # The API (and plain callers) may catch ValueError.
    with pytest.raises(ValueError, match="layer 0"):
        read_spec(spec([1, 4, 4], [conv(1, 5), *HEAD]))


def test_limits_are_inclusive() -> None:
    # The largest allowed input, 64x64x3, reads (the bound is not off by one).
    net = read_spec(spec([3, 64, 64], [pool(8), FLATTEN, dense(1), SIGMOID]))
    assert net.shapes()["P0"] == (3, 8, 8)
    # Exactly MAX_PARAMS parameters is allowed: 25 * (3 * 31 * 43) + 25 = 100000.
    net = read_spec(spec([3, 31, 43], [FLATTEN, dense(25), SOFTMAX], "cross_entropy"))
    assert net.param_count == MAX_PARAMS


@pytest.mark.parametrize("slope", [1.0, 1, -0.01, "0.1", True, None, [0.1], 10**400, 2.5])
def test_leaky_relu_slope_must_be_a_number_in_range(slope: Any) -> None:
    bad = spec([1, 4, 4], [{"type": "leaky_relu", "negative_slope": slope}, FLATTEN, dense(1), SIGMOID])
    with pytest.raises(SpecError) as info:
        read_spec(bad)
    assert "negative_slope must be a number from 0.0, below 1.0" in str(info.value)
    assert len(str(info.value)) < 200


def test_leaky_relu_slope_defaults_to_torchs() -> None:
    net = read_spec(spec([1, 4, 4], [{"type": "leaky_relu"}, FLATTEN, dense(1), SIGMOID]))
    assert net.spec["layers"][0] == {"type": "leaky_relu", "negative_slope": 0.01}
