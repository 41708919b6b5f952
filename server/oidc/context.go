package oidc

import (
	"context"
	"net/http"
)

type responseHeaderKey struct{}

// withResponseHeader returns ctx carrying the response header of the
// request being served, for the storage methods (which op calls without
// the response) that set one: Retry-After, WWW-Authenticate. The client IP
// comes from audit.ClientIP, which the server's edge sets.
func withResponseHeader(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, responseHeaderKey{}, h)
}

func responseHeader(ctx context.Context) http.Header {
	h, _ := ctx.Value(responseHeaderKey{}).(http.Header)
	return h
}
