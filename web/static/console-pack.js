// Pick, pack and print: the scan-to-pack bench (a USB scanner types the code and Enter into the
// focused input), the pick list's print button and the labels page's "select all".
(function () {
  "use strict";

  // Short tones from the Web Audio API: a high beep for a match, two low buzzes for a mismatch.
  // The audio context starts on a user gesture (the scanner's Enter is one).
  var audio = null;
  function context() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return null; }
    if (!audio) { audio = new Ctx(); }
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }
  function tone(ctx, freq, start, length, type) {
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.type = type;
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.2, ctx.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + length);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(ctx.currentTime + start);
    osc.stop(ctx.currentTime + start + length);
  }
  function sound(outcome) {
    var ctx = context();
    if (!ctx) { return; }
    if (outcome === "match") {
      tone(ctx, 1320, 0, 0.12, "sine");
    } else {
      tone(ctx, 220, 0, 0.18, "square");
      tone(ctx, 180, 0.22, 0.25, "square");
    }
  }

  // Screen readers hear each scan's outcome from a region that stays on the page.
  function announce(status) {
    var region = document.getElementById("scan-announce");
    if (region && status) { region.textContent = status.textContent.replace(/\s+/g, " ").trim(); }
  }

  function scanInput() { return document.querySelector("[data-scan]"); }
  function refocus() {
    var input = scanInput();
    if (input && document.activeElement !== input) { input.focus(); }
  }

  // Scans are sent one after another, in the order they were made; the input is cleared at
  // once so the next scan can start while the server answers the last one.
  var pending = Promise.resolve();
  function sendScan(form, code) {
    var result = document.getElementById("scan-result");
    var body = new FormData();
    var token = form.querySelector('input[name="csrf_token"]');
    body.append("csrf_token", token ? token.value : "");
    body.append("code", code);
    pending = pending.then(function () {
      return fetch(form.action, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "HX-Request": "true", "X-CSRFToken": token ? token.value : "" }
      }).then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) {
            result.innerHTML = '<p class="scan-status bad" role="alert" data-outcome="mismatch">' +
              "The scan was not checked (HTTP " + response.status + "). Reload the page.</p>";
          } else {
            result.innerHTML = text;
            if (window.htmx) { window.htmx.process(result); }
          }
          var status = result.querySelector("[data-outcome]");
          sound(status ? status.getAttribute("data-outcome") : "mismatch");
          announce(status);
          refocus();
        });
      }).catch(function () {
        result.innerHTML = '<p class="scan-status bad" role="alert" data-outcome="mismatch">' +
          "The scan did not reach the server; scan it again.</p>";
        sound("mismatch");
        refocus();
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-scan-form]")) { return; }
    event.preventDefault();
    var input = form.querySelector("[data-scan]");
    var code = input.value.trim();
    input.value = "";
    context();  // the keypress is the gesture that lets sound play
    if (code) { sendScan(form, code); }
    input.focus();
  });

  // After the label panel updates, focus goes back to the scanner's input.
  document.addEventListener("htmx:afterSwap", function () { refocus(); });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-print]")) {
      window.print();
    }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      var form = box.closest("form");
      form.querySelectorAll('input[name="shipment"]').forEach(function (each) { each.checked = box.checked; });
    }
  });

  document.addEventListener("DOMContentLoaded", refocus);
})();
