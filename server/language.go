package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"mutualauth/templates/i18n"
)

// The texts the server composes in Go (problem details, flash messages,
// page titles) are i18n.Messages, put into words in the language of the
// request that shows them: pages always (i18n.Catalog.Match), problem
// documents of the JSON API only when the request names a language
// (Accept-Language or the language switch's cookie), so that a client that
// names none gets exactly the English it always got. docs/architecture.md,
// "Languages".

// catalog is the embedded message catalogs (i18n.Default). No server is
// built without them: templates.Parse, which New calls first, returns
// i18n.Default's error, and i18n.Default gives the same answer every time.
func catalog() *i18n.Catalog {
	c, err := i18n.Default()
	if err != nil {
		panic(err) // unreachable in a server that New returned
	}
	return c
}

// requestPrinter is the printer of r's language, and whether r named a
// language at all.
func requestPrinter(r *http.Request) (*i18n.Printer, bool) {
	cat := catalog()
	named := r.Header.Get("Accept-Language") != ""
	if !named {
		_, err := r.Cookie(i18n.Cookie)
		named = err == nil
	}
	if !named {
		return cat.Printer(i18n.Languages[0]), false
	}
	return cat.Printer(cat.Match(r)), true
}

// tr is the message key with args in the language of c's request.
func tr(c echo.Context, key string, args ...any) string {
	pr, _ := requestPrinter(c.Request())
	return pr.T(key, args...)
}

// detailFor is p's detail in the language of c's request, for a page.
func detailFor(c echo.Context, p *Problem) string {
	pr, _ := requestPrinter(c.Request())
	return p.localize(pr).Detail
}

// list joins messages in a list ("a, b, c"); there is at least one.
func list(items []any) any {
	if len(items) == 1 {
		return items[0]
	}
	return i18n.M("list.pair", items[0], list(items[1:]))
}
