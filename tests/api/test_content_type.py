"""Content type and body limits by route.

A JSON route takes only a body declared ``application/json`` (a charset of UTF-8 allowed): any
other or no Content-Type is a 415 saying what to send. Otherwise any web page could call the
API cross-origin as a "simple request" (text/plain, form encodings, multipart), which a browser
sends without a CORS preflight. The upload stays multipart. And the body limit follows the
route, never the declared type: a JSON route's body declared as multipart still has the JSON cap.
"""

from __future__ import annotations

import json

import pytest
from api_testlib import ApiClient, Json

from app.settings import settings

JSON_ROUTES = ["/api/init", "/api/network", "/api/forward", "/api/backward", "/api/update", "/api/step",
               "/api/gradcheck", "/api/train"]
REFUSED = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
           "multipart/form-data; boundary=x", "application/xml", "application/jsonp", "application/json-seq",
           "application/json; charset=latin-1", "text/json", "*/*", ""]
ACCEPTED = ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
            "application/json ; charset=\"utf-8\""]


def step(seed_params: Json, bar_input: list[list[float]]) -> bytes:
    return json.dumps({"params": seed_params, "input": bar_input, "label": 1, "learning_rate": 0.1}).encode()


@pytest.mark.parametrize("ctype", REFUSED)
def test_step_refuses_a_body_not_declared_json(client: ApiClient, seed_params: Json, bar_input: list[list[float]],
                                               ctype: str) -> None:
    headers = {"content-type": ctype} if ctype else {}
    response = client.post("/api/step", content=step(seed_params, bar_input), headers=headers)
    assert response.status_code == 415, (ctype, response.status_code, response.text[:300])
    assert "Content-Type: application/json" in response.json()["detail"]


def test_no_content_type_at_all_is_refused(client: ApiClient, seed_params: Json,
                                           bar_input: list[list[float]]) -> None:
    response = client.post("/api/step", content=step(seed_params, bar_input))
    assert "content-type" not in response.request.headers
    assert response.status_code == 415, response.text[:300]


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_every_json_route_refuses_text_plain(client: ApiClient, route: str) -> None:
    response = client.post(route, content=b"{}", headers={"content-type": "text/plain"})
    assert response.status_code == 415, (route, response.text[:300])
    assert "application/json" in response.json()["detail"]


@pytest.mark.parametrize("ctype", ACCEPTED)
def test_json_with_a_utf8_charset_is_accepted(client: ApiClient, seed_params: Json, bar_input: list[list[float]],
                                              ctype: str) -> None:
    response = client.post("/api/step", content=step(seed_params, bar_input), headers={"content-type": ctype})
    assert response.status_code == 200, (ctype, response.text[:300])


def test_the_415_is_documented(client: ApiClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in JSON_ROUTES:
        assert "415" in paths[route]["post"]["responses"], route


@pytest.mark.parametrize("route", ["/api/step", "/api/train"])
def test_a_json_body_declared_multipart_keeps_the_json_cap(client: ApiClient, route: str) -> None:
    """Over the JSON cap, under the multipart one: refused for its size whatever it claims to be."""
    body = b'{"pad": "' + b"x" * (settings.max_json_bytes + 4096) + b'"}'
    assert settings.max_json_bytes < len(body) < settings.max_multipart_bytes
    response = client.post_raw(route, body, "multipart/form-data; boundary=x")
    assert response.status_code == 413, response.text[:300]
    assert str(settings.max_json_bytes) in response.json()["detail"]
