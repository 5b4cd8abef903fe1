// /docs: Swagger UI 5 from the installed fastapi-offline package (no CDN, no inline script, so
// the page's Content-Security-Policy holds here too). It reads OpenAPI 3.1 as FastAPI writes it,
// so every request example shows and "Try it out" sends it as is.
// eslint-disable-next-line no-undef
SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, defaultModelsExpandDepth: 0,
  tryItOutEnabled: false });
