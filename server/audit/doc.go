// Package audit writes the audit log (DESIGN.md, "Bars": every
// authentication attempt and every admin action) and names its actions.
//
// Domain code records events with a context.Context, never with an HTTP
// request: the edge puts the client's IP into the request's context
// (WithClientIP) and Auditor.Record reads it from there.
package audit
