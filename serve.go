package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/server"
	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/config"
	"mutualauth/server/keys"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/server/tlsserve"
	"mutualauth/store"
	"mutualauth/store/memory"
	redisstore "mutualauth/store/redis"
	sqlstore "mutualauth/store/sql"
)

// serve runs the server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stdout)
	getenv = configFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	// Libraries that log through slog's default (zitadel/oidc) log in the
	// configured format and level too.
	slog.SetDefault(log)

	deps, closeAll, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeAll()

	srv, err := server.New(deps)
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, cfg, deps.Durable, log); err != nil {
		return err
	}

	var tlsSrv *tlsserve.Server
	if cfg.ServeTLS() {
		if tlsSrv, err = tlsserve.New(cfg.TLSCertFile, cfg.TLSKeyFile, deps.ClientCerts, log); err != nil {
			return fmt.Errorf("%s and %s: %w", config.EnvTLSCertFile, config.EnvTLSKeyFile, err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (%s): %w", cfg.Listen, config.EnvListen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("mutualauth serving", "listen", ln.Addr().String(), "issuer", cfg.Issuer(),
		"signing_kid", deps.Keys.ActiveKID(), "tls", cfg.ServeTLS(), "client_certificates", cfg.ClientCerts())

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go deps.Keys.Watch(wctx, log)

	errc := make(chan error, 1)
	switch {
	case tlsSrv != nil:
		hs.TLSConfig = tlsSrv.Config()
		go watchTLS(ctx, tlsSrv.Watch)
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	case deps.ClientCerts != nil:
		// Behind a TLS-terminating proxy: the CA and CRL files are still
		// reloaded when they change.
		go watchTLS(ctx, func(ctx context.Context, every time.Duration, hup <-chan os.Signal) {
			tlsserve.WatchFiles(ctx, every, hup, deps.ClientCerts.Files, deps.ClientCerts.Reload, log)
		})
		go func() { errc <- hs.Serve(ln) }()
	default:
		go func() { errc <- hs.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// open connects the stores and loads the keys. closeAll releases them.
func open(ctx context.Context, cfg config.Config, log *slog.Logger) (server.Deps, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (server.Deps, func(), error) {
		closeAll()
		return server.Deps{}, nil, err
	}

	box, err := openBox(cfg)
	if err != nil {
		return fail(err)
	}
	durable, err := openDurable(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { _ = durable.Close() })

	var ephemeral store.Ephemeral
	if cfg.RedisURL == "" {
		log.Warn("MUTUALAUTH_REDIS_URL is not set: sessions are kept in memory, for this one instance only, and end when it stops")
		ephemeral = memory.New()
	} else {
		redis.SetLogger(redisLogger{log})
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ephemeral, err = redisstore.Open(octx, cfg.RedisURL)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("session store (%s): %w", config.EnvRedisURL, err))
		}
	}
	closers = append(closers, func() { _ = ephemeral.Close() })

	var ring *keys.Ring
	if cfg.SigningKeyFile != "" {
		pemBytes, err := os.ReadFile(cfg.SigningKeyFile)
		if err != nil {
			return fail(fmt.Errorf("signing key (%s): %w", config.EnvSigningKeyFile, err))
		}
		if ring, err = keys.LoadPEM(pemBytes); err != nil {
			return fail(fmt.Errorf("signing key (%s): %w", config.EnvSigningKeyFile, err))
		}
	} else if ring, err = keys.Load(ctx, durable, box, time.Now()); err != nil {
		return fail(fmt.Errorf("signing key ring: %w", err))
	}

	hasher, err := password.NewHasher(password.DefaultParams, cfg.HashConcurrency)
	if err != nil {
		return fail(err)
	}
	clients, err := openClientCerts(cfg, log)
	if err != nil {
		return fail(err)
	}
	return server.Deps{
		Config: cfg, Durable: durable, Ephemeral: ephemeral, Keys: ring,
		Box: box, Hasher: hasher, ClientCerts: clients, Log: log,
	}, closeAll, nil
}

// openClientCerts loads the client CAs and CRLs; nil when none are set.
func openClientCerts(cfg config.Config, log *slog.Logger) (*clientcert.Source, error) {
	if !cfg.ClientCerts() {
		return nil, nil
	}
	src, err := clientcert.NewSource(clientcert.Options{
		CAFile: cfg.TLSClientCAFile, CRLFile: cfg.TLSClientCRLFile, TrustedProxies: cfg.TrustedProxies, Log: log,
	})
	switch {
	case errors.Is(err, clientcert.ErrCRLFile):
		return nil, fmt.Errorf("%s: %w", config.EnvTLSClientCRL, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", config.EnvTLSClientCA, err)
	}
	return src, nil
}

// tlsReloadEvery is how often the TLS files are checked for changes.
const tlsReloadEvery = 10 * time.Second

// watchTLS runs a reload loop that also reloads on SIGHUP.
func watchTLS(ctx context.Context, watch func(context.Context, time.Duration, <-chan os.Signal)) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	watch(ctx, tlsReloadEvery, hup)
}

func openBox(cfg config.Config) (*secretbox.Box, error) {
	key, err := secretbox.LoadKey(cfg.EncryptionKey, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("encryption key (%s or the data dir %s): %w", config.EnvEncryptionKey, cfg.DataDir, err)
	}
	return secretbox.New(key)
}

func openDurable(ctx context.Context, cfg config.Config) (store.Durable, error) {
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := sqlstore.Open(octx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		if cfg.DatabaseURL == "" {
			return nil, fmt.Errorf("database (SQLite in %s, %s): %w", cfg.DataDir, config.EnvDataDir, err)
		}
		return nil, fmt.Errorf("database (%s): %w", config.EnvDatabaseURL, err)
	}
	return st, nil
}

// bootstrapAdmin logs a one-time admin enrollment URL while no admin has
// enrolled. Each start replaces the previous bootstrap invite.
func bootstrapAdmin(ctx context.Context, cfg config.Config, st store.Durable, log *slog.Logger) error {
	has, err := st.HasAdmin(ctx)
	if err != nil {
		return fmt.Errorf("check for an admin: %w", err)
	}
	if has {
		return nil
	}
	inv, err := account.IssueInvite(ctx, st, time.Now(), account.InviteRequest{
		Username: "admin", DisplayName: "Administrator", Admin: true, CreatedBy: "system", TTL: cfg.InviteTTL,
	})
	if errors.Is(err, account.ErrAlreadyEnrolled) {
		log.Warn("no enabled admin account exists, and the user 'admin' has enrolled without the admin role; run `mutualauth admin invite --username NAME --admin`")
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin invite: %w", err)
	}
	log.Warn("no admin has enrolled yet: open this one-time link to enroll the first admin",
		"enroll_url", account.EnrollURL(cfg.Issuer(), inv.Token), "username", inv.User.Username,
		"expires_at", inv.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}

// redisLogger sends go-redis's own messages (failed dials during an outage)
// to the log at debug level instead of stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis: " + fmt.Sprintf(format, v...))
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// healthcheck asks the local server for /healthz (for container health checks).
func healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(cfg.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	scheme, client := "http", http.DefaultClient
	if cfg.ServeTLS() {
		// A liveness check of the local process over loopback, sending
		// nothing secret: the certificate names the public host, not
		// 127.0.0.1, so it is not verified here.
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}
