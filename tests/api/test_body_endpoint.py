"""One way to read a body: every JSON route is made by app/body.py's ``json_endpoint``, which
reads and validates the body itself, never through FastAPI's own body parsing (the slow path)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.main import app


def json_routes() -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods and r.path != "/api/images"]


def test_every_json_route_takes_its_body_from_json_endpoint() -> None:
    routes = json_routes()
    assert {r.path for r in routes} >= {"/api/init", "/api/forward", "/api/backward", "/api/update", "/api/step",
                                        "/api/gradcheck", "/api/network", "/api/train"}
    for route in routes:
        assert getattr(route.endpoint, "json_model", None) is not None, route.path
        assert not route.dependant.body_params, f"{route.path} parses its body through FastAPI"
        assert not any(getattr(d.call, "__name__", "").endswith("_body") for d in route.dependant.dependencies)
