// Package web holds the static assets, embedded with go:embed: the page
// scripts (plain JavaScript, no framework, no bundler), the widget script
// and the stylesheet.
package web
