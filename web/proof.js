// In-browser verifier for mutualauth server proofs (API.md, "Server proof").
//
// A proof is a compact JWS (RFC 7515 §7.1): BASE64URL(header) "." BASE64URL(payload)
// "." BASE64URL(signature). It is signed with ES256 (RFC 7518 §3.4): ECDSA P-256
// with SHA-256, the signature being the raw 64-byte r||s, which is also the form
// WebCrypto's ECDSA verify takes. The key id is the RFC 7638 thumbprint of the
// public JWK, so the verifier recomputes it instead of trusting the JWKS label.
//
// MA.verifyProof(jws, {issuer, audience, nonce, loginId, pinnedKid, jwks, handovers})
//   resolves to {claims, kid, chain}, or rejects with an Error whose .reason is
//   one of MA.proofReasons' keys. jwks is the parsed JSON Web Key Set (RFC 7517
//   §5). A proof by a key other than pinnedKid is accepted only through a chain
//   of valid handovers (API.md, "Key continuity") from pinnedKid to its key;
//   handovers are the discovery document's key_handovers; chain lists the
//   handovers followed ({oldKid, newKid}), and kid is then the key to pin.
// MA.followHandovers(fromKid, toKid, handovers, jwks, issuer) resolves to that
//   chain, or rejects with reason "key-changed".
// Signatures must be low-S (s at most half the group order): ECDSA accepts
// both s and n - s, and the server issues only the low one, so the other is a
// malleated copy. It needs WebCrypto and common.js (loaded before it); the
// login page, the widget and the enrollment page share it;
// server/keys/verify.go is the same rule set in Go.
"use strict";
(function () {
  var MA = window.MA || (window.MA = {});

  var ALG = "ES256";
  var TYP = "mutualauth-proof+jwt";
  var HANDOVER_TYP = "mutualauth-handover+jwt";
  // (n - 1) / 2 for P-256, big-endian: a low-S signature has s <= this.
  var HALF_ORDER = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8";
  var MAX_LIFETIME = 300; // seconds between iat and exp (API.md)
  var LEEWAY = 60; // seconds of clock skew tolerated on exp, as the Go verifier does

  // Human-readable reasons, used by pages to say why they stopped, from the
  // catalogs (js.proof-*), as are the details that are words.
  MA.proofReasons = {
    "malformed": MA.t("js.proof-malformed"),
    "alg": MA.t("js.proof-alg"),
    "typ": MA.t("js.proof-typ"),
    "key-changed": MA.t("js.proof-key-changed"),
    "unknown-key": MA.t("js.proof-unknown-key"),
    "thumbprint": MA.t("js.proof-thumbprint"),
    "signature": MA.t("js.proof-signature"),
    "high-s": MA.t("js.proof-high-s"),
    "issuer": MA.t("js.proof-issuer"),
    "audience": MA.t("js.proof-audience"),
    "nonce": MA.t("js.proof-nonce"),
    "login-id": MA.t("js.proof-login-id"),
    "expired": MA.t("js.proof-expired"),
    "lifetime": MA.t("js.proof-lifetime"),
    "no-webcrypto": MA.t("js.proof-no-webcrypto")
  };

  function fail(reason, detail) {
    var msg = MA.proofReasons[reason] || reason;
    var err = new Error(detail ? msg + " (" + detail + ")" : msg);
    err.reason = reason;
    return err;
  }

  var B64U = /^[A-Za-z0-9_-]+$/;

  function b64uBytes(s) {
    if (typeof s !== "string" || !B64U.test(s) || s.length % 4 === 1) throw fail("malformed", "base64url");
    return MA.b64u.decode(s);
  }

  function jsonSegment(seg) {
    var text;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(b64uBytes(seg));
    } catch (e) {
      throw e.reason ? e : fail("malformed", MA.t("js.proof-d-not-utf8"));
    }
    var v;
    try { v = JSON.parse(text); } catch (e) { throw fail("malformed", MA.t("js.proof-d-not-json")); }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw fail("malformed", MA.t("js.proof-d-not-object"));
    return v;
  }

  // RFC 7638 §3.2: the thumbprint of an EC key hashes exactly crv, kty, x, y,
  // in that (lexicographic) order, with no whitespace.
  async function thumbprint(jwk) {
    var canon = "{\"crv\":" + JSON.stringify(jwk.crv) + ",\"kty\":" + JSON.stringify(jwk.kty) +
      ",\"x\":" + JSON.stringify(jwk.x) + ",\"y\":" + JSON.stringify(jwk.y) + "}";
    var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canon));
    return MA.b64u.encode(digest);
  }
  MA.jwkThumbprint = thumbprint;

  function findKey(jwks, kid) {
    var keys = jwks && Array.isArray(jwks.keys) ? jwks.keys : [];
    for (var i = 0; i < keys.length; i++) {
      if (keys[i] && keys[i].kid === kid) return keys[i];
    }
    return null;
  }

  function hex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  // splitJWS checks the compact form and the header: ES256, a kid, the
  // expected typ, no crit (RFC 7515 §4.1.11: extensions we do not
  // understand must be refused).
  function splitJWS(jws, typ) {
    if (typeof jws !== "string") throw fail("malformed", MA.t("js.proof-d-no-proof"));
    var parts = jws.split(".");
    if (parts.length !== 3) throw fail("malformed", MA.t("js.proof-d-not-jws"));
    for (var i = 0; i < 3; i++) {
      if (!B64U.test(parts[i])) throw fail("malformed", MA.t("js.proof-d-not-b64u"));
    }
    var header = jsonSegment(parts[0]);
    if (header.alg !== ALG) throw fail("alg");
    if (header.typ !== typ) throw fail("typ");
    if (header.crit !== undefined) throw fail("malformed", "crit");
    if (typeof header.kid !== "string" || header.kid === "") throw fail("malformed", MA.t("js.proof-d-no-kid"));
    return { parts: parts, header: header };
  }

  // publicKey checks that jwk is a public P-256 key whose thumbprint is kid.
  async function publicKey(jwk, kid) {
    if (!jwk || jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.d !== undefined ||
        typeof jwk.x !== "string" || typeof jwk.y !== "string" ||
        b64uBytes(jwk.x).length !== 32 || b64uBytes(jwk.y).length !== 32) {
      throw fail("unknown-key", MA.t("js.proof-d-not-p256"));
    }
    if (await thumbprint(jwk) !== kid) throw fail("thumbprint", kid);
    return jwk;
  }

  // verifySignature: a 64-byte low-S r||s over ASCII(header "." payload)
  // (RFC 7515 §5.2) that verifies under jwk.
  async function verifySignature(parts, jwk) {
    var sig = b64uBytes(parts[2]);
    if (sig.length !== 64) throw fail("signature", MA.t("js.proof-d-sig-length"));
    if (hex(sig.subarray(32)) > HALF_ORDER) throw fail("high-s");
    var key;
    try {
      key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
        { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    } catch (e) {
      throw fail("unknown-key", MA.t("js.proof-d-import"));
    }
    var input = new TextEncoder().encode(parts[0] + "." + parts[1]);
    var ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, input);
    if (!ok) throw fail("signature");
  }

  // verifyHandover checks one handover from the key oldKid (whose published
  // JWK is oldJwk) and returns {oldKid, newKid, newJwk}.
  async function verifyHandover(jws, oldKid, oldJwk, issuer) {
    var h = splitJWS(jws, HANDOVER_TYP);
    if (h.header.kid !== oldKid) throw fail("key-changed", MA.t("js.proof-d-handover-key"));
    await verifySignature(h.parts, oldJwk);
    var c = jsonSegment(h.parts[1]);
    if (c.iss !== issuer) throw fail("issuer", String(c.iss));
    if (c.old_kid !== oldKid || typeof c.new_kid !== "string" || typeof c.iat !== "number") {
      throw fail("malformed", MA.t("js.proof-d-handover-claims"));
    }
    await publicKey(c.new_jwk, c.new_kid);
    return { oldKid: oldKid, newKid: c.new_kid, newJwk: c.new_jwk };
  }

  // Every key along the chain must be published in jwks, and each handover's
  // new_jwk must be that published key: a revoked key is not published, so
  // an old copy of a chain through it leads nowhere.
  MA.followHandovers = async function (fromKid, toKid, handovers, jwks, issuer) {
    var list = Array.isArray(handovers) ? handovers : [];
    var seen = {}, queue = [{ kid: fromKid, chain: [] }];
    seen[fromKid] = true;
    while (queue.length) {
      var cur = queue.shift();
      if (cur.kid === toKid) return cur.chain;
      var from = findKey(jwks, cur.kid);
      if (!from) continue;
      try { from = await publicKey(from, cur.kid); } catch (e) { continue; }
      for (var i = 0; i < list.length; i++) {
        var link;
        try { link = await verifyHandover(list[i], cur.kid, from, issuer); } catch (e) { continue; }
        var published = findKey(jwks, link.newKid);
        if (seen[link.newKid] || !published || published.x !== link.newJwk.x || published.y !== link.newJwk.y) continue;
        seen[link.newKid] = true;
        queue.push({ kid: link.newKid, chain: cur.chain.concat([{ oldKid: link.oldKid, newKid: link.newKid }]) });
      }
    }
    throw fail("key-changed", MA.t("js.proof-d-no-chain", fromKid, toKid));
  };

  MA.verifyProof = async function (jws, want) {
    if (!window.crypto || !crypto.subtle) throw fail("no-webcrypto");
    var h = splitJWS(jws, TYP);
    var parts = h.parts, kid = h.header.kid, chain = [];

    // The pin is checked before anything else about the key: a proof by any
    // other key counts only through handovers from the pinned key, and those
    // need the pinned key among the published ones.
    if (want.pinnedKid) {
      if (!findKey(want.jwks, want.pinnedKid)) {
        throw fail("key-changed", MA.t("js.proof-d-unpublished", want.pinnedKid));
      }
      if (kid !== want.pinnedKid) {
        if (!want.handovers) {
          throw fail("key-changed", MA.t("js.proof-d-other-key", want.pinnedKid, kid));
        }
        chain = await MA.followHandovers(want.pinnedKid, kid, want.handovers, want.jwks, want.issuer);
      }
    }
    var jwk = findKey(want.jwks, kid);
    if (!jwk) throw fail("unknown-key", kid);
    await verifySignature(parts, await publicKey(jwk, kid));

    var c = jsonSegment(parts[1]);
    if (c.iss !== want.issuer) throw fail("issuer", String(c.iss));
    if (c.aud !== want.audience) throw fail("audience", String(c.aud));
    if (typeof c.nonce !== "string" || c.nonce !== want.nonce) throw fail("nonce");
    if (typeof want.loginId !== "string" || !want.loginId || c.login_id !== want.loginId) throw fail("login-id");
    if (typeof c.exp !== "number" || typeof c.iat !== "number") throw fail("malformed", MA.t("js.proof-d-iat-exp"));
    if (c.exp < c.iat || c.exp - c.iat > MAX_LIFETIME) throw fail("lifetime");
    if (Date.now() / 1000 >= c.exp + LEEWAY) throw fail("expired");
    if (c.phrase !== undefined && typeof c.phrase !== "string") throw fail("malformed", "phrase");
    return { claims: c, kid: kid, chain: chain };
  };
})();
