// Package phrase holds the rules for a user's security phrase and the
// suggestion of random memorable phrases.
//
// The security phrase is the anti-phishing marker of DESIGN.md: chosen at
// enrollment, sealed at rest, and shown only from a verified server proof on
// a recognized device. It is not a secret that authenticates the user, so
// its rules are about display: it is normalized to Unicode NFC (UAX #15),
// trimmed, 3 to 64 code points long, and free of characters that control
// layout or direction (Unicode categories Cc, Cf except ZERO WIDTH JOINER,
// Zl and Zp), which could make two phrases look alike.
//
// Suggestions are four words drawn uniformly with crypto/rand from an
// embedded list (words.txt) of more than 1,000 common English words, written
// for this project.
package phrase
