package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/config"
	"mutualauth/store"
)

// adminCertAdd binds a client certificate file to a user. With client CAs
// configured the certificate must verify against them now.
func adminCertAdd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin cert add", flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	username := fs.String("username", "", "the user the certificate signs in (required)")
	file := fs.String("cert", "", "the certificate, PEM or DER (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" || *file == "" {
		return errors.New("admin cert add: --username and --cert are required")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("admin cert add: %w", err)
	}
	leaf, err := account.ParseCertificate(data)
	if err != nil {
		return fmt.Errorf("admin cert add: %w", err)
	}
	now := time.Now()
	desc := clientcert.Describe(leaf)
	if cfg.ClientCerts() {
		src, err := openClientCerts(cfg, nil)
		if err != nil {
			return err
		}
		if desc, err = src.Trust().Verify(leaf, nil, now); err != nil {
			return fmt.Errorf("admin cert add: %w: %v (checked against %s)", account.ErrInvalidCertificate, err, config.EnvTLSClientCA)
		}
	}
	name, err := account.NormalizeUsername(*username)
	if err != nil {
		return fmt.Errorf("admin cert add: %w", err)
	}
	st, err := openDurable(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin cert add: no user %q", name)
	}
	if err != nil {
		return err
	}
	b, err := account.BindClientCert(ctx, st, now, u.ID, desc)
	if err != nil {
		return fmt.Errorf("admin cert add: %w", err)
	}
	if err := st.AppendAudit(ctx, store.AuditEvent{Time: now, Actor: "cli", Subject: u.ID, Action: "admin.cert.add",
		Result: "success", Detail: "fingerprint " + b.Fingerprint}); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"fingerprint": b.Fingerprint})
}

// adminCertRemove unbinds a client certificate by its fingerprint.
func adminCertRemove(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("admin cert remove", flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	raw := fs.String("fingerprint", "", "the certificate's SHA-256 fingerprint, hex (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fp, ok := clientcert.NormalizeFingerprint(*raw)
	if !ok {
		return errors.New("admin cert remove: --fingerprint must be a SHA-256 fingerprint in hex")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	st, err := openDurable(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.GetClientCert(ctx, fp)
	if err == nil {
		err = st.DeleteClientCert(ctx, b.UserID, fp)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin cert remove: no certificate %s is bound", fp)
	}
	if err != nil {
		return err
	}
	return st.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Actor: "cli", Subject: b.UserID, Action: "admin.cert.remove",
		Result: "success", Detail: "fingerprint " + fp})
}
