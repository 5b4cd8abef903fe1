"""The settings reach a real server from its environment: a server started with smaller
training limits shows them on its page, quotes them in /api/health and enforces them."""

from __future__ import annotations

import re

from system_testlib import Server


def test_a_server_started_with_other_limits_shows_and_enforces_them() -> None:
    env = {"BPV_MAX_TRAIN_ITERATIONS": "500", "BPV_MAX_BATCH_SIZE": "32", "BPV_MAX_LEARNING_RATE": "2.5"}
    with Server(env) as server:
        import httpx

        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            page = client.get("/").text
            assert re.search(r'id="tr-iterations"[^>]*max="500"', page), page[:200]
            assert re.search(r'id="tr-batch"[^>]*max="32"', page)
            assert re.search(r'id="tr-lr"[^>]*max="2.5"', page)
            limits = client.get("/api/health").json()["limits"]
            assert (limits["max_train_iterations"], limits["max_batch_size"], limits["max_learning_rate"]) == \
                (500, 32, 2.5)
            params = client.post("/api/init", json={"seed": 0}).json()["params"]
            response = client.post("/api/train", json={"params": params, "dataset": "bars", "iterations": 600,
                                                       "learning_rate": 0.5})
            assert response.status_code == 422 and "iterations" in response.json()["detail"], response.text[:300]
            response = client.post("/api/step", json={"params": params, "input": [[0.0] * 6] * 6, "label": 1,
                                                      "learning_rate": 3.0})
            assert response.status_code == 422 and "learning_rate" in response.json()["detail"]
