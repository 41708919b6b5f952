package web

import "embed"

// Files are the static assets, served under /static/ (and widget.js at /widget.js).
//
//go:embed *.js *.css
var Files embed.FS
