"""Static files, compressed once (not per request) and served with validators.

Vendor bundles (plotly.js, Swagger UI) get versioned names, e.g. /vendor/plotly-3.1.0.min.js,
marked immutable: a browser keeps them for a year and never asks again, and a new version is a
new name. The page's own files under /static keep their names (ES modules import each other by
relative path) and are revalidated with an ETag. Each file is gzipped once, when first asked
for or after it changed on disk, and sent gzipped to every client that accepts it.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
import plotly
from fastapi import Request, Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_VERSION = version("fastapi-offline")  # the package that ships Swagger UI 5


@dataclass(frozen=True)
class Compressed:
    raw: bytes
    gz: bytes
    etag: str
    media_type: str
    mtime: float


class AssetStore:
    """Files by URL path -> on-disk path; each read and gzipped once per change."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[Path, str]] = {}
        self._done: dict[str, Compressed] = {}
        self._lock = threading.Lock()

    def add(self, url: str, path: Path, cache: str) -> None:
        self._files[url] = (path, cache)

    def get(self, url: str) -> tuple[Compressed, str] | None:
        entry = self._files.get(url)
        if entry is None:
            return None
        path, cache = entry
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        done = self._done.get(url)
        if done is None or done.mtime != mtime:
            with self._lock:
                raw = path.read_bytes()
                media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                if media in ("text/javascript", "application/javascript"):
                    media = "text/javascript; charset=utf-8"
                done = Compressed(raw, gzip.compress(raw, 6, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:20]}"',
                                  media, mtime)
                self._done[url] = done
        return done, cache


def respond(store: AssetStore, url: str, request: Request) -> Response | None:
    found = store.get(url)
    if found is None:
        return None
    asset, cache = found
    headers = {"ETag": asset.etag, "Cache-Control": cache, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "") and len(asset.gz) < len(asset.raw):
        return Response(asset.gz, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(asset.raw, media_type=asset.media_type, headers=headers)


ROOT = Path(__file__).resolve().parents[1]
PLOTLY_URL = f"/vendor/plotly-{plotly.__version__}.min.js"
SWAGGER_JS_URL = f"/vendor/swagger-ui-{SWAGGER_VERSION}/swagger-ui-bundle.js"
SWAGGER_CSS_URL = f"/vendor/swagger-ui-{SWAGGER_VERSION}/swagger-ui.css"

store = AssetStore()
store.add(PLOTLY_URL, Path(plotly.__file__).parent / "package_data" / "plotly.min.js", IMMUTABLE)
store.add(SWAGGER_JS_URL, SWAGGER_DIR / "swagger-ui-bundle.js", IMMUTABLE)
store.add(SWAGGER_CSS_URL, SWAGGER_DIR / "swagger-ui.css", IMMUTABLE)
for _file in sorted((ROOT / "static").rglob("*")):
    if _file.is_file():
        store.add("/static/" + _file.relative_to(ROOT / "static").as_posix(), _file, REVALIDATE)
