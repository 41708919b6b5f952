// Package totp issues and checks time-based one-time passwords (RFC 6238:
// HMAC-SHA-1, 6 digits, 30-second steps) on top of github.com/pquerna/otp.
//
// Check returns the time step a code matched so that the caller can make the
// code single use with an atomic compare-and-set on the last accepted step
// (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the
// same OTP after the successful validation"). Drift is allowed one step
// back only (DESIGN.md).
package totp
