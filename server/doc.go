// Package server is mutualauth's HTTP application: the echo app, its routes
// (all in routes.go), the handlers, and the one central error handler that
// turns errors into RFC 9457 problem documents.
//
// Data flows one way: request → handler → domain logic (sub-packages) →
// store interface → backend. Handlers never see a driver type.
package server
