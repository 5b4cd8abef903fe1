"""The layer registry is the one place a layer type lives: every type is complete, and no code
outside engine/layers/ branches on a type's (or a loss's) name, so no change can bypass it.
Presets, the default spec and tests are data and may name types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from engine_testlib import TYPE_CASES

from engine.layers import REGISTRY, LayerType
from engine.losses import LOSSES

ROOT = Path(__file__).resolve().parents[2]
NAMES = "|".join(re.escape(n) for n in [*REGISTRY, *LOSSES])
Q = r"""["'`]"""
# A name used as a branch or a per-type table: compared, tested for membership, a case
# label, a dict/object key, an <option> in a template.
BRANCH = re.compile(
    rf"(?:===?|!==?)\s*{Q}(?:{NAMES}){Q}"
    rf"|{Q}(?:{NAMES}){Q}\s*(?:===?|!==?|\bin\b|\bnot in\b)"
    rf"|\bcase\s+{Q}(?:{NAMES}){Q}"
    rf"|[\[(,]\s*{Q}(?:{NAMES}){Q}\s*[,\])]\s*\.includes"
    rf"|\bin\s*[(\[{{][^)\]}}]*{Q}(?:{NAMES}){Q}"
    rf"|^\s*{Q}?(?:{NAMES}){Q}?\s*:"
    rf"|[{{,]\s*{Q}?(?:{NAMES}){Q}?\s*:\s*[^\s\"'`]"
    rf"|<option[^>]*value=\"(?:{NAMES})\"",
    re.MULTILINE,
)
EXEMPT: set[str] = set()


def _sources() -> list[Path]:
    files = [*ROOT.glob("engine/**/*.py"), *ROOT.glob("app/**/*.py"), *ROOT.glob("static/js/*.js"),
             *ROOT.glob("templates/**/*.html")]
    return [f for f in files if "engine/layers" not in f.as_posix()
            and "engine/losses" not in f.as_posix() and f.relative_to(ROOT).as_posix() not in EXEMPT]


def _strip_data(text: str) -> str:
    """Drop what is data, not code: the default spec's and presets' layer objects, which
    name types as values (`type: "conv2d"`), never as branches."""
    return re.sub(rf"""["']?type["']?\s*:\s*{Q}(?:{NAMES}){Q}""", "", text)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_code_outside_the_registry_branches_on_a_type_name(path: Path) -> None:
    hits = [m.group(0) for m in BRANCH.finditer(_strip_data(path.read_text()))]
    assert not hits, f"{path.relative_to(ROOT)} names layer types or losses in code: {hits[:5]}"


def test_the_guard_catches_each_kind_of_branch() -> None:
    for code in ['if layer.type == "maxpool2d":', 'l.type === "conv2d"', '"relu" in kinds',
                 'case "dense":', '["sigmoid", "softmax"].includes(t)', 'FORMULA = {\n  relu: (l) => 1,',
                 'x = {"bce": 1}', '<option value="relu">relu</option>', 'if kind in ("relu", "dense"):']:
        assert BRANCH.search(_strip_data(code)), code
    for data in ['{"type": "conv2d", "filters": 1}', 'conv = (f) => ({ type: "conv2d", filters: f })']:
        assert not BRANCH.search(_strip_data(data)), data


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_type_is_complete(name: str) -> None:
    kind = REGISTRY[name]
    assert isinstance(kind, LayerType) and kind.name == name
    for attr in ("label", "prefix", "formula", "formula_text", "description", "order"):
        assert getattr(kind, attr), attr
    assert set(kind.marks) <= {"winners", "windows", "gate"}
    assert "{out}" in kind.formula and "{in}" in kind.formula
    for role in kind.param_roles:
        assert "{" + role + "}" in kind.formula, role
    # A case network in the tests: the finite-difference and torch checks run over it.
    assert name in TYPE_CASES, f"{name} has no line in engine_testlib.TYPE_CASES"
    assert any(layer["type"] == name for layer in TYPE_CASES[name][0]["layers"])


def test_every_loss_names_registered_layers() -> None:
    for loss in LOSSES.values():
        assert loss.output_layer in REGISTRY
        assert loss.logits_layer in REGISTRY
