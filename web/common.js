// Shared helpers for mutualauth's pages. Loaded before each page script.
"use strict";
var MA = window.MA || {};
MA.b64u = {
  encode: function (buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode: function (str) {
    str = str.replace(/-/g, "+").replace(/_/g, "/");
    while (str.length % 4) str += "=";
    var bin = atob(str), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
};
// api sends JSON and returns {status, body}; problem documents come back as body.
MA.api = async function (method, path, body) {
  var opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  var res = await fetch(path, opts);
  var data = null;
  var text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch (e) { data = { detail: text }; } }
  return { status: res.status, body: data, headers: res.headers };
};
MA.show = function (el, on) { if (el) el.hidden = !on; };
MA.$ = function (sel) { return document.querySelector(sel); };
window.MA = MA;
