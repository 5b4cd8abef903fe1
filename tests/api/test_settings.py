"""Settings in one place: app/settings.py's pydantic-settings class (environment prefix BPV_)
holds every server setting, re-exports the engine's limits (engine/limits.py), and is where
every limit the page shows comes from; the version is the package's; the README lists every
environment variable with its default."""

from __future__ import annotations

import html
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
from api_testlib import ApiClient
from pydantic import ValidationError

from app.settings import Settings, env_name, settings
from engine import limits as engine_limits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.upper().startswith("BPV_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_the_defaults(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert (s.host, s.port, s.body_timeout_s, s.max_in_flight) == ("127.0.0.1", 8000, 5.0, 128)
    assert (s.max_json_bytes, s.max_learning_rate, s.max_train_iterations, s.max_batch_size) == \
        (1024 * 1024, 100.0, 10_000, 256)


@pytest.mark.parametrize(("var", "value", "field", "expected"), [
    ("BPV_HOST", "0.0.0.0", "host", "0.0.0.0"),
    ("BPV_PORT", "9001", "port", 9001),
    ("BPV_BODY_TIMEOUT", "2.5", "body_timeout_s", 2.5),
    ("BPV_MAX_IN_FLIGHT", "7", "max_in_flight", 7),
    ("BPV_MAX_TRAIN_ITERATIONS", "500", "max_train_iterations", 500),
    ("BPV_MAX_JSON_BYTES", "65536", "max_json_bytes", 65536),
    ("bpv_max_batch_size", "8", "max_batch_size", 8),
])
def test_each_setting_reads_its_environment_variable(clean_env: pytest.MonkeyPatch, var: str, value: str,
                                                     field: str, expected: object) -> None:
    clean_env.setenv(var, value)
    assert getattr(Settings(), field) == expected


def test_a_bad_value_stops_the_server_from_starting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BPV_PORT", "eighty")
    with pytest.raises(ValidationError):
        Settings()
    clean_env.setenv("BPV_PORT", "8000")
    clean_env.setenv("BPV_MAX_IN_FLIGHT", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_the_engine_limits_are_re_exported() -> None:
    assert settings.limits is engine_limits
    assert settings.limits.MAX_INPUT_HW == engine_limits.MAX_INPUT_HW
    assert settings.limits.MAX_LAYERS == engine_limits.MAX_LAYERS


def test_the_version_is_the_package_metadata(client: ApiClient) -> None:
    version = importlib.metadata.version("backprop-viz")
    assert client.get("/api/health").json()["version"] == version
    assert client.get("/openapi.json").json()["info"]["version"] == version


def test_the_readme_lists_every_environment_variable_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        var = env_name(name)
        rows = [line for line in readme.splitlines() if f"`{var}`" in line and line.startswith("|")]
        assert rows, f"{var} ({name}) is not in the README"
        if field.default_factory is not None:  # a default of this machine's (the cores): said in words
            assert "cores" in rows[0], (var, rows[0])
            continue
        assert str(field.default) in rows[0] or f"{field.default:,}" in rows[0], (var, field.default, rows[0])


def page_inputs(page: str) -> dict[str, dict[str, str]]:
    out = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        if "id" in attrs:
            out[attrs["id"]] = attrs
    return out


def test_the_page_takes_its_limits_from_the_settings(client: ApiClient) -> None:
    page = client.get("/").text
    inputs = page_inputs(page)
    assert inputs["tr-iterations"]["max"] == str(settings.max_train_iterations)
    assert inputs["tr-batch"]["max"] == str(settings.max_batch_size)
    assert float(inputs["tr-lr"]["max"]) == settings.max_learning_rate
    assert float(inputs["lr"]["max"]) == settings.max_learning_rate
    assert inputs["arch-c"]["max"] == str(engine_limits.MAX_CHANNELS)
    assert inputs["arch-h"]["max"] == inputs["arch-w"]["max"] == str(engine_limits.MAX_INPUT_HW)
    # ... and, for the page's scripts, as a JSON data block (not executed: CSP allows it).
    found = re.search(r'<script type="application/json" id="limits">(.*?)</script>', page, re.S)
    assert found, "no limits data block"
    assert json.loads(html.unescape(found.group(1))) == client.get("/api/health").json()["limits"]


def test_the_health_limits_include_what_the_page_shows(client: ApiClient) -> None:
    shown = client.get("/api/health").json()["limits"]
    assert shown["max_train_iterations"] == settings.max_train_iterations
    assert shown["max_batch_size"] == settings.max_batch_size
    assert shown["max_layers"] == engine_limits.MAX_LAYERS
    assert shown["max_input"] == [engine_limits.MAX_CHANNELS, engine_limits.MAX_INPUT_HW, engine_limits.MAX_INPUT_HW]


# The speed slider is the page's own control (steps per second), not a server limit.
UI_ONLY = {"speed"}


def test_no_template_types_a_limit_in() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        for tag in re.findall(r"<input\b[^>]*>", path.read_text()):
            attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
            if attrs.get("id") in UI_ONLY:
                continue
            assert not re.fullmatch(r"[\d.]+", attrs.get("max", "{{")), f"{path.name}: {tag}"
