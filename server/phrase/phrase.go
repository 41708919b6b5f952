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

// InvalidError says why a phrase was refused, in words fit for the user.
type InvalidError struct {
	Reason string
}

func (e *InvalidError) Error() string { return "security phrase " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for an *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

const zeroWidthJoiner = '\u200d'

// Clean returns the phrase as it is stored: NFC, without leading and
// trailing white space. It returns an *InvalidError when the result is not
// valid UTF-8, is shorter than MinLength or longer than MaxLength code
// points, or holds a control, format or line-separating character.
func Clean(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("is not valid text")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) || (unicode.Is(unicode.Cf, r) && r != zeroWidthJoiner) {
			return "", invalid("must not contain control or formatting characters")
		}
	}
	n := utf8.RuneCountInString(s)
	if n < MinLength {
		return "", invalid("must be at least %d characters long", MinLength)
	}
	if n > MaxLength {
		return "", invalid("must be at most %d characters long", MaxLength)
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
