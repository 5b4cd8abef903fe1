"""/docs in real Chromium: Swagger UI 5 reads the OpenAPI 3.1 document as it is, every JSON
POST shows its example, and "Try it out" with the shown example gets a 200 on every route
(and on /api/images with a test PNG); the page links back to the app."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from browser_testlib import PageLog, logged_page, require_chromium
from PIL import Image
from playwright.sync_api import Browser, Page

require_chromium()


def post_paths(api: httpx.Client) -> list[str]:
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    return [p for p, item in spec["paths"].items() if "post" in item]


def operation(page: Page, path: str):  # noqa: ANN201 - a Playwright locator
    return page.locator(f".opblock-post:has(.opblock-summary-path[data-path='{path}'])")


def try_it(page: Page, path: str, tmp_path: Path) -> str:
    op = operation(page, path)
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    if path == "/api/images":
        png = tmp_path / "bar.png"
        im = Image.new("L", (12, 12), 0)
        im.paste(255, (5, 0, 7, 12))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        png.write_bytes(buf.getvalue())
        op.locator("input[type=file]").set_input_files(str(png))
    else:
        body = op.locator("textarea.body-param__text").input_value()
        assert '"string"' not in body, f"{path}: the example did not show: {body[:200]}"
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=30_000)
    return status.inner_text().strip()


@pytest.fixture
def docs(browser: Browser, server_url: str) -> Page:
    log = PageLog(origin=server_url)
    with logged_page(browser, server_url, log) as page:
        page.goto(server_url + "/docs")
        page.wait_for_selector("#swagger-ui .opblock", timeout=20_000)
        yield page


def test_try_it_out_works_on_every_post_route(docs: Page, api: httpx.Client, tmp_path: Path) -> None:
    paths = post_paths(api)
    assert {"/api/step", "/api/explain", "/api/train", "/api/images"} <= set(paths)
    for path in paths:
        assert try_it(docs, path, tmp_path) == "200", path


def test_docs_link_back_to_the_app(docs: Page, server_url: str) -> None:
    docs.click("[data-testid=back-to-app]")
    docs.wait_for_url(server_url + "/")
