"""Static files: compressed once, vendor bundles under versioned names marked immutable, the
page's own files revalidated by ETag, the old unversioned names redirected."""

from __future__ import annotations

import gzip

import plotly
import pytest
from api_testlib import ApiClient

from app import assets
from app.routers.pages import MOVED


def test_plotly_is_versioned_immutable_and_gzipped(client: ApiClient) -> None:
    assert assets.PLOTLY_URL == f"/vendor/plotly-{plotly.__version__}.min.js"
    r = client.get(assets.PLOTLY_URL, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    raw = client.get(assets.PLOTLY_URL, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(r.content) == len(raw.content)  # httpx decodes: the same bytes either way
    compressed = assets.store.get(assets.PLOTLY_URL)[0]
    assert len(compressed.gz) < len(compressed.raw) / 3
    assert gzip.decompress(compressed.gz) == compressed.raw


def test_each_file_is_compressed_once(client: ApiClient) -> None:
    client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    first = assets.store.get("/static/app.css")[0]
    client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert assets.store.get("/static/app.css")[0] is first


@pytest.mark.parametrize("url", ["/static/js/main.js", "/static/app.css", "/static/favicon.svg"])
def test_own_files_revalidate_by_etag(client: ApiClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_names_redirect(client: ApiClient, old: str, new: str) -> None:
    r = client.get(old, follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == new


def test_unknown_files_are_404(client: ApiClient) -> None:
    for url in ("/static/nope.js", "/vendor/nope.js", "/static/../app/main.py", "/static/js/../../README.md"):
        assert client.get(url).status_code == 404, url


def test_the_page_names_the_versioned_bundle(client: ApiClient) -> None:
    page = client.get("/").text
    assert assets.PLOTLY_URL in page and "/vendor/plotly.min.js" not in page
    docs = client.get("/docs").text
    assert assets.SWAGGER_JS_URL in docs and 'href="/"' in docs
