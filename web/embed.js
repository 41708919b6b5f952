// The widget's side of the login page (GET /embed/login): login.js runs the
// mutual login; this file connects it to the host page around the frame.
//
// Messages (HTML Standard, "Cross-document messaging"), always to one exact
// origin, never "*":
//   frame → host (host-origin, a registered origin of the client):
//     {"type": "mutualauth:resize", "height": <CSS pixels>}
//     {"type": "mutualauth:login", "code": "<one-time code>"}
//     {"type": "mutualauth:error", "error": "key_changed" | "not_verified" | "refused"}
//   pop-up → frame (the issuer's own origin, to window.opener):
//     {"type": "mutualauth:popup-login", "code": "<one-time code>"}
// The frame listens to no message from the host: whatever the host page
// posts has no effect. It listens only, while a pop-up it opened is open, to
// that window, on its own origin.
"use strict";
(function () {
  var MA = window.MA;
  var $ = MA.$;
  var cfg = {};
  var popup = null;
  var finished = false;

  function toHost(msg) {
    if (cfg.mode !== "embed" || !cfg.hostOrigin || window.parent === window) return;
    window.parent.postMessage(msg, cfg.hostOrigin);
  }

  function refusal() {
    if (cfg.refusal) return cfg.refusal;
    if (!cfg.hostOrigin || !cfg.clientId) return MA.t("js.embed-no-settings");
    if (cfg.mode === "embed") {
      if (window.parent === window) return MA.t("js.embed-not-framed");
      // Where the browser tells (Chrome, Safari), the page around the frame
      // must be the site the app named; frame-ancestors already holds it to
      // the app's sites.
      var anc = window.location.ancestorOrigins;
      if (anc && anc.length > 0 && anc[0] !== cfg.hostOrigin) {
        return MA.t("js.embed-wrong-ancestor", anc[0], cfg.hostOrigin);
      }
    }
    if (cfg.mode === "popup" && !window.opener) return MA.t("js.embed-no-opener");
    return "";
  }

  function deliver(code) {
    if (finished || typeof code !== "string" || !code) return;
    finished = true;
    toHost({ type: "mutualauth:login", code: code });
  }

  function done(body) {
    if (cfg.mode === "popup") {
      // Only a window on this same origin (the frame that opened us) gets it.
      if (window.opener) {
        window.opener.postMessage({ type: "mutualauth:popup-login", code: body.code || "" }, window.location.origin);
      }
      window.close();
      return;
    }
    deliver(body.code);
  }

  function stopped(code) {
    MA.show($("popup-offer"), false);
    MA.show($("popup-wait"), false);
    toHost({ type: "mutualauth:error", error: code });
  }

  function passkeyRefused(err) {
    var name = err && err.name;
    if (cfg.mode !== "embed" || (name !== "NotAllowedError" && name !== "SecurityError")) return false;
    MA.show($("popup-offer"), true);
    $("popup-open").focus();
    return true;
  }

  function popupURL() {
    var q = "client_id=" + encodeURIComponent(cfg.clientId) + "&origin=" + encodeURIComponent(cfg.hostOrigin) + "&popup=1";
    if (cfg.pinnedKey) q += "&pinned_key=" + encodeURIComponent(cfg.pinnedKey);
    return window.location.origin + "/embed/login?" + q;
  }

  function onPopupMessage(ev) {
    if (!popup || ev.source !== popup || ev.origin !== window.location.origin) return;
    var d = ev.data;
    if (!d || typeof d !== "object" || Array.isArray(d)) return;
    var keys = Object.keys(d);
    if (keys.length !== 2 || d.type !== "mutualauth:popup-login" || typeof d.code !== "string" || !d.code) return;
    window.removeEventListener("message", onPopupMessage);
    popup = null;
    ["username-form", "who", "otp-form", "recovery-form", "password-form", "popup-offer", "error", "verified", "first-use"]
      .forEach(function (id) { MA.show($(id), false); });
    $("popup-wait").textContent = MA.t("js.embed-popup-done");
    MA.show($("popup-wait"), true);
    deliver(d.code);
  }

  function openPopup() {
    popup = window.open(popupURL(), "mutualauth-login", "popup,width=480,height=720");
    if (!popup) {
      MA.show($("popup-wait"), false);
      $("error").textContent = MA.t("js.embed-popup-blocked");
      MA.show($("error"), true);
      return;
    }
    window.addEventListener("message", onPopupMessage);
    MA.show($("popup-offer"), false);
    MA.show($("popup-wait"), true);
  }

  function watchSize() {
    var main = $("main");
    var last = 0;
    function report() {
      var h = Math.ceil(main.getBoundingClientRect().bottom + window.scrollY + 16);
      if (h !== last) {
        last = h;
        toHost({ type: "mutualauth:resize", height: h });
      }
    }
    if (window.ResizeObserver) new ResizeObserver(report).observe(main);
    report();
  }

  var data = $("login-data").dataset;
  cfg = {
    mode: data.mode, clientId: data.clientId || "", hostOrigin: data.hostOrigin || "",
    pinnedKey: data.pinnedKey || "", refusal: data.refusal || ""
  };
  MA.loginHooks = { refusal: refusal, done: done, stopped: stopped, passkeyRefused: passkeyRefused };

  document.addEventListener("DOMContentLoaded", function () {
    // The frame shows the login card alone, without the site's header.
    var header = document.querySelector("header.top");
    if (header && cfg.mode === "embed") header.hidden = true;
    if (cfg.mode === "embed") $("main").style.margin = "0 auto";
    $("popup-open").addEventListener("click", openPopup);
    if (!refusal()) watchSize();
  });
})();
