"""Minimum safe versions: pyproject.toml's lower bounds are at least the releases that fixed the
known vulnerabilities in code paths this app uses, and the installed versions meet them."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.version import Version  # packaging comes with pytest

ROOT = Path(__file__).resolve().parents[2]

# distribution -> (lowest safe version, why)
MINIMUMS: dict[str, tuple[str, str]] = {
    "starlette": ("0.49.1", "CVE-2024-47874 (multipart fields without a size limit, 0.40.0), CVE-2025-54121 "
                            "(upload rollover blocks the event loop, 0.47.2), CVE-2025-62727 (O(n^2) Range "
                            "header in FileResponse/StaticFiles, 0.49.1)"),
    "python-multipart": ("0.0.18", "CVE-2024-53981 (DoS by data before/after boundaries)"),
    "pillow": ("10.3.0", "CVE-2024-28219 (buffer overflow in _imagingcms)"),
    "fastapi": ("0.109.1", "CVE-2024-24762 (ReDoS in the form-data Content-Type header)"),
}


def at_least(installed: str, minimum: str) -> bool:
    return Version(installed) >= Version(minimum)


def declared() -> dict[str, str]:
    """Normalised distribution name -> its specifier in [project] dependencies."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        m = re.match(r"\s*([A-Za-z0-9._-]+)\s*(\[[^\]]*\])?\s*(.*)", dep)
        assert m, dep
        out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3).strip()
    return out


def lower_bound(spec: str) -> str | None:
    m = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", spec)
    return m.group(1) if m else None


@pytest.mark.parametrize("name", sorted(MINIMUMS))
def test_pyproject_lower_bound_is_safe(name: str) -> None:
    minimum, why = MINIMUMS[name]
    spec = declared().get(name)
    assert spec is not None, f"{name} is not a declared dependency"
    bound = lower_bound(spec)
    assert bound is not None, f"{name}{spec} has no >= lower bound"
    assert at_least(bound, minimum), f"{name}>={bound} allows vulnerable releases: needs >={minimum} for {why}"


@pytest.mark.parametrize("name", sorted(MINIMUMS))
def test_installed_version_is_safe(name: str) -> None:
    minimum, why = MINIMUMS[name]
    try:
        installed = version(name)
    except PackageNotFoundError:
        pytest.fail(f"{name} is not installed")
    assert at_least(installed, minimum), f"{name} {installed} is older than {minimum} ({why})"
    bound = lower_bound(declared()[name])
    assert bound is not None and at_least(installed, bound), (name, installed, bound)
