// Admin center enhancements. Every page works without this script; it only
// adds the Copy buttons next to one-time links and secrets.
"use strict";
(function () {
  function copyFrom(input, button) {
    var done = function () {
      button.textContent = MA.t("js.copied");
      setTimeout(function () { button.textContent = MA.t("js.copy"); }, 2000);
    };
    var fallback = function () {
      input.focus();
      input.select();
      try { if (document.execCommand("copy")) { done(); return; } } catch (e) { /* not allowed */ }
      button.textContent = MA.t("js.press-ctrl-c");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, fallback);
    } else {
      fallback();
    }
  }

  function init() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) return;
      button.hidden = false;
      button.addEventListener("click", function () { copyFrom(input, button); });
    });
    // One click selects the whole link or secret.
    document.querySelectorAll(".copy-row input[readonly]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
