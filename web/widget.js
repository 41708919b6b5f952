// mutualauth sign-in widget. Load it from the mutualauth server, with the
// integrity value the server publishes (GET /.well-known/mutualauth,
// "widget_integrity"):
//
//   <script src="https://login.example/widget.js" integrity="sha384-..." crossorigin="anonymous"></script>
//   <div id="login"></div>
//   <script>
//     MutualAuth.mount(document.getElementById("login"), {
//       clientId: "mac_...", onLogin: function (code) { /* send code to your backend */ },
//       onError: function (err) { /* err.code */ }, pinnedKey: "<server key thumbprint, optional>" });
//   </script>
//
// mount() opens the server's login page (/embed/login) in an iframe. The frame
// runs the whole mutual login and, on success, posts a one-time code to this
// page's exact origin. Your backend exchanges the code for the user at
// POST /api/v1/token with its client credentials. No dependency, no cookie.
(function () {
  "use strict";
  // The issuer is where this script came from: only messages from that origin,
  // and only from the frame this script made, are read.
  var script = document.currentScript;
  var ISSUER = "";
  try { ISSUER = new URL(script && script.src).origin; } catch (e) { ISSUER = ""; }
  var READY_WITHIN_MS = 10000;
  var CODE = /^[A-Za-z0-9_-]{16,128}$/;
  var KID = /^[A-Za-z0-9_-]{43}$/;

  function widgetError(code, message) {
    var err = new Error(message);
    err.code = code;
    return err;
  }

  // plain reports whether d is a plain object with exactly these keys.
  function plain(d, keys) {
    if (!d || typeof d !== "object" || Array.isArray(d) || Object.getPrototypeOf(d) !== Object.prototype) return false;
    return Object.keys(d).sort().join(",") === keys;
  }

  var ERRORS = {
    key_changed: "The sign-in server's key changed: the widget stopped before asking for a password.",
    not_verified: "The sign-in server could not be verified: the widget stopped before asking for a password.",
    refused: "The sign-in frame refused to run on this page."
  };

  function mount(element, options) {
    options = options || {};
    var target = typeof element === "string" ? document.querySelector(element) : element;
    if (!ISSUER) throw widgetError("invalid_setup", "MutualAuth: load widget.js with <script src>.");
    if (!target || target.nodeType !== 1) throw widgetError("invalid_options", "MutualAuth.mount: no element to mount into.");
    if (typeof options.clientId !== "string" || !options.clientId) throw widgetError("invalid_options", "MutualAuth.mount: clientId is required.");
    if (typeof options.onLogin !== "function") throw widgetError("invalid_options", "MutualAuth.mount: onLogin must be a function.");
    if (options.pinnedKey !== undefined && options.pinnedKey !== "" && !KID.test(options.pinnedKey)) {
      throw widgetError("invalid_options", "MutualAuth.mount: pinnedKey must be a key thumbprint (43 base64url characters).");
    }
    var onError = typeof options.onError === "function" ? options.onError : function (err) {
      if (window.console) window.console.error(err);
    };

    var src = ISSUER + "/embed/login?client_id=" + encodeURIComponent(options.clientId) +
      "&origin=" + encodeURIComponent(window.location.origin);
    if (options.pinnedKey) src += "&pinned_key=" + encodeURIComponent(options.pinnedKey);

    var frame = document.createElement("iframe");
    frame.title = "Sign in";
    // WebAuthn in a cross-origin frame needs the host's permission
    // (W3C Permissions Policy; WebAuthn Level 3 §5.9).
    frame.allow = "publickey-credentials-get " + ISSUER;
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = "480px";
    frame.style.display = "block";
    frame.src = src;

    var ready = false;
    var done = false;
    function onMessage(ev) {
      if (ev.origin !== ISSUER || ev.source !== frame.contentWindow) return;
      var d = ev.data;
      if (plain(d, "height,type") && d.type === "mutualauth:resize" && typeof d.height === "number" && isFinite(d.height)) {
        ready = true;
        frame.style.height = Math.max(120, Math.min(4000, Math.ceil(d.height))) + "px";
      } else if (plain(d, "code,type") && d.type === "mutualauth:login" && typeof d.code === "string" && CODE.test(d.code)) {
        if (done) return;
        done = true;
        options.onLogin(d.code);
      } else if (plain(d, "error,type") && d.type === "mutualauth:error" && Object.prototype.hasOwnProperty.call(ERRORS, d.error)) {
        onError(widgetError(d.error, ERRORS[d.error]));
      }
    }
    window.addEventListener("message", onMessage);
    var timer = window.setTimeout(function () {
      if (!ready) {
        onError(widgetError("frame_unavailable",
          "The sign-in frame did not start: is " + window.location.origin + " one of the app's registered origins?"));
      }
    }, READY_WITHIN_MS);
    target.appendChild(frame);

    return {
      frame: frame,
      unmount: function () {
        window.clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (frame.parentNode) frame.parentNode.removeChild(frame);
      }
    };
  }

  window.MutualAuth = { mount: mount, issuer: ISSUER };
})();
