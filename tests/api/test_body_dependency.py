"""One way to read a body: every JSON route receives its parsed, validated body as a FastAPI
dependency (app/body.py's ``json_body``), never through FastAPI's own body parsing (the slow path)
nor by reading the request itself."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.main import app


def json_routes() -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods and r.path != "/api/images"]


def test_every_json_route_takes_its_body_from_the_json_body_dependency() -> None:
    routes = json_routes()
    assert {r.path for r in routes} >= {"/api/init", "/api/forward", "/api/backward", "/api/update", "/api/step",
                                        "/api/gradcheck", "/api/network", "/api/train"}
    for route in routes:
        calls = [d.call for d in route.dependant.dependencies]
        assert any(getattr(c, "__name__", "").endswith("Request_body") for c in calls), route.path
        assert not route.dependant.body_params, f"{route.path} parses its body through FastAPI"
        assert route.dependant.request_param_name is None, f"{route.path} reads the request itself"
