package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

//go:embed *.json
var files embed.FS

// Languages are the languages with a complete catalog, the default first.
var Languages = []language.Tag{language.English, language.German}

// Cookie is the cookie in which the language switch keeps the choice.
const Cookie = "mutualauth_lang"

// Catalog is every language's messages.
type Catalog struct {
	builder  *catalog.Builder
	matcher  language.Matcher
	keys     map[language.Tag][]string
	printers map[language.Tag]*Printer
}

// Load reads the embedded catalogs; a message that is neither a string nor
// an object of plural forms is an error.
func Load() (*Catalog, error) {
	c := &Catalog{builder: catalog.NewBuilder(), matcher: language.NewMatcher(Languages), keys: map[language.Tag][]string{}}
	for _, tag := range Languages {
		raw, err := files.ReadFile(tag.String() + ".json")
		if err != nil {
			return nil, err
		}
		var msgs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, fmt.Errorf("i18n: %s.json: %w", tag, err)
		}
		for key, m := range msgs {
			if err := c.set(tag, key, m); err != nil {
				return nil, fmt.Errorf("i18n: %s.json: %s: %w", tag, key, err)
			}
			c.keys[tag] = append(c.keys[tag], key)
		}
		sort.Strings(c.keys[tag])
	}
	c.printers = map[language.Tag]*Printer{}
	for _, tag := range Languages {
		c.printers[tag] = &Printer{Tag: tag, cat: c, p: message.NewPrinter(tag, message.Catalog(c.builder))}
	}
	return c, nil
}

func (c *Catalog) set(tag language.Tag, key string, m json.RawMessage) error {
	var s string
	if json.Unmarshal(m, &s) == nil {
		return c.builder.SetString(tag, key, s)
	}
	var forms map[string]string
	if err := json.Unmarshal(m, &forms); err != nil || forms["other"] == "" {
		return fmt.Errorf("want a string or an object of plural forms with \"other\"")
	}
	var cases []any
	for _, f := range []string{"zero", "one", "two", "few", "many", "other"} {
		if v, ok := forms[f]; ok {
			cases = append(cases, f, v)
		}
	}
	return c.builder.Set(tag, key, plural.Selectf(1, "%d", cases...))
}

// Keys lists the message keys of a language, sorted.
func (c *Catalog) Keys(tag language.Tag) []string { return c.keys[tag] }

// Has reports whether tag's catalog has key.
func (c *Catalog) Has(tag language.Tag, key string) bool {
	_, found := slices.BinarySearch(c.keys[tag], key)
	return found
}

// Printer formats tag's messages; a language without a catalog gets
// English. Printers are safe for concurrent use.
func (c *Catalog) Printer(tag language.Tag) *Printer {
	if p, ok := c.printers[tag]; ok {
		return p
	}
	return c.printers[Languages[0]]
}

// Complete reports whether every catalog has every key m names, its
// arguments' included.
func (c *Catalog) Complete(m Message) bool {
	if m.Key == "" {
		return len(m.Args) == 1
	}
	for _, tag := range Languages {
		if !c.Has(tag, m.Key) {
			return false
		}
	}
	for _, a := range m.Args {
		if sub, ok := a.(Message); ok && !c.Complete(sub) {
			return false
		}
	}
	return true
}

// Match picks the language of a request: the language switch's cookie,
// else Accept-Language, else English.
func (c *Catalog) Match(r *http.Request) language.Tag {
	var prefs []string
	if ck, err := r.Cookie(Cookie); err == nil {
		prefs = append(prefs, ck.Value)
	}
	prefs = append(prefs, r.Header.Get("Accept-Language"))
	tag, _ := language.MatchStrings(c.matcher, prefs...)
	base, _ := tag.Base()
	for _, l := range Languages {
		if b, _ := l.Base(); b == base {
			return l
		}
	}
	return Languages[0]
}

// Supported returns the supported language named by s ("de"), if any.
func Supported(s string) (language.Tag, bool) {
	t, err := language.Parse(s)
	if err != nil {
		return language.Und, false
	}
	for _, l := range Languages {
		if l == t {
			return l, true
		}
	}
	return language.Und, false
}

// Printer formats the messages of one language.
type Printer struct {
	Tag language.Tag
	cat *Catalog
	p   *message.Printer
}

// T returns the message key formatted with args (fmt verbs; a plural
// message picks its form by the first argument; a Message argument is put
// into the same language first). A key the catalog lacks comes out as
// "[key]", which the tests look for.
func (p *Printer) T(key string, args ...any) string {
	if !p.cat.Has(p.Tag, key) {
		return "[" + key + "]"
	}
	cloned := false
	for i, a := range args {
		if m, ok := a.(Message); ok {
			if !cloned { // the caller's slice stays as it was
				args, cloned = slices.Clone(args), true
			}
			args[i] = p.Message(m)
		}
	}
	return p.p.Sprintf(key, args...)
}

// Message puts m into the printer's language.
func (p *Printer) Message(m Message) string {
	if m.Key == "" {
		if len(m.Args) == 1 {
			if s, ok := m.Args[0].(string); ok {
				return s
			}
		}
		return fmt.Sprint(m.Args...)
	}
	return p.T(m.Key, m.Args...)
}

// Has reports whether the printer's catalog has key.
func (p *Printer) Has(key string) bool { return p.cat.Has(p.Tag, key) }
