// Package web holds the static assets, embedded with go:embed: the page
// scripts (plain JavaScript, no framework, no bundler; common.js holds what
// they share and templates/layout.html loads it first), the widget script
// and the stylesheet.
package web
