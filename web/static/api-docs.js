// The API's documentation page (/api/v1/docs): Swagger UI, vendored from its npm package
// (scripts/vendor_assets.py), reading the document this server generates. No CDN, no inline
// script (the page's CSP is script-src 'self'), no outside validator.
"use strict";
(function () {
  function start() {
    var main = document.getElementById("main");
    window.ui = window.SwaggerUIBundle({
      url: main.getAttribute("data-spec-url"),
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      tryItOutEnabled: false,
      persistAuthorization: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
