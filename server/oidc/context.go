package oidc

import (
	"context"
	"net/http"
)

// requestInfo is what the storage methods, which op calls without the
// HTTP request, need of it: the client IP for the audit log and the
// throttles, and the response header for Retry-After.
type requestInfo struct {
	ip     string
	header http.Header
}

type requestInfoKey struct{}

// WithRequest returns ctx carrying the client IP (as the server extracted
// it) and the response header of the request being served.
func WithRequest(ctx context.Context, ip string, header http.Header) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, requestInfo{ip: ip, header: header})
}

func infoOf(ctx context.Context) requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return ri
}
