// Enrollment page (GET /enroll/{token}): password, security phrase, second
// factors (TOTP and/or a passkey), completion with recovery codes, and
// pinning of the server key (RFC 7638 thumbprint) in this origin's storage.
// common.js gives the API calls and the WebAuthn conversions, proof.js the
// key thumbprint; both are loaded before this file.
(function () {
  "use strict";

  var PIN_KEY = "mutualauth:pinned_kid";
  var STEPS = ["password", "phrase", "factors", "codes", "done"];

  var main = document.getElementById("main");
  var base = main.getAttribute("data-api");
  var state = { done: { password: false, phrase: false, totp: false, webauthn: false }, webauthnAvailable: false };

  var $ = MA.$, api = MA.api, detailOf = MA.detail;

  // showError puts a message in place (role="alert" announces it) and marks
  // the related input invalid.
  function showError(id, msg, input) {
    var el = $(id);
    el.textContent = msg || "";
    el.hidden = !msg;
    if (input) {
      if (msg) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } else {
        input.removeAttribute("aria-invalid");
      }
    }
  }

  // handleCommon deals with answers every step can get; it returns true when
  // it did.
  function handleCommon(r) {
    if (r.status === 404 && r.body && r.body.code === "invalid_token") {
      fatal(r.body.detail);
      return true;
    }
    return false;
  }

  function fatal(msg) {
    STEPS.forEach(function (s) { $("step-" + s).hidden = true; });
    $("loading").hidden = true;
    showError("global-error", msg);
  }

  function busy(button, on) {
    button.disabled = on;
    if (on) button.setAttribute("aria-busy", "true"); else button.removeAttribute("aria-busy");
  }

  function go(step) {
    STEPS.forEach(function (s) { $("step-" + s).hidden = s !== step; });
    var current = STEPS.indexOf(step);
    var items = document.querySelectorAll("#progress li");
    for (var i = 0; i < items.length; i++) {
      var idx = STEPS.indexOf(items[i].getAttribute("data-step"));
      items[i].className = idx < current ? "done" : idx === current ? "current" : "";
      if (idx === current) items[i].setAttribute("aria-current", "step"); else items[i].removeAttribute("aria-current");
    }
    main.setAttribute("data-step", step);
    var h = $("h-" + step);
    if (h) h.focus();
  }

  function refreshFactors() {
    $("totp-status").hidden = !state.done.totp;
    $("totp-start").textContent = MA.t(state.done.totp ? "js.totp-replace" : "js.totp-start");
    $("webauthn-status").hidden = !state.done.webauthn;
    var canPasskey = state.webauthnAvailable && MA.webauthn.available();
    $("webauthn-setup").hidden = !canPasskey;
    $("webauthn-unavailable").hidden = canPasskey;
    $("webauthn-add").textContent = MA.t(state.done.webauthn ? "js.webauthn-add-another" : "js.webauthn-add");
    $("complete").disabled = !(state.done.password && state.done.phrase && (state.done.totp || state.done.webauthn));
  }

  // --- step 1: password
  $("password-show").addEventListener("change", function () {
    $("password").type = this.checked ? "text" : "password";
  });
  $("form-password").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("password"), button = $("password-submit");
    if (!input.value) { showError("password-error", MA.t("js.enter-password"), input); return; }
    busy(button, true);
    var r = await api("POST", base + "/password", { password: input.value });
    busy(button, false);
    if (handleCommon(r)) return;
    if (r.status === 204) {
      showError("password-error", "", input);
      input.value = "";
      state.done.password = true;
      go(state.done.phrase ? "factors" : "phrase");
      refreshFactors();
      return;
    }
    showError("password-error", detailOf(r), input);
  });

  // --- step 2: phrase
  $("phrase-suggest").addEventListener("click", async function () {
    var input = $("phrase"), button = this;
    busy(button, true);
    var r = await api("GET", base + "/phrase/suggestion");
    busy(button, false);
    if (handleCommon(r)) return;
    if (r.status === 200 && r.body && r.body.phrase) {
      input.value = r.body.phrase;
      showError("phrase-error", "", input);
      input.focus();
      input.select();
      return;
    }
    showError("phrase-error", detailOf(r), input);
  });
  $("form-phrase").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("phrase"), button = $("phrase-submit");
    if (!input.value.trim()) { showError("phrase-error", MA.t("js.enter-phrase"), input); return; }
    busy(button, true);
    var r = await api("POST", base + "/phrase", { phrase: input.value });
    busy(button, false);
    if (handleCommon(r)) return;
    if (r.status === 204) {
      showError("phrase-error", "", input);
      state.done.phrase = true;
      refreshFactors();
      go("factors");
      return;
    }
    showError("phrase-error", detailOf(r), input);
  });

  // --- step 3a: TOTP. Once a QR code is shown the step is locked to it:
  // only the deliberate "Start again" makes a new key, since the app that
  // scanned the first one would then fail.
  async function startTOTP() {
    var button = this;
    busy(button, true);
    var r = await api("POST", base + "/totp");
    busy(button, false);
    if (handleCommon(r)) return;
    if (r.status !== 200 || !r.body || !r.body.secret) {
      showError("totp-error", detailOf(r));
      $("totp-setup").hidden = false;
      return;
    }
    $("totp-qr").src = r.body.qr_png;
    $("totp-secret").textContent = r.body.secret.replace(/(.{4})(?=.)/g, "$1 ");
    $("totp-secret").setAttribute("data-secret", r.body.secret);
    $("totp-link").href = r.body.otpauth_uri;
    $("totp-setup").hidden = false;
    $("totp-start").hidden = true;
    showError("totp-error", "");
    $("totp-code").value = "";
    $("totp-code").focus();
  }
  $("totp-start").addEventListener("click", startTOTP);
  $("totp-restart").addEventListener("click", startTOTP);
  $("form-totp").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var input = $("totp-code"), button = $("totp-confirm");
    var code = input.value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) { showError("totp-error", MA.t("js.enter-code"), input); return; }
    busy(button, true);
    var r = await api("POST", base + "/totp/confirm", { code: code });
    busy(button, false);
    if (handleCommon(r)) return;
    if (r.status === 204) {
      showError("totp-error", "", input);
      $("totp-setup").hidden = true;
      $("totp-qr").removeAttribute("src");
      $("totp-secret").textContent = "";
      $("totp-secret").removeAttribute("data-secret");
      $("totp-start").hidden = false;
      state.done.totp = true;
      refreshFactors();
      $("complete").focus();
      return;
    }
    showError("totp-error", detailOf(r), input);
  });

  // --- step 3b: passkey
  $("webauthn-add").addEventListener("click", async function () {
    var button = this;
    showError("webauthn-error", "");
    busy(button, true);
    try {
      var r = await api("POST", base + "/webauthn/options");
      if (handleCommon(r)) return;
      if (r.status !== 200 || !r.body || !r.body.publicKey) { showError("webauthn-error", detailOf(r)); return; }
      var cred;
      try {
        cred = await navigator.credentials.create({ publicKey: MA.webauthn.creationOptions(r.body.publicKey) });
      } catch (e) {
        var msg = MA.t("js.passkey-failed", e && e.message ? e.message : String(e));
        if (e && e.name === "NotAllowedError") msg = MA.t("js.passkey-cancelled");
        if (e && e.name === "InvalidStateError") msg = MA.t("js.passkey-exists");
        showError("webauthn-error", msg);
        return;
      }
      if (!cred) { showError("webauthn-error", MA.t("js.passkey-none")); return; }
      var body = { credential: MA.webauthn.credentialJSON(cred) };
      var name = $("webauthn-name").value.trim();
      if (name) body.name = name;
      var res = await api("POST", base + "/webauthn", body);
      if (handleCommon(res)) return;
      if (res.status === 204) {
        state.done.webauthn = true;
        $("webauthn-name").value = "";
        refreshFactors();
        $("complete").focus();
        return;
      }
      showError("webauthn-error", detailOf(res));
    } finally {
      busy(button, false);
    }
  });

  // --- completion and pinning
  // pin checks that the JWKS holds the key the server named, that its kid is
  // its RFC 7638 thumbprint, and stores the kid in this origin's storage.
  async function pin(serverKey) {
    var uri = new URL(serverKey.jwks_uri, location.href);
    if (uri.origin !== location.origin) throw new Error(MA.t("js.pin-other-origin", uri.origin));
    var res = await fetch(uri.href, { headers: { "Accept": "application/json" }, cache: "no-store" });
    if (!res.ok) throw new Error(MA.t("js.pin-no-key-set", res.status));
    var set = await res.json();
    var key = (set.keys || []).filter(function (k) { return k.kid === serverKey.kid; })[0];
    if (!key) throw new Error(MA.t("js.pin-unpublished"));
    if (key.kty !== "EC" || key.crv !== "P-256" || !key.x || !key.y) throw new Error(MA.t("js.pin-not-p256"));
    if (!window.crypto || !crypto.subtle) throw new Error(MA.t("js.pin-no-https"));
    if (await MA.jwkThumbprint(key) !== key.kid) throw new Error(MA.t("js.pin-thumbprint"));
    localStorage.setItem(PIN_KEY, key.kid);
    return key.kid;
  }

  $("complete").addEventListener("click", async function () {
    var button = this;
    showError("complete-error", "");
    busy(button, true);
    var r = await api("POST", base + "/complete");
    if (handleCommon(r)) return;
    if (r.status !== 200 || !r.body || !r.body.recovery_codes) {
      busy(button, false);
      showError("complete-error", detailOf(r));
      return;
    }
    MA.recoveryCodes(r.body.recovery_codes,
      "mutualauth recovery codes for " + $("enroll-username").textContent + " at " + location.host + "\n");
    go("codes");
    $("pin").hidden = false;
    try {
      var kid = await pin(r.body.server_key || {});
      $("pin-kid").textContent = kid;
      $("pin-ok").hidden = false;
    } catch (e) {
      $("pin-error").textContent = MA.t("js.pin-failed", e.message);
      $("pin-error").hidden = false;
    }
  });

  $("codes-saved").addEventListener("change", function () {
    $("codes-done").disabled = !this.checked;
  });
  $("codes-done").addEventListener("click", function () {
    $("codes").textContent = "";
    go("done");
  });

  // --- start
  (async function init() {
    var r = await api("GET", base);
    $("loading").hidden = true;
    if (handleCommon(r)) return;
    if (r.status !== 200 || !r.body || !r.body.done) { fatal(detailOf(r)); return; }
    state.done = r.body.done;
    state.webauthnAvailable = !!r.body.webauthn_available;
    refreshFactors();
    if (!state.done.password) go("password");
    else if (!state.done.phrase) go("phrase");
    else go("factors");
  })();
})();
