package server

import (
	"net/http"
	"testing"
)

// TestCookieValueMatchesNetHTTP: the session cookie is found as
// http.Request.Cookie finds it.
func TestCookieValueMatchesNetHTTP(t *testing.T) {
	const name = "mutualauth_session"
	for _, lines := range [][]string{
		nil,
		{""},
		{"mutualauth_session=abc"},
		{"a=1; mutualauth_session=abc; b=2"},
		{"a=1;mutualauth_session=abc"},
		{"  mutualauth_session = abc  "},
		{`mutualauth_session="abc"`},
		{"mutualauth_session=first; mutualauth_session=second"},
		{"a=1", "mutualauth_session=second-line"},
		{"xmutualauth_session=no; mutualauth_sessionx=no"},
		{"mutualauth_session"},
		{"mutualauth_session="},
		{";;; ; mutualauth_session=x;;"},
	} {
		r := &http.Request{Header: http.Header{"Cookie": lines}}
		want, err := r.Cookie(name)
		got, ok := cookieValue(lines, name)
		if (err == nil) != ok || (ok && got != want.Value) {
			t.Errorf("%q: cookieValue = %q, %v; net/http: %v, %v", lines, got, ok, want, err)
		}
	}
}
