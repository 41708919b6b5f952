package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mutualauth/server/account"
	"mutualauth/server/config"
	"mutualauth/server/keys"
	"mutualauth/server/oidc"
	"mutualauth/store"
)

// admin runs the `admin` subcommands against the configured database; they
// work while the server runs.
func admin(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	switch args[0] {
	case "invite":
		return adminInvite(ctx, args[1:], getenv, stdout)
	case "client":
		if len(args) < 2 || args[1] != "create" {
			return errors.New("usage: mutualauth admin client create --name NAME [--origin ORIGIN...] [--redirect-uri URI...] " +
				"[--post-logout-redirect-uri URI...] [--public]")
		}
		return adminClientCreate(ctx, args[2:], getenv, stdout)
	case "oidc-key":
		if len(args) < 2 || (args[1] != "rotate" && args[1] != "retire") {
			return errors.New("usage: mutualauth admin oidc-key rotate|retire [--alg RS256|ES256]")
		}
		return adminOIDCKey(ctx, args[1], args[2:], getenv, stdout)
	case "users":
		return adminUsers(ctx, args[1:], getenv, stdout)
	case "keys":
		if len(args) < 2 {
			return errors.New("usage: mutualauth admin keys rotate|list|revoke --kid KID")
		}
		return adminKeys(ctx, args[1], args[2:], getenv, stdout)
	case "cert":
		switch {
		case len(args) >= 2 && args[1] == "add":
			return adminCertAdd(ctx, args[2:], getenv, stdout)
		case len(args) >= 2 && args[1] == "remove":
			return adminCertRemove(ctx, args[2:], getenv)
		}
		return errors.New("usage: mutualauth admin cert add --username NAME --cert FILE | admin cert remove --fingerprint F")
	default:
		return fmt.Errorf("unknown admin command %q\n%s", args[0], usage)
	}
}

func adminInvite(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin invite", flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	username := fs.String("username", "", "the user's login name (required)")
	display := fs.String("display-name", "", "the name shown to people")
	isAdmin := fs.Bool("admin", false, "give the user the admin role")
	email := fs.String("email", "", "the user's email address (optional; OIDC apps see it as verified)")
	server := fs.String("server", "", "a server URL: go through its admin API with the stored session")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *username == "" {
		return usageError(errors.New("admin invite: --username is required"))
	}
	if *server != "" {
		return remoteInvite(ctx, *server, getenv, stdout, adminInviteBody{Username: *username, DisplayName: *display, Admin: *isAdmin, Email: *email})
	}
	cfg, st, err := adminStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	inv, err := account.IssueInvite(ctx, st, time.Now(), account.InviteRequest{
		Username: *username, DisplayName: *display, Admin: *isAdmin, Email: *email, CreatedBy: "cli", TTL: cfg.InviteTTL,
	})
	if err != nil {
		return fmt.Errorf("admin invite: %w", err)
	}
	_, err = fmt.Fprintln(stdout, account.EnrollURL(cfg.Issuer(), inv.Token))
	return err
}

type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func adminClientCreate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin client create", flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	name := fs.String("name", "", "the client's name (required)")
	var origins, redirects, logouts stringList
	fs.Var(&origins, "origin", "an origin allowed to embed the widget, scheme://host[:port] (repeatable)")
	fs.Var(&redirects, "redirect-uri", "an OpenID Connect redirect URI, matched exactly (repeatable)")
	fs.Var(&logouts, "post-logout-redirect-uri", "where RP-initiated logout may return to (repeatable)")
	public := fs.Bool("public", false, "a public client (native or browser app): no secret, PKCE required")
	server := fs.String("server", "", "a server URL: go through its admin API with the stored session")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	spec := account.ClientSpec{Name: *name, Origins: origins, RedirectURIs: redirects, PostLogoutRedirectURIs: logouts, Public: *public}
	if *server != "" {
		return remoteClientCreate(ctx, *server, getenv, stdout, spec)
	}
	_, st, err := adminStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	nc, err := account.RegisterClient(ctx, st, time.Now(), spec)
	if err != nil {
		return fmt.Errorf("admin client create: %w", err)
	}
	out := map[string]string{"client_id": nc.Client.ID}
	if nc.Secret != "" {
		out["client_secret"] = nc.Secret
	}
	return json.NewEncoder(stdout).Encode(out)
}

// adminOIDCKey rotates the ID-token signing key of one algorithm (the old
// key stays published, so ID tokens it signed still verify) or retires the
// keys older than the live one. Running servers pick the change up within
// a minute.
func adminOIDCKey(ctx context.Context, op string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin oidc-key "+op, flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	alg := fs.String("alg", "RS256", "the algorithm: RS256 or ES256")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *alg != "RS256" && *alg != "ES256" {
		return errors.New("admin oidc-key: --alg must be RS256 or ES256")
	}
	cfg, st, err := adminStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	box, err := openBox(cfg)
	if err != nil {
		return err
	}
	ring := &oidc.KeyRing{Store: st, Box: box, Alg: jose.SignatureAlgorithm(*alg), Now: time.Now}
	if err := ring.Load(ctx); err != nil {
		return fmt.Errorf("admin oidc-key: %w", err)
	}
	if op == "rotate" {
		err = ring.Rotate(ctx, jose.SignatureAlgorithm(*alg))
	} else {
		err = ring.Retire(ctx, jose.SignatureAlgorithm(*alg))
	}
	if err != nil {
		return fmt.Errorf("admin oidc-key %s: %w", op, err)
	}
	keys, err := ring.KeySet(ctx)
	if err != nil {
		return err
	}
	var kids []string
	for _, k := range keys {
		if string(k.Algorithm()) == *alg {
			kids = append(kids, k.ID())
		}
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"alg": *alg, "published": kids})
}

// adminStore reads the configuration and opens the database for an admin
// command.
func adminStore(ctx context.Context, getenv func(string) string) (config.Config, store.Durable, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := openDurable(ctx, cfg)
	return cfg, st, err
}

// adminKeys runs `admin keys rotate|list|revoke` against the shared key
// ring in the database; running instances pick the change up within
// keys.RefreshInterval, and a rotated key signs after keys.ActivationDelay.
func adminKeys(ctx context.Context, sub string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin keys "+sub, flag.ContinueOnError)
	getenv = configFlags(fs, getenv)
	kid := fs.String("kid", "", "the key to revoke (its thumbprint)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	switch sub {
	case "rotate", "list":
	case "revoke":
		if *kid == "" {
			return usageError(errors.New("admin keys revoke: --kid is required"))
		}
	default:
		return usageError(fmt.Errorf("unknown admin keys command %q: want rotate, list or revoke", sub))
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	if cfg.SigningKeyFile != "" && sub != "list" {
		return fmt.Errorf("admin keys %s: the server signs with the key file of %s; replace that file instead", sub, config.EnvSigningKeyFile)
	}
	st, err := openDurable(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "list":
		list, err := keys.List(ctx, st, now)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, k := range list {
			if err := enc.Encode(k); err != nil {
				return err
			}
		}
		return nil
	}
	box, err := openBox(cfg)
	if err != nil {
		return err
	}
	if sub == "rotate" {
		ring, err := keys.Rotate(ctx, st, box, cfg.Issuer(), now)
		if err != nil {
			return fmt.Errorf("admin keys rotate: %w", err)
		}
		_, err = fmt.Fprintln(stdout, ring.KIDs()[0])
		return err
	}
	ring, err := keys.Revoke(ctx, st, box, *kid, now)
	if err != nil {
		return fmt.Errorf("admin keys revoke: %w", err)
	}
	_, err = fmt.Fprintln(stdout, ring.ActiveKIDAt(now))
	return err
}
