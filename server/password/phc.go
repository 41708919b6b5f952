package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

var phcBase64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		phcBase64.EncodeToString(salt), phcBase64.EncodeToString(key))
}

// parsePHC reads exactly the form encodePHC writes (PHC string format,
// argon2 profile): no optional fields, parameters in the order m, t, p,
// decimal without signs or leading zeros, and values within the limits.
func parsePHC(s string) (Params, []byte, []byte, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" || fields[2] != "v=19" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	m, okM := parseParam(kv[0], "m=", MaxMemory)
	t, okT := parseParam(kv[1], "t=", MaxTime)
	par, okP := parseParam(kv[2], "p=", MaxThreads)
	if !okM || !okT || !okP || t < 1 || par < 1 || m < 8*par {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err := phcBase64.DecodeString(fields[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := phcBase64.DecodeString(fields[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p := Params{
		Memory:  m,
		Time:    t,
		Threads: uint8(par),
		KeyLen:  uint32(len(key)),
		SaltLen: uint32(len(salt)),
	}
	return p, salt, key, nil
}

func parseParam(field, name string, limit uint32) (uint32, bool) {
	digits, ok := strings.CutPrefix(field, name)
	if !ok || digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || v > uint64(limit) {
		return 0, false
	}
	return uint32(v), true
}
