// Starts Swagger UI on /api/docs (a file, not an inline script: the CSP
// allows scripts from this origin only). The bundle is served by the app
// itself from /api/docs/swagger-ui-bundle.js.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No call to the public validator: nothing leaves this origin.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
