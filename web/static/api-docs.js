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
      deepLinking: false, // a deep link inside the summary button would nest a link in a button (axe: nested-interactive)
      validatorUrl: null,
      tryItOutEnabled: false,
      persistAuthorization: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    });
  }
  // Swagger UI's authorization dialog: its close button is an unnamed icon, and its submit
  // button's aria-label differs from the words it shows. Name them by what they show.
  function nameButtons(root) {
    root.querySelectorAll("button.close-modal:not([aria-label])").forEach(function (b) {
      b.setAttribute("aria-label", "Close");
    });
    root.querySelectorAll(".auth-btn-wrapper button[aria-label]").forEach(function (b) {
      var words = b.textContent.trim();
      if (words && b.getAttribute("aria-label") !== words) b.setAttribute("aria-label", words);
    });
  }
  new MutationObserver(function () {
    nameButtons(document);
  }).observe(document.documentElement, { childList: true, subtree: true });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
