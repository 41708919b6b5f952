package web

import "embed"

// Files are the static assets, served under /static/ (and widget.js at
// /widget.js, favicon.svg at /favicon.ico too).
//
//go:embed *.js *.css *.svg
var Files embed.FS
