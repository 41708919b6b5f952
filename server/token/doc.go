// Package token makes and checks the server's random bearer tokens (session,
// device, invite and widget-code tokens) and one-time recovery codes.
//
// Tokens carry 256 bits from crypto/rand (OWASP ASVS 5.0 V7.2: at least 128
// bits; the project asks for 256) and are written as base64url without
// padding (RFC 4648 §5). The server stores only their SHA-256 hash, so
// [Hash] and [HashHex] give the store key, and [Valid] rejects malformed
// input before any store lookup.
//
// Recovery codes are 12 symbols from a 32-symbol alphabet (60 bits),
// grouped for reading as "xxxx-xxxx-xxxx". The alphabet is Crockford's
// base 32 in lower case (digits and letters without i, l, o, u), and
// [NormalizeRecoveryCode] folds what people type: case, spaces, dashes, and
// the look-alikes i, l → 1 and o → 0. Recovery codes are single use and
// rate limited, so 60 bits with a fast hash is ample.
package token
