package phrase

import (
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"mutualauth/templates/i18n"
)

// Length limits of a phrase, in code points after cleaning.
const (
	MinLength = 3
	MaxLength = 64
)

// SuggestionWords is the number of words in a suggested phrase.
const SuggestionWords = 4

// ErrInvalid matches every *InvalidError with errors.Is.
var ErrInvalid = errors.New("phrase: invalid")

// InvalidError says why a phrase was refused, in words fit for the user:
// Message in the catalogs (templates/i18n), Reason its English.
type InvalidError struct {
	Reason  string
	Message i18n.Message
}

func (e *InvalidError) Error() string { return "security phrase " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for an *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(key string, args ...any) error {
	m := i18n.M(key, args...)
	return &InvalidError{Reason: m.English(), Message: m}
}

const zeroWidthJoiner = '\u200d'

// Clean returns the phrase as it is stored: NFC, without leading and
// trailing white space. It returns an *InvalidError when the result is not
// valid UTF-8, is shorter than MinLength or longer than MaxLength code
// points, or holds a control, format or line-separating character.
func Clean(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("phrase.invalid-utf8")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) || (unicode.Is(unicode.Cf, r) && r != zeroWidthJoiner) {
			return "", invalid("phrase.control")
		}
	}
	n := utf8.RuneCountInString(s)
	if n < MinLength {
		return "", invalid("phrase.too-short", MinLength)
	}
	if n > MaxLength {
		return "", invalid("phrase.too-long", MaxLength)
	}
	return s, nil
}

//go:embed words.txt
var wordsText string

var words = sync.OnceValue(func() []string {
	var out []string
	for line := range strings.Lines(wordsText) {
		if w := strings.TrimSpace(line); w != "" {
			out = append(out, w)
		}
	}
	return out
})

// WordCount returns the number of words suggestions are drawn from.
func WordCount() int { return len(words()) }

// Suggest returns SuggestionWords words from the list, each drawn uniformly
// and independently with crypto/rand, joined by spaces.
func Suggest() (string, error) {
	list := words()
	n := big.NewInt(int64(len(list)))
	picked := make([]string, SuggestionWords)
	for i := range picked {
		k, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", fmt.Errorf("phrase: reading random bytes: %w", err)
		}
		picked[i] = list[k.Int64()]
	}
	return strings.Join(picked, " "), nil
}
