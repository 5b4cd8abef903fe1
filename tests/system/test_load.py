"""A short run of bench/load.py: the production command (uvicorn --workers 2) under 20
concurrent loopback clients stepping the seed network for 4 s answers every request, and every
answer is bit for bit the engine's own answer for that request."""

from __future__ import annotations

from bench.load import load_test, production_command


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
