// Package password hashes passwords with argon2id and checks them against
// the password policy.
//
// Hashing follows RFC 9106 (argon2id) at OWASP's parameters (Password
// Storage Cheat Sheet: 19 MiB, t=2, p=1) and stores hashes as PHC strings
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash). [Hasher] bounds the number of
// derivations running at once with a semaphore, so memory stays at most
// concurrency × Memory under a login storm, and offers [Hasher.VerifyDummy]
// so unknown users cost the same time as known ones (ASVS 5.0 V6.3).
//
// [Policy] implements NIST SP 800-63B §3.1.1.2 and ASVS 5.0 V6.2: at least
// 12 code points by default (never fewer than 8), at least 128 allowed, no
// composition rules, and refusal of common passwords and of passwords built
// from the username, display name or product name. The rules are listed on
// [Policy.Check].
//
// The common-password list (common-passwords.txt, 49,233 entries, lower
// case, most frequent first) is the "passwords" list of the npm package
// @zxcvbn-ts/language-common 4.1.3, itself derived from the list shipped with
// Dropbox's zxcvbn. It is used under the MIT License, whose text and
// copyright notices are in common-passwords.LICENSE.
package password
