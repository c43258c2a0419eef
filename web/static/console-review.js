// The review queue by keyboard: j/k move between held orders, a approves, r rejects
// (asking a reason), o opens the order. The forms work without this script.
(function () {
  "use strict";
  var current = -1;

  function items() { return Array.prototype.slice.call(document.querySelectorAll(".review-item")); }

  function select(index) {
    var all = items();
    if (!all.length) { return null; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (item, i) { item.classList.toggle("selected", i === current); });
    all[current].focus();
    all[current].scrollIntoView({ block: "nearest" });
    return all[current];
  }

  function selected() { return current >= 0 ? items()[current] : select(0); }

  function decide(item, approve) {
    var form = item.querySelector("form.decide");
    var reason = item.querySelector("input.reason");
    if (!reason.value.trim()) {
      var asked = window.prompt(approve ? "Why approve this order?" : "Why reject this order?");
      if (asked === null || !asked.trim()) { reason.focus(); return; }
      reason.value = asked.trim();
    }
    form.requestSubmit(item.querySelector(approve ? "button.approve" : "button.reject"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") { return; }
    var item;
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "a": item = selected(); if (item) { decide(item, true); } break;
      case "r": item = selected(); if (item) { decide(item, false); } break;
      case "o": item = selected(); if (item) { window.location.assign(item.querySelector("a.open").href); } break;
      default: return;
    }
    event.preventDefault();
  });
})();
