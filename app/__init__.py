"""backprop-viz's web app: a FastAPI JSON API over the engine, and the page that uses it."""
