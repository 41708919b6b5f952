// Package templates holds the server-rendered pages (html/template, embedded
// with go:embed): every page is layout.html plus its own file. Pages carry
// no inline script (the CSP forbids it); each names its script in web/ and
// passes data to it through data- attributes.
package templates
