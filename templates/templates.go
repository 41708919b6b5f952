package templates

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"sort"
	"strings"

	"golang.org/x/text/language/display"

	"mutualauth/templates/i18n"
)

//go:embed *.html
var files embed.FS

// Page is what every page template receives.
type Page struct {
	// Title is the page's title, put into the page's language.
	Title   i18n.Message
	Scripts []string          // files in web/, loaded in this order after common.js
	Data    map[string]string // rendered as data- attributes on <main>
	User    *PageUser         // the signed-in user, if any
	Body    any               // the page's own data
	Product string
	// Lang is the page's language (BCP 47), set by the server from the
	// request (i18n.Catalog.Match); empty is English. Path is the request's
	// path, for the language switch to come back to.
	Lang    string
	Path    string
	Support Support // MUTUALAUTH_SUPPORT_CONTACT, shown on stop screens
}

// Support is whom users ask when the server cannot prove itself.
type Support struct {
	Contact string // text shown; empty when not configured
	Href    string // its link (mailto: or URL); empty for plain text
}

// PageUser is the signed-in user shown in the header.
type PageUser struct {
	Username    string
	DisplayName string
	Admin       bool
}

// Set is the parsed pages, once per language: each language's copy calls
// its own printer from the translation functions, {{t "key" args...}} and,
// for an i18n.Message the server composed, {{msg .}}.
type Set struct {
	pages   map[string]map[string]*template.Template // language, page
	Catalog *i18n.Catalog
}

var funcs = template.FuncMap{
	"join":      strings.Join,
	"dataAttrs": dataAttrs,
	"langs":     langs,
}

// language is an entry of the language switch: its code and its own name.
type language struct{ Code, Name string }

// langs lists the languages for the switch, each named in itself
// (CLDR's self names: "English", "Deutsch").
func langs() []language {
	out := make([]language, 0, len(i18n.Languages))
	for _, tag := range i18n.Languages {
		out = append(out, language{Code: tag.String(), Name: display.Self.Name(tag)})
	}
	return out
}

// dataAttrs renders a map as data- attributes. html/template refuses
// attribute names built at run time, so the names are checked here (lower
// case letters, digits and dashes only; others are dropped) and the values
// escaped.
func dataAttrs(m map[string]string) template.HTMLAttr {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if !validAttrName(k) {
			continue
		}
		fmt.Fprintf(&b, ` data-%s="%s"`, k, template.HTMLEscapeString(m[k]))
	}
	return template.HTMLAttr(b.String())
}

func validAttrName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Parse parses every page with the layout, for every language.
func Parse() (*Set, error) {
	cat, err := i18n.Default()
	if err != nil {
		return nil, err
	}
	s := &Set{pages: map[string]map[string]*template.Template{}, Catalog: cat}
	for _, tag := range i18n.Languages {
		p := cat.Printer(tag)
		js := map[string]string{}
		for _, k := range cat.Keys(tag) {
			if strings.HasPrefix(k, "js.") {
				js[k] = p.T(k)
			}
		}
		fm := template.FuncMap{"t": p.T, "msg": p.Message, "jsMessages": func() map[string]string { return js }}
		for k, v := range funcs {
			fm[k] = v
		}
		pages, err := parsePages(fm)
		if err != nil {
			return nil, err
		}
		s.pages[tag.String()] = pages
	}
	return s, nil
}

// parsePages parses every page with the layout and the partials.
func parsePages(fm template.FuncMap) (map[string]*template.Template, error) {
	layout, err := files.ReadFile("layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "*.html")
	if err != nil {
		return nil, err
	}
	// Files named _*.html hold partials ({{define}} blocks) shared by pages.
	var partials []string
	for _, name := range names {
		if strings.HasPrefix(name, "_") {
			b, err := files.ReadFile(name)
			if err != nil {
				return nil, err
			}
			partials = append(partials, string(b))
		}
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(fm).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("layout: %w", err)
		}
		for _, p := range partials {
			if _, err := t.New("").Parse(p); err != nil {
				return nil, fmt.Errorf("partials: %w", err)
			}
		}
		if _, err := t.New(name).Parse(string(body)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages, nil
}

// Product is the product's name as pages and authenticator apps show it.
const Product = "mutualauth"

// Render writes page name with data.
func (s *Set) Render(w io.Writer, name string, p Page) error {
	if _, ok := s.pages[p.Lang]; !ok {
		p.Lang = i18n.Languages[0].String()
	}
	t, ok := s.pages[p.Lang][name]
	if !ok {
		return fmt.Errorf("templates: no page %q", name)
	}
	if p.Product == "" {
		p.Product = Product
	}
	return t.ExecuteTemplate(w, "layout", p)
}
