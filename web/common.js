// Shared helpers of mutualauth's pages, the only copy of each: base64url,
// JSON API calls, and the WebAuthn conversions between the server's JSON
// and what navigator.credentials takes and gives. templates/layout.html
// loads this file first, before the page's own scripts (all deferred).
"use strict";
(function () {
  var MA = window.MA || (window.MA = {});

  // b64u is base64url without padding (RFC 4648 §5), the encoding of every
  // binary field in the API and in WebAuthn's JSON forms.
  MA.b64u = {
    encode: function (buf) {
      var bytes = new Uint8Array(buf), s = "";
      for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
      return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
    decode: function (str) {
      str = String(str).replace(/-/g, "+").replace(/_/g, "/");
      while (str.length % 4) str += "=";
      var bin = atob(str), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    }
  };

  MA.UNREACHABLE = "The server could not be reached. Check your connection and try again.";

  // api sends a JSON request and resolves to {status, body, headers}; a
  // problem document (RFC 9457) comes back as body, with its code and
  // detail. When no answer comes at all, status is 0 and body.detail says
  // so: it never rejects.
  MA.api = async function (method, path, body) {
    var opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      return { status: 0, body: { detail: MA.UNREACHABLE }, headers: null };
    }
    var data = null;
    var text = await res.text();
    if (text) { try { data = JSON.parse(text); } catch (e) { data = { detail: text }; } }
    return { status: res.status, body: data, headers: res.headers };
  };

  // detail is what a failed answer tells the user: the problem's detail, or
  // its status.
  MA.detail = function (res) {
    return (res.body && res.body.detail) || "Something went wrong (HTTP " + res.status + "). Try again.";
  };

  // tooMany words a 429 answer from its Retry-After header (RFC 9110
  // §10.2.3: seconds or an HTTP date).
  MA.tooMany = function (res) {
    var h = res.headers && res.headers.get("Retry-After");
    var secs = NaN;
    if (h) secs = /^\d+$/.test(h) ? parseInt(h, 10) : Math.ceil((Date.parse(h) - Date.now()) / 1000);
    if (!isFinite(secs) || secs <= 0) return "Too many attempts. Wait a little, then try again.";
    if (secs < 120) return "Too many attempts. Try again in " + secs + " seconds.";
    return "Too many attempts. Try again in " + Math.ceil(secs / 60) + " minutes.";
  };

  MA.$ = function (id) { return document.getElementById(id); };

  // recoveryCodes shows new recovery codes in #codes (or, when codes is
  // null, takes those the server rendered there) and makes #codes-download
  // save them, with heading on top, and #codes-copy copy them, telling how
  // that went in #codes-copied.
  MA.recoveryCodes = function (codes, heading) {
    var list = MA.$("codes");
    if (codes) {
      list.textContent = "";
      codes.forEach(function (c) {
        var li = document.createElement("li");
        li.textContent = c;
        list.appendChild(li);
      });
    } else {
      codes = Array.prototype.map.call(list.querySelectorAll("li"), function (li) { return li.textContent.trim(); });
    }
    var text = heading + "Each code works once.\n\n" + codes.join("\n") + "\n";
    var link = MA.$("codes-download");
    if (link) {
      if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
      link.dataset.url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      link.href = link.dataset.url;
    }
    var button = MA.$("codes-copy"), note = MA.$("codes-copied");
    if (!button) return;
    button.onclick = async function () {
      try {
        await navigator.clipboard.writeText(text);
        note.textContent = "Copied. Paste them somewhere safe, such as a password manager.";
      } catch (e) {
        var range = document.createRange();
        range.selectNodeContents(list);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        note.textContent = "Copying is blocked here: the codes are selected, press Ctrl+C (or ⌘C) to copy them.";
      }
    };
  };
  MA.show = function (el, on) { if (el) el.hidden = !on; };

  // webauthn converts between the server's JSON (WebAuthn Level 3 §5.1,
  // PublicKeyCredentialCreationOptionsJSON and …RequestOptionsJSON; the
  // answers RegistrationResponseJSON and AuthenticationResponseJSON) and the
  // browser's objects. The browser's own parsers and toJSON (§5.1.8,
  // §5.1.9, §5.1.10) are used where it has them; the rest is the fallback
  // for browsers that have only Level 2.
  function withIds(list) {
    return list.map(function (c) { return Object.assign({}, c, { id: MA.b64u.decode(c.id) }); });
  }
  MA.webauthn = {
    available: function () { return !!window.PublicKeyCredential && !!navigator.credentials; },

    creationOptions: function (json) {
      var PKC = window.PublicKeyCredential;
      if (PKC && typeof PKC.parseCreationOptionsFromJSON === "function") return PKC.parseCreationOptionsFromJSON(json);
      var o = Object.assign({}, json);
      o.challenge = MA.b64u.decode(json.challenge);
      o.user = Object.assign({}, json.user, { id: MA.b64u.decode(json.user.id) });
      if (Array.isArray(json.excludeCredentials)) o.excludeCredentials = withIds(json.excludeCredentials);
      return o;
    },

    requestOptions: function (json) {
      var PKC = window.PublicKeyCredential;
      if (PKC && typeof PKC.parseRequestOptionsFromJSON === "function") return PKC.parseRequestOptionsFromJSON(json);
      var o = Object.assign({}, json);
      o.challenge = MA.b64u.decode(json.challenge);
      if (Array.isArray(json.allowCredentials)) o.allowCredentials = withIds(json.allowCredentials);
      return o;
    },

    // credentialJSON is a registration's or an assertion's JSON form,
    // whichever cred holds.
    credentialJSON: function (cred) {
      if (typeof cred.toJSON === "function") return cred.toJSON();
      var r = cred.response, enc = MA.b64u.encode, response;
      if (r.attestationObject) {
        response = {
          clientDataJSON: enc(r.clientDataJSON), attestationObject: enc(r.attestationObject),
          transports: typeof r.getTransports === "function" ? r.getTransports() : []
        };
      } else {
        response = {
          clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData),
          signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : undefined
        };
      }
      return {
        id: cred.id, rawId: enc(cred.rawId), type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        response: response,
        clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
      };
    }
  };
})();
