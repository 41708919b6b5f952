package templates

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.html
var files embed.FS

// Page is what every page template receives.
type Page struct {
	Title   string
	Scripts []string          // files in web/, loaded in this order after common.js
	Data    map[string]string // rendered as data- attributes on <main>
	User    *PageUser         // the signed-in user, if any
	Body    any               // the page's own data
	Product string
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

// Set is the parsed pages.
type Set struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"join":      strings.Join,
	"dataAttrs": dataAttrs,
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

// Parse parses every page with the layout.
func Parse() (*Set, error) {
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
	s := &Set{pages: map[string]*template.Template{}}
	for _, name := range names {
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
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
		s.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return s, nil
}

// Render writes page name with data.
func (s *Set) Render(w io.Writer, name string, p Page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("templates: no page %q", name)
	}
	if p.Product == "" {
		p.Product = "mutualauth"
	}
	return t.ExecuteTemplate(w, "layout", p)
}
