"""Short runs of bench/load.py: the production command (uvicorn --workers 2) under 20
concurrent loopback clients stepping the seed network for 4 s answers every request, and every
answer is bit for bit the engine's own answer for that request; a small classroom (5 learners,
a small run each) against one server and, where nginx is installed, against two behind nginx:
every run completes, none is refused, each result is bit for bit a lone run's."""

from __future__ import annotations

import os

import pytest

from bench.load import classroom, find_nginx, load_test, production_command


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_production_command_uses_the_port_and_workers_given() -> None:
    command = production_command(8123, 3)
    assert command[1:4] == ["-m", "uvicorn", "app.main:app"], command
    assert flag(command, "--port") == "8123" and flag(command, "--workers") == "3", command
    assert flag(command, "--host") == "127.0.0.1", command  # loopback only


def test_two_workers_serve_correct_answers_under_concurrency() -> None:
    result = load_test(workers=2, clients=20, seconds=4)
    assert result["requests"] > 0, result
    assert result["errors"] == 0, result["first_errors"]
    assert result["wrong_answers"] == 0, result


@pytest.mark.parametrize("target", ["one", "nginx"])
def test_a_small_classroom_is_served_completely(target: str) -> None:
    if target == "nginx" and find_nginx() is None and os.environ.get("BPV_REQUIRE_NGINX") != "1":
        pytest.skip("nginx is not installed (apt-get install nginx)")
    learners = 5
    result = classroom(learners, target, preset="small", spread_s=0.5, think_s=(0.05, 0.1))
    assert result["errors"] == 0, result["first_errors"]
    assert result["refused_429"] == 0, result
    assert result["runs_completed"] == learners and result["runs_with_progress"] == learners, result
    assert result["results_bit_for_bit_a_lone_run"] == learners, result
    assert result["steps"] == 4 * learners, result
