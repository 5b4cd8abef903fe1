"""The page: a Jinja2 shell (templates/) whose JS modules (static/js/) call the JSON API.
plotly.js is served from the installed plotly package's own bundle: no CDN, works offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app import assets
from app.settings import settings

ROOT = Path(__file__).resolve().parents[2]
templates = Jinja2Templates(directory=str(ROOT / "templates"))
# Templates name the vendor bundles by these versioned URLs.
templates.env.globals.update(plotly_url=assets.PLOTLY_URL, swagger_js_url=assets.SWAGGER_JS_URL,
                             swagger_css_url=assets.SWAGGER_CSS_URL)
MOVED = {"/vendor/plotly.min.js": assets.PLOTLY_URL, "/vendor/swagger/swagger-ui-bundle.js": assets.SWAGGER_JS_URL,
         "/vendor/swagger/swagger-ui.css": assets.SWAGGER_CSS_URL}

router = APIRouter(include_in_schema=False)


# Every limit a template shows comes from the settings (and the engine's limits they re-export).
PAGE_CONTEXT = {"settings": settings, "limits": settings.limits}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", PAGE_CONTEXT)


@router.get("/vendor/{name:path}")
@router.get("/static/{name:path}")
async def asset(request: Request, name: str) -> Response:
    """A static file, gzipped once; vendor bundles under versioned names, marked immutable."""
    path = request.url.path
    if path in MOVED:  # the old unversioned names
        return RedirectResponse(MOVED[path], status_code=301)
    found = assets.respond(assets.store, path, request)
    if found is None:
        raise HTTPException(404, "Not Found")
    return found


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """The OpenAPI docs, served offline (FastAPI's default page loads Swagger UI from a CDN)."""
    return templates.TemplateResponse(request, "docs.html", PAGE_CONTEXT)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(ROOT / "static" / "favicon.svg", media_type="image/svg+xml")
