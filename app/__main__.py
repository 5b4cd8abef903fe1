"""`python -m app` serves the app on 127.0.0.1:8000 (BPV_HOST / BPV_PORT override)."""

import uvicorn

from app.settings import settings

if __name__ == "__main__":
    uvicorn.run("app.main:app", host=settings.host, port=settings.port, proxy_headers=False)
