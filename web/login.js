// The mutual login UI: the hosted login page (GET /login) and the widget's
// frame and pop-up (GET /embed/login, templates/embed.html). It never asks for
// a password before the server has proved itself: every step sends a fresh
// client nonce, and the signed proof in the answer is checked with proof.js
// against the key this browser pinned (and, in the widget, the key the host
// pinned). Any failure stops the page with a warning.
// common.js and proof.js (and embed.js in the widget) are loaded by the page
// after this file (all deferred), so the work starts at DOMContentLoaded, when
// all of them have run.
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
  var KEY_CHANGED = "The server's key changed in a way this browser cannot check. This may not be the real server. Do not enter your password.";
  var NOT_VERIFIED = "Could not verify the server — this may not be the real server. Do not enter your password.";
  var CANNOT_RUN = "This sign-in cannot run here.";

  var el = {};
  var page = {};
  var hooks = {};
  var tx = null; // the current login transaction

  function $(id) { return document.getElementById(id); }
  function show(node, on) { node.hidden = !on; }

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
    ["username-form", "who", "otp-form", "recovery-form", "password-form", "verified", "first-use", "error", "done"]
      .forEach(function (id) { show($(id), false); });
    el.password.value = "";
    el.stopTitle.textContent = title;
    el.stopReason.textContent = reason ? "What happened: " + reason + "." : "";
    page.stopKey = key || null;
    show(el.stopKey, !!key);
    if (key) {
      el.stopKid.textContent = key.current || "(none)";
      el.stopPinned.textContent = key.pinned || "";
      el.stopPinnedLabel.textContent = key.byHost ? "Key this site expects" : "Key this browser trusted before";
      el.stopAdvice.textContent = key.byHost ?
        "The site you came from expects another key. Tell its operator or your administrator; Start over tries again once they have updated it." :
        "Compare the key the server uses now with the fingerprint your administrator publishes. If they match, choose Start over: this browser then trusts the new key. If they differ or you cannot check, do not sign in here and tell your administrator.";
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
    ["who", "verified", "first-use", "done", "phrase-box", "phrase-pending"].forEach(function (id) { show($(id), false); });
    el.phrase.textContent = "";
    el.password.value = "";
    showStep("username-form", null);
    el.username.focus();
    setError(msg || "");
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
    try { return JSON.parse(atob(jws.split(".")[0].replace(/-/g, "+").replace(/_/g, "/"))).kid || ""; } catch (e) { return ""; }
  }

  // verify checks one step's proof; on success it updates the verified box and
  // returns the claims, on failure it stops the page and returns null. A proof
  // by a newer key is accepted through valid handovers from the pinned key,
  // and this browser then pins the newer key.
  async function verify(proof, nonce, loginId, phraseShown) {
    // In the widget the host may pin a key too: the proof must match both.
    var stored = readPin();
    var pinned = page.pinnedKey || stored;
    var jwks, handovers;
    try {
      jwks = await fetchJSON("/.well-known/jwks.json");
      if (pinned && proof && keyOf(proof) !== pinned) handovers = await fetchHandovers();
    } catch (e) {
      stop(NOT_VERIFIED, "the server's public keys could not be fetched");
      return null;
    }
    var result;
    try {
      if (!proof) {
        var missing = new Error("the server sent no proof");
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
        stop(KEY_CHANGED, byHost ? e.message.replace("this browser pinned key", "the app pinned key") : e.message, "key_changed",
          { current: keyOf(proof), pinned: byHost ? page.pinnedKey : stored, byHost: byHost });
      } else stop(NOT_VERIFIED, e && e.reason ? e.message : "the proof could not be checked");
      return null;
    }
    var phrase = typeof result.claims.phrase === "string" ? result.claims.phrase : "";
    if (phraseShown && !phrase) {
      stop(NOT_VERIFIED, "the server said it showed your security phrase, but its signed proof does not carry one");
      return null;
    }
    if (!stored && !pinned) {
      el.firstUseKid.textContent = result.kid;
      show(el.firstUse, true);
    }
    if (stored !== result.kid) writePin(result.kid);
    el.verifiedKid.textContent = result.kid;
    if (phrase) {
      tx.phrase = phrase;
      el.phrase.textContent = phrase;
      show(el.phraseBox, true);
      show(el.phrasePending, false);
    } else if (!tx.phrase) {
      show(el.phrasePending, true);
    }
    show(el.verified, true);
    return result.claims;
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
      restart("You are signed out.");
      show(el.error, false);
      el.username.value = "";
      return;
    }
    setError("Signing out failed (" + res.status + "). Try again.");
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
    el.phrasePending = $("phrase-pending");
    el.whoName = $("who-name");
    el.doneName = $("done-name");
    el.webauthnButton = $("webauthn-button");
    el.recoveryLink = $("recovery-link");
    el.otpSubmit = $("otp-submit");

    $("username-form").addEventListener("submit", begin);
    $("otp-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = el.otp.value.replace(/\s+/g, "");
      if (!/^[0-9]{6}$/.test(code)) { setError("Enter the 6-digit code."); el.otp.focus(); return; }
      step("/api/v1/login/otp", { code: code }, el.otp);
    });
    $("recovery-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = el.recovery.value.trim();
      if (!code) { setError("Enter a recovery code."); el.recovery.focus(); return; }
      step("/api/v1/login/recovery", { code: code }, el.recovery);
    });
    $("password-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!el.password.value) { setError("Enter your password."); el.password.focus(); return; }
      step("/api/v1/login/password", { password: el.password.value }, el.password);
    });
    el.webauthnButton.addEventListener("click", webauthn);
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
    var refusal = page.mode ? (hooks.refusal ? hooks.refusal() : "the widget's script did not load") : "";
    if (refusal) {
      stop(CANNOT_RUN, refusal, "refused");
      return;
    }
    // A frame does not take the focus from the page around it.
    if (page.mode !== "embed") el.username.focus();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
