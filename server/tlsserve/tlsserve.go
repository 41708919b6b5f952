// Package tlsserve is the TLS side of a server that terminates HTTPS
// itself: crypto/tls with TLS 1.2 as the floor (RFC 9325 §3.1.1) and the
// standard library's cipher suites and curves, a certificate that is read
// again when its files change or on SIGHUP (so renewals need no restart),
// and client certificates requested — never required — from the CAs of a
// clientcert.Source. The handshake does not judge the client certificate
// (tls.RequestClientCert still makes the client prove it holds the key,
// RFC 8446 §4.4.3); package clientcert does, per request, the same way for
// direct connections and for the Client-Cert header of a proxy.
package tlsserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"mutualauth/server/clientcert"
)

// ErrCertificate wraps every failure to load the server's certificate and key.
var ErrCertificate = errors.New("server certificate")

// Server holds the TLS configuration and the state reloading needs.
type Server struct {
	certFile, keyFile string
	clients           *clientcert.Source // nil: no client certificates asked for
	log               *slog.Logger

	cert  atomic.Pointer[tls.Certificate]
	base  *tls.Config
	built atomic.Pointer[built]
}

// built is the handshake configuration for one set of client CAs.
type built struct {
	trust *clientcert.Trust
	cfg   *tls.Config
}

// New loads the certificate and key. clients may be nil.
func New(certFile, keyFile string, clients *clientcert.Source, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{certFile: certFile, keyFile: keyFile, clients: clients, log: log}
	if err := s.loadCertificate(); err != nil {
		return nil, err
	}
	s.base = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if clients != nil {
		s.base.ClientAuth = tls.RequestClientCert
		s.base.GetConfigForClient = s.configForClient
	}
	return s, nil
}

// Config is the configuration to serve with (http.Server.TLSConfig).
func (s *Server) Config() *tls.Config { return s.base }

// configForClient names the current client CAs in the certificate request
// (RFC 8446 §4.2.4), so that browsers offer only matching certificates.
func (s *Server) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	t := s.clients.Trust()
	if b := s.built.Load(); b != nil && b.trust == t {
		return b.cfg, nil
	}
	cfg := s.base.Clone()
	cfg.GetConfigForClient = nil
	cfg.ClientCAs = t.Pool()
	s.built.Store(&built{trust: t, cfg: cfg})
	return cfg, nil
}

func (s *Server) loadCertificate() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	s.cert.Store(&c)
	return nil
}

// Reload reads the certificate, the key and the client trust material
// again. What fails to load keeps its previous value in force.
func (s *Server) Reload() error {
	err := s.loadCertificate()
	if s.clients != nil {
		err = errors.Join(err, s.clients.Reload())
	}
	return err
}

func (s *Server) files() []string {
	out := []string{s.certFile, s.keyFile}
	if s.clients != nil {
		out = append(out, s.clients.Files()...)
	}
	return out
}

// Watch reloads when a file's modification time or size changes (checked
// every interval) and whenever hup delivers, until ctx ends.
func (s *Server) Watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	WatchFiles(ctx, interval, hup, s.files, s.Reload, s.log)
}

// WatchFiles calls reload when one of files() changes (modification time or
// size, checked every interval) and whenever hup delivers, until ctx ends.
// A failed reload is logged and tried again at the next check.
func WatchFiles(ctx context.Context, interval time.Duration, hup <-chan os.Signal, files func() []string, reload func() error, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	seen := stamps(files())
	do := func(why string) bool {
		if err := reload(); err != nil {
			log.Error("TLS reload failed; the previous certificates, client CAs and CRLs stay in force", "cause", why, "err", err)
			return false
		}
		log.Info("TLS files reloaded", "cause", why)
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			do("signal")
		case <-tick.C:
			if now := stamps(files()); changed(seen, now) && do("file change") {
				seen = now
			}
		}
	}
}

type stamp struct {
	mod  time.Time
	size int64
}

func stamps(files []string) map[string]stamp {
	m := map[string]stamp{}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			m[f] = stamp{mod: fi.ModTime(), size: fi.Size()}
		}
	}
	return m
}

func changed(a, b map[string]stamp) bool {
	if len(a) != len(b) {
		return true
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			return true
		}
	}
	return false
}
