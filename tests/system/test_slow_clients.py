"""No lock-out by slow clients, on a real uvicorn server with the default limits.

300 connections that trickle their bodies (a byte now and then, renewed as soon as the server
cuts one off, as an attacker would) must not keep valid requests out: /api/step keeps
answering 200 within a second all along.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from api_testlib import BAR_INPUT
from system_testlib import Server, request_head

TRICKLERS = 300
WINDOW_S = 6.0  # how long the attack lasts
PROBE_EVERY_S = 0.2
PROBE_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


async def trickle(port: int, stop_at: float, stats: dict[str, int]) -> None:
    """One attacker: headers announcing a 10 kB body, then a byte every 0.4 s; when the server
    closes the connection, open another, until ``stop_at``."""
    head = request_head("POST", "/api/step", {"Content-Type": "application/json", "Content-Length": "10000"})
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.1)
            continue
        stats["connections"] += 1
        try:
            writer.write(head)
            await writer.drain()
            while time.monotonic() < stop_at:
                writer.write(b" ")
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(200), 0.4)
                except TimeoutError:
                    continue
                if answer.startswith(b"HTTP/1.1 408"):
                    stats["cut_408"] += 1
                break  # answered or closed: renew
        except OSError:
            pass
        finally:
            writer.close()
        await asyncio.sleep(0.05)  # renew, but do not spin if the server refuses at once


async def probe(base_url: str, body: dict, stop_at: float) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            try:
                status = (await client.post("/api/step", json=body)).status_code
            except httpx.HTTPError:
                status = -1
            out.append((status, time.perf_counter() - t))
            await asyncio.sleep(PROBE_EVERY_S)
    return out


def test_300_trickling_bodies_do_not_lock_out_valid_requests(server: Server) -> None:
    params = httpx.post(f"{server.base_url}/api/init", json={}, timeout=10).json()["params"]
    body = {"params": params, "input": BAR_INPUT, "label": 1, "learning_rate": 0.1}
    stats = {"connections": 0, "connect_errors": 0, "cut_408": 0}

    async def scenario() -> list[tuple[int, float]]:
        stop_at = time.monotonic() + WINDOW_S
        attackers = [asyncio.create_task(trickle(server.port, stop_at, stats)) for _ in range(TRICKLERS)]
        await asyncio.sleep(1.0)  # let every attacker connect and send its headers
        assert stats["connections"] >= TRICKLERS, stats
        probes = await probe(server.base_url, body, stop_at)
        await asyncio.wait_for(asyncio.gather(*attackers), 10)
        return probes

    start = time.monotonic()
    probes = asyncio.run(scenario())
    assert time.monotonic() - start < WINDOW_S + 12
    assert len(probes) >= 10, probes
    slow = [(s, round(t, 3)) for s, t in probes if s != 200 or t > PROBE_WITHIN_S]
    assert not slow, f"{len(slow)} of {len(probes)} probes refused or slow: {slow[:10]}; attack {stats}"
    # The server still answers normally once the attack stops.
    assert httpx.post(f"{server.base_url}/api/step", json=body, timeout=5).status_code == 200
