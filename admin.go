package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/config"
)

// admin runs the `admin` subcommands against the configured database; they
// work while the server runs.
func admin(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	switch args[0] {
	case "invite":
		return adminInvite(ctx, args[1:], getenv, stdout)
	case "client":
		if len(args) < 2 || args[1] != "create" {
			return errors.New("usage: mutualauth admin client create --name NAME --origin ORIGIN [--origin ORIGIN...]")
		}
		return adminClientCreate(ctx, args[2:], getenv, stdout)
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("admin invite: --username is required")
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
	inv, err := account.IssueInvite(ctx, st, time.Now(), account.InviteRequest{
		Username: *username, DisplayName: *display, Admin: *isAdmin, CreatedBy: "cli", TTL: cfg.InviteTTL,
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
	var origins stringList
	fs.Var(&origins, "origin", "an origin allowed to embed the widget, scheme://host[:port] (repeatable, at least one)")
	if err := fs.Parse(args); err != nil {
		return err
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
	nc, err := account.CreateClient(ctx, st, time.Now(), *name, origins)
	if err != nil {
		return fmt.Errorf("admin client create: %w", err)
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"client_id": nc.Client.ID, "client_secret": nc.Secret})
}
