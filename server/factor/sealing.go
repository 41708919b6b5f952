package factor

// PhraseAD is the additional data a user's security phrase is sealed with
// (secretbox), binding the ciphertext to its owner.
func PhraseAD(userID string) []byte { return []byte("phrase:" + userID) }

// TOTPAD is the additional data a user's TOTP secrets (pending and
// confirmed) are sealed with; the plaintext is the base32 secret.
func TOTPAD(userID string) []byte { return []byte("totp:" + userID) }
