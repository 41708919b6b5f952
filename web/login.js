// The mutual login UI: the hosted login page (GET /login) and the widget's
// frame and pop-up (GET /embed/login, templates/embed.html). It never asks for
// a password before the server has proved itself: every step sends a fresh
// client nonce, and the signed proof in the answer is checked with proof.js
// against the key this browser pinned (and, in the widget, the key the host
// pinned). Any failure stops the page with a warning.
// Passkeys come first: on load the page begins a passkey-first login, checks
// its proof, and only then starts a conditional-mediation request (passkey
// autofill in the username field); "Sign in with a passkey" starts a modal
// one. The phrase shows only where a phishing proxy cannot get it (on a
// recognized browser before anything is typed, or after a passkey); after a
// code the page goes on to the password with "Server verified" and the
// phrase rule instead.
// The layout loads common.js, proof.js (and embed.js in the widget) before
// this file, all deferred; the work starts at DOMContentLoaded.
//
// Settings come from #login-data: issuer, return-to, and for the widget mode
// ("embed" in the frame, "popup" in the pop-up), client-id, host-origin,
// pinned-key and refusal. The widget's page script sets MA.loginHooks:
//   refusal() → a reason not to run, or ""
//   done(completion) instead of going to return_to
//   stopped(code) when the page stops ("key_changed", "not_verified", "refused")
//   passkeyRefused(error) → true when it offers another way (the pop-up)
"use strict";
(function () {
  var PIN_KEY = "mutualauth:pinned_kid";
  // The frame cannot count on cookies (they are third-party there): it keeps
  // its device token in its own storage, which browsers partition by the
  // top-level site where they do that.
  var DEVICE_KEY = "mutualauth:device_token";
  var KEY_CHANGED = MA.t("js.login-key-changed");
  var NOT_VERIFIED = MA.t("js.login-not-verified");
  var CANNOT_RUN = MA.t("js.login-cannot-run");
  var PASSKEY_REQUIRED = MA.t("js.login-passkey-required");
  var NO_PASSKEY = MA.t("js.login-no-passkey");

  var el = {};
  var page = {};
  var hooks = {};
  var tx = null; // the current login transaction
  var autofill = null; // the AbortController of the pending passkey autofill request
  var begins = 0; // how many sign-ins began; a slower answer of an older one is dropped

  var $ = MA.$, show = MA.show;

  function readPin() {
    try { return window.localStorage.getItem(PIN_KEY) || ""; } catch (e) { return ""; }
  }
  function writePin(kid) {
    try { window.localStorage.setItem(PIN_KEY, kid); return true; } catch (e) { return false; }
  }
  // The device token travels in the body only in the frame; elsewhere the
  // HttpOnly cookie carries it.
  function readDeviceToken() {
    if (page.mode !== "embed") return "";
    try { return window.localStorage.getItem(DEVICE_KEY) || ""; } catch (e) { return ""; }
  }
  function writeDeviceToken(tok) {
    if (page.mode !== "embed" || typeof tok !== "string" || !tok) return;
    try { window.localStorage.setItem(DEVICE_KEY, tok); } catch (e) { /* storage refused: unrecognized next time */ }
  }

  function newNonce() {
    var b = new Uint8Array(32);
    crypto.getRandomValues(b);
    return MA.b64u.encode(b);
  }

  // Stop the page: the server could not be verified. Every form goes away and
  // stays away; the stop screen says what happened, and for a key that cannot
  // be followed (no valid handover from the pinned key) which key to compare
  // with the one the operator publishes. "Start over" is the way on: it
  // forgets this browser's pin for a key change (after the user compared the
  // key) and reloads.
  // key: {current, pinned, byHost} for a key change, else undefined.
  function stop(title, reason, code, key) {
    tx = null;
    abortAutofill();
    ["username-form", "who", "otp-form", "recovery-form", "password-form", "verified", "first-use", "error", "done",
      "trust", "passkey-none"]
      .forEach(function (id) { show($(id), false); });
    el.password.value = "";
    el.stopTitle.textContent = title;
    el.stopReason.textContent = reason ? MA.t("js.login-what-happened", reason) : "";
    page.stopKey = key || null;
    show(el.stopKey, !!key);
    if (key) {
      el.stopKid.textContent = key.current || MA.t("js.login-key-none");
      el.stopPinned.textContent = key.pinned || "";
      el.stopPinnedLabel.textContent = key.byHost ? MA.t("js.login-key-site") : MA.t("js.login-key-before");
      el.stopAdvice.textContent = key.byHost ?
        MA.t("js.login-advice-site") :
        MA.t("js.login-advice");
    }
    show(el.stop, true);
    el.stop.setAttribute("tabindex", "-1");
    el.stop.focus();
    if (hooks.stopped) hooks.stopped(code || (key ? "key_changed" : "not_verified"));
  }

  function startOver() {
    if (page.stopKey && !page.stopKey.byHost) {
      try { window.localStorage.removeItem(PIN_KEY); } catch (e) { /* nothing stored */ }
    }
    window.location.reload();
  }

  function setError(msg) {
    el.error.textContent = msg;
    show(el.error, !!msg);
  }

  function showStep(formId, focusId) {
    ["username-form", "otp-form", "recovery-form", "password-form"].forEach(function (id) {
      show($(id), id === formId);
    });
    var f = $(focusId);
    if (f) { f.value = ""; f.focus(); }
  }

  function restart(msg) {
    tx = null;
    abortAutofill();
    ["who", "verified", "first-use", "done", "phrase-box", "passkey-none", "cert-box"].forEach(function (id) { show($(id), false); });
    show(el.trust, true);
    el.phrase.textContent = "";
    el.password.value = "";
    showStep("username-form", null);
    el.username.focus();
    setError(msg || "");
    beginPasskey();
  }

  function abortAutofill() {
    if (autofill) {
      autofill.abort();
      autofill = null;
    }
  }

  async function fetchJSON(path) {
    var res = await fetch(path, { credentials: "omit", cache: "no-cache" });
    if (!res.ok) throw new Error("status " + res.status);
    return res.json();
  }

  // The handovers are fetched only when a proof's key is not the pinned one.
  async function fetchHandovers() {
    var doc = await fetchJSON("/.well-known/mutualauth");
    return doc && Array.isArray(doc.key_handovers) ? doc.key_handovers : [];
  }

  function keyOf(jws) {
    try { return JSON.parse(new TextDecoder().decode(MA.b64u.decode(jws.split(".")[0]))).kid || ""; } catch (e) { return ""; }
  }

  // verify checks one step's proof; on success it updates the verified box and
  // returns the claims, on failure it stops the page and returns null. A proof
  // by a newer key is accepted through valid handovers from the pinned key,
  // and this browser then pins the newer key.
  async function verify(proof, nonce, loginId, phraseShown) {
    var t = tx; // the transaction the proof belongs to
    // In the widget the host may pin a key too: the proof must match both.
    var stored = readPin();
    var pinned = page.pinnedKey || stored;
    var jwks, handovers;
    try {
      jwks = await fetchJSON("/.well-known/jwks.json");
      if (pinned && proof && keyOf(proof) !== pinned) handovers = await fetchHandovers();
    } catch (e) {
      stop(NOT_VERIFIED, MA.t("js.login-reason-keys-unreachable"));
      return null;
    }
    var result;
    try {
      if (!proof) {
        var missing = new Error(MA.t("js.login-reason-no-proof"));
        missing.reason = "missing";
        throw missing;
      }
      result = await MA.verifyProof(proof, {
        issuer: page.issuer, audience: window.location.origin, nonce: nonce,
        loginId: loginId, pinnedKid: pinned, jwks: jwks, handovers: handovers
      });
      if (stored && stored !== pinned && stored !== result.kid) {
        if (!handovers) handovers = await fetchHandovers();
        await MA.followHandovers(stored, result.kid, handovers, jwks, page.issuer);
      }
    } catch (e) {
      if (e && e.reason === "key-changed") {
        var byHost = !!page.pinnedKey && e.message.indexOf(page.pinnedKey) >= 0;
        stop(KEY_CHANGED, MA.t(byHost ? "js.login-reason-key-site" : "js.login-reason-key-browser"), "key_changed", { current: keyOf(proof), pinned: byHost ? page.pinnedKey : stored, byHost: byHost });
      } else stop(NOT_VERIFIED, e && e.reason ? e.message : MA.t("js.login-reason-unchecked"));
      return null;
    }
    if (tx !== t) return null; // a newer sign-in began meanwhile
    var phrase = typeof result.claims.phrase === "string" ? result.claims.phrase : "";
    if (phraseShown && !phrase) {
      stop(NOT_VERIFIED, MA.t("js.login-reason-no-phrase"));
      return null;
    }
    if (!stored && !pinned) {
      el.firstUseKid.textContent = result.kid;
      show(el.firstUse, true);
    }
    if (stored !== result.kid) writePin(result.kid);
    el.verifiedKid.textContent = result.kid;
    if (phrase) {
      t.phrase = phrase;
      el.phrase.textContent = phrase;
      show(el.phraseBox, true);
    }
    if (t.passkey && !t.username && typeof result.claims.username === "string" && result.claims.username) {
      // The passkey named the account.
      t.username = result.claims.username;
      el.whoName.textContent = t.username;
      show(el.who, true);
    }
    t.verified = true;
    show(el.verified, true);
    return result.claims;
  }

  // failed handles a non-200 answer of a login step. It returns true when
  // the transaction is gone (the page went back to the username).
  function failed(res, field) {
    var body = res.body || {};
    if (res.status === 0) {
      setError(MA.detail(res));
      return false;
    }
    if (res.status === 429) {
      setError(MA.tooMany(res));
      MA.countdown(el.error, res);
    } else if (res.status === 401 && body.code === "invalid_credentials") {
      setError(MA.t("js.login-failed"));
    } else if (res.status === 403 && body.code === "phishing_resistant_required") {
      setError(PASSKEY_REQUIRED);
      if (tx) askPasskey();
      return false;
    } else if (res.status === 409 || res.status === 404 || res.status === 410) {
      restart(MA.t("js.login-expired"));
      return true;
    } else if (res.status === 503) {
      setError(MA.t("js.login-unavailable"));
    } else {
      setError(MA.detail(res));
    }
    if (field) { field.value = ""; field.focus(); }
    return false;
  }

  // advance shows the form for what the server asks next.
  function advance(next) {
    next = Array.isArray(next) ? next : [];
    if (next.indexOf("password") >= 0) {
      // The password is asked only after a verified proof; the phrase is in
      // it only where a proxy could not have bought it (see the rule line).
      if (!tx.verified) {
        stop(NOT_VERIFIED, MA.t("js.login-reason-password-first"));
        return;
      }
      showStep("password-form", "password");
    } else if (next.indexOf("otp") >= 0 || next.indexOf("webauthn") >= 0 || next.indexOf("recovery") >= 0) {
      show($("otp-label"), next.indexOf("otp") >= 0);
      show(el.otp, next.indexOf("otp") >= 0);
      show(el.otpSubmit, next.indexOf("otp") >= 0);
      show(el.webauthnButton, next.indexOf("webauthn") >= 0 && !!window.PublicKeyCredential);
      show(el.recoveryLink.parentNode, next.indexOf("recovery") >= 0);
      tx.next = next;
      if (next.indexOf("otp") >= 0) showStep("otp-form", "otp");
      else { showStep("otp-form", null); el.webauthnButton.focus(); }
    } else {
      stop(NOT_VERIFIED, MA.t("js.login-reason-unknown-step"));
    }
  }

  // askPasskey leaves only the passkey (and the recovery code) on the
  // second-factor form: where the server refused a code, or where it
  // accepts nothing else.
  function askPasskey() {
    tx.next = ["webauthn", "recovery"];
    show($("otp-label"), false);
    show(el.otp, false);
    show(el.otpSubmit, false);
    show(el.webauthnButton, !!window.PublicKeyCredential);
    show(el.recoveryLink.parentNode, true);
    showStep("otp-form", null);
    el.webauthnButton.focus();
  }

  // step posts one factor with a fresh nonce and handles its answer. The
  // buttons stay disabled until the answer's proof is checked.
  async function step(path, fields, field) {
    if (!tx) return;
    setBusy(true);
    try {
      await runStep(path, fields, field);
    } finally {
      setBusy(false);
    }
  }

  async function runStep(path, fields, field) {
    var nonce = newNonce();
    var body = { login_id: tx.loginId, client_nonce: nonce, trust_device: el.trustDevice.checked };
    Object.keys(fields).forEach(function (k) { body[k] = fields[k]; });
    var res = await MA.api("POST", path, body);
    if (!tx) return;
    if (res.status !== 200 || !res.body) { failed(res, field); return; }
    setError("");
    if (res.body.done === true) {
      // A completion with a proof is checked like any step; if it fails,
      // the new session is ended at once.
      if (res.body.proof && !(await verify(res.body.proof, nonce, tx.loginId, false))) {
        MA.api("DELETE", "/api/v1/session");
        return;
      }
      finish(res.body);
      return;
    }
    var claims = await verify(res.body.proof, nonce, tx.loginId, res.body.phrase_shown === true);
    if (!claims) return;
    advance(res.body.next);
  }

  function setBusy(on) {
    document.querySelectorAll("#login button").forEach(function (b) { b.disabled = on; });
  }

  async function begin(ev) {
    ev.preventDefault();
    var username = el.username.value.trim();
    if (!username) { setError(MA.t("js.login-enter-username")); el.username.focus(); return; }
    abortAutofill();
    setError("");
    show(el.passkeyNone, false);
    setBusy(true);
    try {
      if (await runBegin(username)) {
        show(el.who, true);
        advance(tx.next);
      }
    } finally {
      setBusy(false);
    }
  }

  // runBegin begins a login, by username or (none) passkey-first, and
  // checks its proof; it returns true when the page may go on.
  async function runBegin(username) {
    var mine = ++begins;
    var nonce = newNonce();
    var body = username ? { username: username, client_nonce: nonce } : { passkey: true, client_nonce: nonce };
    if (page.clientId) body.client_id = page.clientId;
    var devTok = readDeviceToken();
    if (devTok) body.device_token = devTok;
    var res = await MA.api("POST", "/api/v1/login/begin", body);
    if (mine !== begins) return false; // a newer sign-in began meanwhile
    if (res.status !== 200 || !res.body) { failed(res, null); el.username.focus(); return false; }
    if (typeof res.body.login_id !== "string" || !res.body.login_id) {
      stop(NOT_VERIFIED, MA.t("js.login-reason-malformed"));
      return false;
    }
    tx = { loginId: res.body.login_id, username: username, phrase: "", passkey: !username, next: res.body.next };
    el.whoName.textContent = username;
    // Password managers file the password under this username.
    var pu = $("password-username");
    if (pu) pu.value = username;
    var claims = await verify(res.body.proof, nonce, tx.loginId, res.body.phrase_shown === true);
    if (!claims || mine !== begins) return false;
    // The device was recognized by its TLS client certificate: the
    // password is the only step left.
    show(el.certBox, res.body.client_certificate === true);
    return true;
  }

  // beginPasskey begins a passkey-first login as the page loads, so that the
  // server proves itself before anything is typed, and once the proof is
  // verified offers the passkeys of this site in the username field's
  // autofill (WebAuthn L3 §5.1.4, conditional mediation) where the browser
  // has it. Choosing one signs in; typing a username instead aborts it.
  async function beginPasskey() {
    if (tx) return;
    if (!(await runBegin("")) || !tx) return;
    var mine = tx;
    if (!window.PublicKeyCredential || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
    var available = false;
    try { available = await PublicKeyCredential.isConditionalMediationAvailable(); } catch (e) { /* no autofill */ }
    if (!available || tx !== mine) return;
    var ctl = new AbortController();
    autofill = ctl;
    var cred = await passkeyAssertion({ mediation: "conditional", signal: ctl.signal });
    if (autofill === ctl) autofill = null;
    if (!cred || tx !== mine) return;
    await step("/api/v1/login/webauthn", { credential: MA.webauthn.credentialJSON(cred) }, null);
  }

  // passkeyFirst serves "Sign in with a passkey": a modal request for any
  // passkey of this site, no username typed.
  async function passkeyFirst() {
    abortAutofill();
    setError("");
    show(el.passkeyNone, false);
    if (!window.PublicKeyCredential) {
      el.passkeyNone.textContent = MA.t("js.login-no-passkeys");
      show(el.passkeyNone, true);
      return;
    }
    setBusy(true);
    var cred = null;
    try {
      if (await runBegin("")) cred = await passkeyAssertion({ modal: true });
    } finally {
      setBusy(false);
    }
    if (cred && tx) await step("/api/v1/login/webauthn", { credential: MA.webauthn.credentialJSON(cred) }, null);
  }

  async function webauthn() {
    if (!tx) return;
    abortAutofill();
    setError("");
    setBusy(true);
    var cred;
    try {
      cred = await passkeyAssertion({});
    } finally {
      setBusy(false);
    }
    if (cred && tx) await step("/api/v1/login/webauthn", { credential: MA.webauthn.credentialJSON(cred) }, null);
  }

  // passkeyAssertion asks the server for a challenge and the browser for an
  // assertion over it; it returns null (with the error shown) on failure.
  // how.mediation "conditional" (with how.signal) is the autofill request,
  // which fails quietly; how.modal is the passkey-first button.
  async function passkeyAssertion(how) {
    var quiet = how.mediation === "conditional";
    var opts = await MA.api("POST", "/api/v1/login/webauthn/options", { login_id: tx.loginId });
    if (opts.status !== 200 || !opts.body || !opts.body.publicKey) {
      if (!quiet) failed(opts, null);
      return null;
    }
    try {
      var req = { publicKey: MA.webauthn.requestOptions(opts.body.publicKey) };
      if (quiet) { req.mediation = "conditional"; req.signal = how.signal; }
      var cred = await navigator.credentials.get(req);
      if (!cred && !quiet) setError(MA.t("js.no-passkey-chosen"));
      return cred;
    } catch (e) {
      if (quiet) return null;
      if (how.modal && e && e.name === "NotAllowedError") {
        el.passkeyNone.textContent = NO_PASSKEY;
        show(el.passkeyNone, true);
        return null;
      }
      if (hooks.passkeyRefused && hooks.passkeyRefused(e)) {
        setError("");
        return null;
      }
      setError(e && e.name === "NotAllowedError"
        ? MA.t("js.login-passkey-cancelled")
        : MA.t("js.passkey-unusable", e && e.name ? e.name : "error"));
      el.webauthnButton.focus();
      return null;
    }
  }

  function finish(body) {
    tx = null;
    abortAutofill();
    ["username-form", "otp-form", "recovery-form", "password-form", "who", "error", "trust", "passkey-none"].forEach(function (id) {
      show($(id), false);
    });
    el.password.value = "";
    var user = body.user || {};
    el.doneName.textContent = user.display_name || user.username || "";
    show(el.done, true);
    if (page.mode) {
      writeDeviceToken(body.device_token);
      if (hooks.done) hooks.done(body);
      return;
    }
    el.signout.focus();
    var target = safeReturn(page.returnTo) || "/account";
    if (target === "/account") {
      // The account page may not exist on this server: go there only if it does.
      fetch("/account", { credentials: "same-origin" }).then(function (r) {
        if (r.ok) window.location.assign("/account");
      }, function () {});
      return;
    }
    window.location.assign(target);
  }

  // safeReturn accepts the server's (already sanitized) return_to only when it
  // is a path on this origin or an http(s) URL; anything else is ignored.
  function safeReturn(raw) {
    if (!raw) return "";
    if (raw.charAt(0) === "/" && raw.charAt(1) !== "/" && raw.charAt(1) !== "\\") return raw;
    try {
      var u = new URL(raw);
      if (u.protocol === "https:" || u.protocol === "http:") return u.href;
    } catch (e) { /* not a URL */ }
    return "";
  }

  async function signOut() {
    var res = await MA.api("DELETE", "/api/v1/session");
    if (res.status === 204 || res.status === 401) {
      show(el.done, false);
      restart(MA.t("js.login-signed-out"));
      show(el.error, false);
      el.username.value = "";
      return;
    }
    setError(MA.t("js.login-signout-failed", res.status));
  }

  function init() {
    var data = $("login-data").dataset, main = $("main").dataset;
    page.issuer = data.issuer || main.issuer || window.location.origin;
    page.returnTo = data.returnTo || main.returnTo || "";
    page.mode = data.mode === "embed" || data.mode === "popup" ? data.mode : "";
    page.clientId = page.mode ? data.clientId || "" : "";
    page.pinnedKey = page.mode ? data.pinnedKey || "" : "";
    hooks = (page.mode && window.MA && MA.loginHooks) || {};
    ["stop", "verified", "username", "who", "otp", "password", "recovery", "error", "done", "signout", "phrase"]
      .forEach(function (id) { el[id] = $(id); });
    el.stopTitle = $("stop-title");
    el.stopReason = $("stop-reason");
    el.stopKey = $("stop-key");
    el.stopKid = $("stop-kid");
    el.stopPinned = $("stop-pinned");
    el.stopPinnedLabel = $("stop-pinned-label");
    el.stopAdvice = $("stop-advice");
    $("stop-restart").addEventListener("click", startOver);
    el.firstUse = $("first-use");
    el.firstUseKid = $("first-use-kid");
    el.verifiedKid = $("verified-kid");
    el.phraseBox = $("phrase-box");
    el.trust = $("trust");
    el.trustDevice = $("trust-device");
    el.passkeyNone = $("passkey-none");
    el.certBox = $("cert-box");
    el.whoName = $("who-name");
    el.doneName = $("done-name");
    el.webauthnButton = $("webauthn-button");
    el.recoveryLink = $("recovery-link");
    el.otpSubmit = $("otp-submit");

    $("username-form").addEventListener("submit", begin);
    $("otp-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = el.otp.value.replace(/\s+/g, "");
      if (!/^[0-9]{6}$/.test(code)) { setError(MA.t("js.login-enter-code")); el.otp.focus(); return; }
      step("/api/v1/login/otp", { code: code }, el.otp);
    });
    $("recovery-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = el.recovery.value.trim();
      if (!code) { setError(MA.t("js.login-enter-recovery")); el.recovery.focus(); return; }
      step("/api/v1/login/recovery", { code: code }, el.recovery);
    });
    $("password-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!el.password.value) { setError(MA.t("js.enter-your-password")); el.password.focus(); return; }
      step("/api/v1/login/password", { password: el.password.value }, el.password);
    });
    el.webauthnButton.addEventListener("click", webauthn);
    $("passkey-first").addEventListener("click", passkeyFirst);
    el.recoveryLink.addEventListener("click", function (ev) {
      ev.preventDefault();
      setError("");
      showStep("recovery-form", "recovery");
    });
    $("otp-link").addEventListener("click", function (ev) {
      ev.preventDefault();
      setError("");
      if (tx) advance(tx.next);
    });
    $("restart").addEventListener("click", function () { restart(""); });
    el.signout.addEventListener("click", signOut);
    var refusal = page.mode ? (hooks.refusal ? hooks.refusal() : MA.t("js.login-reason-no-widget")) : "";
    if (refusal) {
      stop(CANNOT_RUN, refusal, "refused");
      return;
    }
    // The form is shown only now: typed into before the script ran, it
    // would be submitted by the browser itself (a GET of this page with the
    // username in its URL) instead of beginning a sign-in.
    show($("username-form"), true);
    // A frame does not take the focus from the page around it.
    if (page.mode !== "embed") el.username.focus();
    beginPasskey();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
