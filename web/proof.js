// In-browser verifier for mutualauth server proofs (API.md, "Server proof").
//
// A proof is a compact JWS (RFC 7515 §7.1): BASE64URL(header) "." BASE64URL(payload)
// "." BASE64URL(signature). It is signed with ES256 (RFC 7518 §3.4): ECDSA P-256
// with SHA-256, the signature being the raw 64-byte r||s, which is also the form
// WebCrypto's ECDSA verify takes. The key id is the RFC 7638 thumbprint of the
// public JWK, so the verifier recomputes it instead of trusting the JWKS label.
//
// MA.verifyProof(jws, {issuer, audience, nonce, loginId, pinnedKid, jwks})
//   resolves to {claims, kid}, or rejects with an Error whose .reason is one of
//   MA.proofReasons' keys. jwks is the parsed JSON Web Key Set (RFC 7517 §5).
// It needs WebCrypto and common.js (loaded before it); the login page, the
// widget and the enrollment page share it.
"use strict";
(function () {
  var MA = window.MA || (window.MA = {});

  var ALG = "ES256";
  var TYP = "mutualauth-proof+jwt";
  var MAX_LIFETIME = 300; // seconds between iat and exp (API.md)
  var LEEWAY = 60; // seconds of clock skew tolerated on exp, as the Go verifier does

  // Human-readable reasons, used by pages to say why they stopped.
  MA.proofReasons = {
    "malformed": "the server's proof is malformed",
    "alg": "the proof is not signed with ES256",
    "typ": "the proof has the wrong type",
    "key-changed": "the server's key changed",
    "unknown-key": "the proof's key is not among the server's published keys",
    "thumbprint": "a published key does not match its own thumbprint",
    "signature": "the proof's signature is invalid",
    "issuer": "the proof was issued by another server",
    "audience": "the proof was made for another site",
    "nonce": "the proof does not answer this page's challenge",
    "login-id": "the proof belongs to another sign-in",
    "expired": "the proof has expired",
    "lifetime": "the proof's validity period is wrong",
    "no-webcrypto": "this browser cannot check signatures (WebCrypto is unavailable)"
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
      throw e.reason ? e : fail("malformed", "not UTF-8");
    }
    var v;
    try { v = JSON.parse(text); } catch (e) { throw fail("malformed", "not JSON"); }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw fail("malformed", "not a JSON object");
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

  MA.verifyProof = async function (jws, want) {
    if (!window.crypto || !crypto.subtle) throw fail("no-webcrypto");
    if (typeof jws !== "string") throw fail("malformed", "no proof");
    var parts = jws.split(".");
    if (parts.length !== 3) throw fail("malformed", "not a compact JWS");
    for (var i = 0; i < 3; i++) {
      if (!B64U.test(parts[i])) throw fail("malformed", "not base64url");
    }

    var header = jsonSegment(parts[0]);
    if (header.alg !== ALG) throw fail("alg");
    if (header.typ !== TYP) throw fail("typ");
    // RFC 7515 §4.1.11: extensions we do not understand must be refused.
    if (header.crit !== undefined) throw fail("malformed", "crit");
    var kid = header.kid;
    if (typeof kid !== "string" || kid === "") throw fail("malformed", "no kid");

    // The pin is checked before anything else about the key: a proof by any
    // other key, or a key set that no longer holds the pinned key, is a change.
    if (want.pinnedKid) {
      if (kid !== want.pinnedKid) {
        throw fail("key-changed", "this browser pinned key " + want.pinnedKid + ", the proof is signed by key " + kid);
      }
      if (!findKey(want.jwks, want.pinnedKid)) {
        throw fail("key-changed", "the server no longer publishes the pinned key " + want.pinnedKid);
      }
    }
    var jwk = findKey(want.jwks, kid);
    if (!jwk) throw fail("unknown-key", kid);
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.d !== undefined ||
        typeof jwk.x !== "string" || typeof jwk.y !== "string" ||
        b64uBytes(jwk.x).length !== 32 || b64uBytes(jwk.y).length !== 32) {
      throw fail("unknown-key", "not a public P-256 key");
    }
    if (await thumbprint(jwk) !== kid) throw fail("thumbprint", kid);

    var sig = b64uBytes(parts[2]);
    if (sig.length !== 64) throw fail("signature", "not a 64-byte r||s value");
    var key;
    try {
      key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
        { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    } catch (e) {
      throw fail("unknown-key", "import failed");
    }
    // RFC 7515 §5.2: the signing input is ASCII(header_b64 "." payload_b64).
    var input = new TextEncoder().encode(parts[0] + "." + parts[1]);
    var ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig, input);
    if (!ok) throw fail("signature");

    var c = jsonSegment(parts[1]);
    if (c.iss !== want.issuer) throw fail("issuer", String(c.iss));
    if (c.aud !== want.audience) throw fail("audience", String(c.aud));
    if (typeof c.nonce !== "string" || c.nonce !== want.nonce) throw fail("nonce");
    if (want.loginId !== undefined && c.login_id !== want.loginId) throw fail("login-id");
    if (typeof c.exp !== "number" || typeof c.iat !== "number") throw fail("malformed", "iat and exp are required");
    if (c.exp < c.iat || c.exp - c.iat > MAX_LIFETIME) throw fail("lifetime");
    if (Date.now() / 1000 >= c.exp + LEEWAY) throw fail("expired");
    if (c.phrase !== undefined && typeof c.phrase !== "string") throw fail("malformed", "phrase");
    return { claims: c, kid: kid };
  };
})();
