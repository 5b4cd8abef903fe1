"""Explain every number: for every cell of every array of several networks, the value
recomputed from its explanation is the engine's, and every factor is the entry it names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_testlib import NETWORK_CASES, TYPE_CASES, draw_case
from explain_testlib import recompute, tolerance

from engine import InputError, read_spec, train_step
from engine.explain import Explainer
from engine.layers.maxpool2d import LAYER as MAX_POOL
from engine.network import Params

TWO_BLOCK = {"input_shape": [1, 8, 8], "layers": [
    {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 10},
    {"type": "softmax"}], "loss": "cross_entropy"}
# Overlapping 3/1 pools over a ReLU whose dead cells tie at 0, and a stride-2 padded conv.
TIES = {"input_shape": [1, 7, 7], "layers": [
    {"type": "conv2d", "filters": 2, "kernel_size": 3, "stride": 2, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel_size": 3, "stride": 1}, {"type": "flatten"}, {"type": "dense", "units": 1},
    {"type": "sigmoid"}], "loss": "bce"}

NETWORKS: dict[str, tuple[dict[str, Any], int]] = {
    "seed": (read_spec().spec, 0),
    "stride_pad_softmax3": (NETWORK_CASES["stride_pad_softmax3"][0], 1),
    "ties": (TIES, 2),
    "avgpool": (TYPE_CASES["avgpool2d"][0], 3),
    "softmax10": (NETWORK_CASES["softmax10"][0], 4),
    "two_blocks": (TWO_BLOCK, 5),
    "tanh": (TYPE_CASES["tanh"][0], 6),
    "leaky_relu": (TYPE_CASES["leaky_relu"][0], 7),
}


def explainer(name: str, lr: float = 0.1) -> tuple[Explainer, Params]:
    spec, seed = NETWORKS[name]
    net = read_spec(spec)
    params, x, y = draw_case(net, 1, seed)
    if name == "ties":
        x = np.abs(x)  # many dead ReLU cells: windows of zeros tie
        params["W1"][0] = -np.abs(params["W1"][0])
    return Explainer(train_step(net, params, x, y, lr), params, lr), params


def check_cell(ex: Explainer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
    expl = ex.explain(array, list(idx))
    expected = ex.loss if array == "L" else ex.arrays[array][idx]
    assert expl["value"] == expected
    assert expl["how"] and expl["note"] and expl["rule"]
    assert abs(recompute(expl) - expected) <= tolerance(expl), (array, idx, expl["op"])
    for t in expl["terms"]:
        for f in t["factors"]:
            if f["array"] is None:
                assert isinstance(f["label"], str)
            elif f.get("padding"):
                assert f["value"] == 0.0
                shape = ex.arrays[f["array"]].shape
                assert any(not 0 <= i < s for i, s in zip(f["index"], shape)), f
            else:
                assert f["value"] == ex.arrays[f["array"]][tuple(f["index"])], f
    return expl


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_cell_of_every_array_is_explained_exactly(name: str) -> None:
    ex, _ = explainer(name)
    assert set(ex.producers) == {*ex.arrays, "L"}
    for array, values in ex.arrays.items():
        for idx in np.ndindex(values.shape):
            check_cell(ex, array, idx)
    check_cell(ex, "L", ())


def test_ties_are_marked_with_the_rule_that_broke_them() -> None:
    ex, _ = explainer("ties")
    pooled = ex.net.layers[2].out
    tied = [e for e in (ex.explain(pooled, list(i)) for i in np.ndindex(ex.arrays[pooled].shape))
            if len(e["tied"]) > 1]
    assert tied, "the case must have tied windows"
    for e in tied:
        assert e["winner"] == e["tied"][0] and e["tie_rule"] == "first maximum in row-major order"


def test_a_pool_cell_that_won_no_window_has_no_terms() -> None:
    ex, _ = explainer("seed")
    mask = ex.arrays["dA1"]
    zero = next(idx for idx in np.ndindex(mask.shape) if ex.arrays["dA1"][idx] == 0.0
                and ex.arrays["A1"][idx] != max(ex.arrays["A1"].ravel()))
    expl = ex.explain("dA1", list(zero))
    assert all(not w["won"] for w in expl["windows"]) == (expl["terms"] == [])


def test_each_window_holding_a_pool_cell_names_its_winner() -> None:
    """Every window a cell is in names the cell that won it (the one its gradient went to) and
    that cell's value, the largest of the window, the first in row-major order on ties."""
    for case in ("seed", "ties", "two_blocks"):
        ex, _ = explainer(case)
        pools = [layer for layer in ex.net.layers if layer.kind is MAX_POOL]
        assert pools
        for layer in pools:
            below, pooled = ex.arrays[ex.below(layer)], ex.arrays[layer.out]
            for idx in np.ndindex(below.shape):
                windows = ex.explain("d" + ex.below(layer), list(idx))["windows"]
                assert windows  # every cell is in a window here (no cell left over by the stride)
                for w in windows:
                    winner = tuple(w["winner"]["index"])
                    assert w["array"] == layer.out and w["winner"]["array"] == ex.below(layer)
                    assert w["winner"]["value"] == below[winner] == pooled[tuple(w["index"])]
                    assert w["won"] == (winner == idx)


def test_conv_weight_gradient_has_a_term_per_output_position() -> None:
    ex, _ = explainer("two_blocks")
    expl = check_cell(ex, "dW1", (3, 0, 0, 0))
    assert len(expl["terms"]) == 8 * 8  # padding 1 keeps 8x8
    assert any(f.get("padding") for t in expl["terms"] for f in t["factors"])


def test_the_logits_gradient_is_the_fused_form() -> None:
    ex, _ = explainer("softmax10")
    logits = ex.net.layers[-2].out
    expl = check_cell(ex, "d" + logits, (0,))
    labels = [f["label"] for t in expl["terms"] for f in t["factors"] if f["array"] is None]
    assert labels == ["1/N", "-Y", "1/N"]


@pytest.mark.parametrize("array, index", [("nope", []), ("Z1", [0, 0]), ("Z1", [0, 0, 99]), ("Z1", [0, 0, True]),
                                          ("L", [0]), (["Z1"], [])])
def test_bad_names_and_indices_say_what_is_allowed(array: Any, index: Any) -> None:
    ex, _ = explainer("seed")
    with pytest.raises(InputError) as info:
        ex.explain(array, index)
    assert len(str(info.value)) < 400
