"""bench/floor_app.py's routes stand for /api/step only if they answer its very bytes. Checked
in a process of its own: floor_app adds its routes to the app that the other tests share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
from fastapi.testclient import TestClient
from bench.floor_app import BODY, STEP_RESPONSE, app
client = TestClient(app)
headers = {"content-type": "application/json"}
step = client.post("/api/step", content=BODY, headers=headers)
assert step.status_code == 200 and step.content == STEP_RESPONSE
for path in ("/bench/floor", "/bench/engine", "/bench/bare"):
    response = client.post(path, content=BODY, headers=headers)
    assert response.status_code == 200 and response.content == step.content, path
print("same bytes")
"""


def test_floor_and_bare_step_answer_the_steps_bytes() -> None:
    done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", CHECK], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same bytes"
