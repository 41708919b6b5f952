package templates

import (
	"bytes"
	"strings"
	"testing"

	"mutualauth/templates/i18n"
)

func TestDataAttributesAreRenderedAndEscaped(t *testing.T) {
	set, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = set.Render(&buf, "error", Page{
		Title: i18n.Verbatim("x"),
		Data:  map[string]string{"return-to": `/a?b="c"&d<e>`, "issuer": "http://localhost:1", "Bad Name": "x"},
		Body:  struct{ Message i18n.Message }{i18n.Verbatim("<script>alert(1)</script>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`data-issuer="http://localhost:1"`,
		`data-return-to="/a?b=&#34;c&#34;&amp;d&lt;e&gt;"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ZgotmplZ") || strings.Contains(out, "Bad Name") || strings.Contains(out, "<script>alert") {
		t.Errorf("unsafe or broken output:\n%s", out)
	}
}

// TestScriptsLoadInOrderAfterCommon: the layout is the one place a page's
// scripts are loaded: common.js first, then the page's own in the order
// given, all deferred, and none inline (the CSP allows only 'self'); the
// scripts' messages come as a JSON data block.
func TestScriptsLoadInOrderAfterCommon(t *testing.T) {
	set, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = set.Render(&buf, "login", Page{Title: i18n.Verbatim("x"), Scripts: []string{"proof.js", "login.js"}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	want := `<script src="/static/common.js" defer></script>
<script src="/static/proof.js" defer></script>
<script src="/static/login.js" defer></script>`
	// Besides them only the messages' JSON data block, which runs nothing.
	if !strings.Contains(out, want) || strings.Count(out, "<script") != 4 ||
		strings.Count(out, `<script type="application/json" id="ma-messages">{`) != 1 {
		t.Errorf("scripts are not loaded as %s:\n%s", want, out)
	}
	buf.Reset()
	if err := set.Render(&buf, "error", Page{Title: i18n.Verbatim("x"), Body: struct{ Message i18n.Message }{i18n.Verbatim("D")}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script") {
		t.Errorf("a page without scripts loads one:\n%s", buf.String())
	}
}
