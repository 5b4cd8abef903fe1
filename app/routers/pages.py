"""The page: a Jinja2 shell (templates/) whose JS modules (static/js/) call the JSON API.
plotly.js is served from the installed plotly package's own bundle: no CDN, works offline."""

from __future__ import annotations

from pathlib import Path

import plotly
import swagger_ui_bundle
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from app.settings import settings

ROOT = Path(__file__).resolve().parents[2]
templates = Jinja2Templates(directory=str(ROOT / "templates"))
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)


# Every limit a template shows comes from the settings (and the engine's limits they re-export).
PAGE_CONTEXT = {"settings": settings, "limits": settings.limits}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", PAGE_CONTEXT)


@router.get("/vendor/plotly.min.js")
async def plotly_js() -> FileResponse:
    # Versioned by the installed package; a day's caching keeps reloads instant.
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """The OpenAPI docs, served offline (FastAPI's default page loads Swagger UI from a CDN)."""
    return templates.TemplateResponse(request, "docs.html", PAGE_CONTEXT)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(ROOT / "static" / "favicon.svg", media_type="image/svg+xml")
