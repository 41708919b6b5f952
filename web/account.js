// Account page (GET /account, templates/account.html; docs/account.md).
// The page works without this script: its forms post to /account/... and
// come back with a message. With it, every form marked data-api goes to the
// JSON API instead; an answer of 403 reauth_required opens the "Confirm it's
// you" dialog (password plus a code or a passkey) and then retries the
// action once. It also does what needs script: adding a passkey, confirming
// with a passkey, and showing a new TOTP secret or new recovery codes in
// place. Also used by templates/account_codes.html (copy and download).
(function () {
  "use strict";

  var MESSAGE_KEY = "mutualauth:account-message";

  var $ = MA.$;

  // ---- messages --------------------------------------------------------------

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function showMessage(kind, text, offer) {
    var area = $("flash");
    if (!area) return;
    area.textContent = "";
    var box = document.createElement("div");
    box.className = "flash " + (kind === "ok" ? "success" : "error");
    box.id = "flash-message";
    box.tabIndex = -1;
    var p = document.createElement("p");
    p.id = "flash-text";
    p.textContent = text;
    box.appendChild(p);
    var tpl = $("offer-template");
    if (offer > 0 && tpl) {
      var form = tpl.content.firstElementChild.cloneNode(true);
      form.querySelector("[data-count]").textContent = plural(offer, "other session", "other sessions");
      bindForm(form);
      box.appendChild(form);
    }
    area.appendChild(box);
    box.focus();
  }

  // reloadWith reloads the page (the server renders the new state) and
  // shows the message after the reload.
  function reloadWith(kind, text, offer) {
    try {
      sessionStorage.setItem(MESSAGE_KEY, JSON.stringify({ kind: kind, text: text, offer: offer || 0 }));
    } catch (e) { /* storage off: the reload still shows the new state */ }
    window.location.reload();
  }

  function storedMessage() {
    var raw = null;
    try {
      raw = sessionStorage.getItem(MESSAGE_KEY);
      sessionStorage.removeItem(MESSAGE_KEY);
    } catch (e) { return; }
    if (!raw) return;
    try {
      var m = JSON.parse(raw);
      if (m && typeof m.text === "string") showMessage(m.kind, m.text, Number(m.offer) || 0);
    } catch (e) { /* ignore */ }
  }

  function problemText(res) {
    var b = res.body || {};
    if (res.status === 429) return MA.tooMany(res);
    if (res.status === 401 && b.code === "unauthenticated") return "Your session has ended. Sign in again.";
    return MA.detail(res);
  }

  // ---- API calls with re-authentication ----------------------------------------

  // call sends a request; when the server asks for re-authentication it
  // opens the dialog and, once confirmed, sends the request again. It
  // returns null when the user cancels.
  async function call(method, path, body) {
    var res = await MA.api(method, path, body);
    if (res.status === 403 && res.body && res.body.code === "reauth_required") {
      if (!(await reauthenticate())) return null;
      res = await MA.api(method, path, body);
    }
    if (res.status === 401 && res.body && res.body.code === "unauthenticated") {
      window.location.assign("/login?return_to=" + encodeURIComponent("/account"));
      return null;
    }
    return res;
  }

  var pendingReauth = null;

  function reauthenticate() {
    var dialog = $("reauth-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      showMessage("error", "Confirm it's you first, in the form below.");
      var form = $("reauth-form");
      if (form) { form.scrollIntoView(); $("reauth-password").focus(); }
      return Promise.resolve(false);
    }
    return new Promise(function (resolve) {
      pendingReauth = resolve;
      dialogError("");
      $("rd-password").value = "";
      $("rd-code").value = "";
      dialog.showModal();
      $("rd-password").focus();
    });
  }

  function closeReauth(ok) {
    var dialog = $("reauth-dialog");
    var resolve = pendingReauth;
    pendingReauth = null;
    if (dialog.open) dialog.close();
    if (resolve) resolve(ok);
  }

  function dialogError(text) {
    var el = $("rd-error");
    el.textContent = text;
    el.hidden = !text;
  }

  function reauthFailure(res) {
    if (res.status === 401 && res.body && res.body.code === "invalid_credentials") {
      return "That didn't work. Check your password and your code, then try again.";
    }
    return problemText(res);
  }

  async function submitDialog(ev) {
    ev.preventDefault();
    var password = $("rd-password").value, code = $("rd-code").value.trim();
    if (!password) { dialogError("Enter your password."); $("rd-password").focus(); return; }
    if (!code) { dialogError("Enter a code from your authenticator app or a recovery code."); $("rd-code").focus(); return; }
    var res = await guarded(function () {
      return MA.api("POST", "/api/v1/account/reauth", { password: password, code: code });
    }, $("reauth-dialog-form"));
    if (!res) return;
    if (res.status === 204) { closeReauth(true); return; }
    dialogError(reauthFailure(res));
    $("rd-password").focus();
  }

  async function passkeyInDialog() {
    var password = $("rd-password").value;
    if (!password) { dialogError("Enter your password, then use your passkey."); $("rd-password").focus(); return; }
    var res = await guarded(function () { return passkeyReauth(password); }, $("reauth-dialog-form"));
    if (!res) return;
    if (res.status === 204) { closeReauth(true); return; }
    dialogError(reauthFailure(res));
  }

  // passkeyReauth answers a re-authentication challenge with a passkey.
  async function passkeyReauth(password) {
    var opts = await MA.api("POST", "/api/v1/account/reauth/webauthn/options", {});
    if (opts.status !== 200 || !opts.body || !opts.body.publicKey) return opts;
    var cred;
    try {
      cred = await navigator.credentials.get({ publicKey: MA.webauthn.requestOptions(opts.body.publicKey) });
    } catch (e) {
      return { status: 0, body: { detail: passkeyError(e) } };
    }
    if (!cred) return { status: 0, body: { detail: "No passkey was chosen." } };
    return MA.api("POST", "/api/v1/account/reauth", { password: password, credential: MA.webauthn.credentialJSON(cred) });
  }

  function passkeyError(e) {
    if (e && e.name === "NotAllowedError") return "The passkey request was cancelled or timed out. Try again.";
    if (e && e.name === "InvalidStateError") return "This passkey is already registered.";
    return "Your browser could not use a passkey here (" + (e && e.name ? e.name : "error") + ").";
  }

  // guarded runs fn with the form's buttons disabled and returns its result.
  async function guarded(fn, form) {
    var buttons = form ? form.querySelectorAll("button") : [];
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      return await fn();
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  // ---- forms -------------------------------------------------------------------------

  function formBody(form, method) {
    if (method === "DELETE") return undefined;
    var body = {};
    form.querySelectorAll("input[name]").forEach(function (input) {
      if (input.name === "username") return;
      body[input.name] = input.value;
    });
    return body;
  }

  function bindForm(form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      var api = form.dataset.api.split(" ");
      var method = api[0], path = api[1];
      var res = await guarded(function () { return call(method, path, formBody(form, method)); }, form);
      if (!res) return;
      if (res.status < 200 || res.status > 299) {
        showMessage("error", form.dataset.api === "POST /api/v1/account/reauth" ? reauthFailure(res) : problemText(res));
        return;
      }
      done(form, res);
    });
  }

  function done(form, res) {
    var body = res.body || {};
    switch (form.dataset.done) {
      case "totp": showTOTP(body); return;
      case "codes":
        codesOffer = body.other_sessions || 0;
        showCodes(body.recovery_codes || []);
        return;
      case "signout": window.location.assign("/login"); return;
      case "others":
        reloadWith("ok", "You were signed out everywhere else (" + plural(body.ended || 0, "session", "sessions") + " ended).");
        return;
    }
    reloadWith("ok", form.dataset.ok || "Done.", body.other_sessions || 0);
  }

  function showTOTP(body) {
    $("totp-qr").src = body.qr_png || "";
    $("totp-secret").textContent = body.secret || "";
    $("totp-setup").hidden = false;
    $("totp-code").focus();
  }

  var codesOffer = 0;

  function showCodes(codes) {
    MA.recoveryCodes(codes, codesHeading());
    $("codes-panel").hidden = false;
    var left = $("codes-left");
    if (left) left.textContent = String(codes.length);
    $("codes-copy").focus();
  }

  function codesHeading() { return "mutualauth recovery codes at " + location.host + "\n"; }

  async function addPasskey(ev) {
    ev.preventDefault();
    var form = $("passkey-add");
    var name = $("passkey-name").value.trim();
    var res = await guarded(async function () {
      var opts = await call("POST", "/api/v1/account/webauthn/options", {});
      if (!opts || opts.status !== 200 || !opts.body || !opts.body.publicKey) return opts;
      var cred;
      try {
        cred = await navigator.credentials.create({ publicKey: MA.webauthn.creationOptions(opts.body.publicKey) });
      } catch (e) {
        return { status: 0, body: { detail: passkeyError(e) } };
      }
      if (!cred) return { status: 0, body: { detail: "No passkey was created." } };
      return call("POST", "/api/v1/account/webauthn", { credential: MA.webauthn.credentialJSON(cred), name: name });
    }, form);
    if (!res) return;
    if (res.status !== 200) { showMessage("error", problemText(res)); return; }
    var added = (res.body && res.body.credential && res.body.credential.name) || "passkey";
    reloadWith("ok", "Added “" + added + "”. You can now sign in with it.", res.body.other_sessions || 0);
  }

  async function passkeyInCard() {
    var password = $("reauth-password").value;
    if (!password) { showMessage("error", "Enter your password, then use your passkey."); $("reauth-password").focus(); return; }
    var form = $("reauth-form");
    var res = await guarded(function () { return passkeyReauth(password); }, form);
    if (!res) return;
    if (res.status === 204) { reloadWith("ok", form.dataset.ok || "Confirmed."); return; }
    showMessage("error", reauthFailure(res));
  }

  async function suggestPhrase() {
    var res = await MA.api("GET", "/api/v1/account/phrase/suggestion");
    if (res.status === 200 && res.body && res.body.phrase) {
      $("new-phrase").value = res.body.phrase;
      $("new-phrase").focus();
      return;
    }
    showMessage("error", problemText(res));
  }

  // localTimes shows the server's UTC times in the browser's time zone.
  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      var withTime = el.textContent.indexOf(":") >= 0;
      el.title = el.getAttribute("datetime");
      el.textContent = withTime
        ? d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })
        : d.toLocaleDateString([], { dateStyle: "medium" });
    });
  }

  function init() {
    var main = $("main");
    var passkeys = MA.webauthn.available() && main && main.dataset.webauthn === "on";
    document.querySelectorAll(".js-only").forEach(function (el) {
      if (el.id !== "passkey-add" || passkeys) el.hidden = false;
    });
    if (passkeys) document.querySelectorAll("[data-reauth-passkey]").forEach(function (b) { b.hidden = false; });

    document.querySelectorAll("form[data-api]").forEach(bindForm);
    localTimes();

    var dialog = $("reauth-dialog");
    if (dialog) {
      $("reauth-dialog-form").addEventListener("submit", submitDialog);
      $("rd-cancel").addEventListener("click", function () { closeReauth(false); });
      dialog.addEventListener("close", function () { if (pendingReauth) closeReauth(false); });
      var rdPasskey = $("rd-passkey");
      if (rdPasskey) {
        if (passkeys) rdPasskey.addEventListener("click", passkeyInDialog);
        else rdPasskey.hidden = true;
      }
    }
    var cardPasskey = document.querySelector("[data-reauth-passkey]");
    if (cardPasskey) cardPasskey.addEventListener("click", passkeyInCard);
    if ($("passkey-add")) $("passkey-add").addEventListener("submit", addPasskey);
    if ($("phrase-suggest")) $("phrase-suggest").addEventListener("click", suggestPhrase);
    if ($("codes-done")) {
      $("codes-done").addEventListener("click", function () {
        reloadWith("ok", "New recovery codes are in place; the old ones no longer work.", codesOffer);
      });
    }
    if ($("codes") && $("codes").children.length > 0) MA.recoveryCodes(null, codesHeading());
    storedMessage();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
