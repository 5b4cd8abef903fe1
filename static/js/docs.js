// /docs: Swagger UI from the locally installed swagger-ui-bundle (no CDN, no inline script,
// so the page's Content-Security-Policy holds here too). The bundled Swagger UI 4 reads
// OpenAPI 3.0, so the viewer is handed the schema labelled 3.0.3; /openapi.json itself is unchanged.
fetch("/openapi.json")
  .then((r) => r.json())
  .then((spec) => {
    spec.openapi = "3.0.3";
    // eslint-disable-next-line no-undef
    SwaggerUIBundle({ spec, dom_id: "#swagger-ui", deepLinking: true, defaultModelsExpandDepth: 0 });
  });
