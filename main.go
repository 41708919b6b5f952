// Command mutualauth is a login server in which both sides prove
// themselves. `go run .` serves it on the embedded defaults; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mutualauth:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  mutualauth [serve] [flags]          run the server
  mutualauth admin invite --username NAME [--display-name TEXT] [--admin]
  mutualauth admin client create --name NAME --origin ORIGIN [--origin ORIGIN...]
  mutualauth admin cert add --username NAME --cert FILE
  mutualauth admin cert remove --fingerprint SHA256
  mutualauth healthcheck              exit 0 when the local server answers /healthz

Configuration comes from MUTUALAUTH_* environment variables (see README.md);
flags of the same name override them, e.g. --public-url for MUTUALAUTH_PUBLIC_URL.
`

// run is the whole program, with its outside world passed in so tests can
// drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 {
		return serve(ctx, nil, getenv, stdout)
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout)
	case "admin":
		if len(rest) == 0 {
			return fmt.Errorf("admin: missing subcommand\n%s", usage)
		}
		return admin(ctx, rest, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		if strings.HasPrefix(cmd, "-") {
			return serve(ctx, args[1:], getenv, stdout)
		}
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

// configFlags registers flags mirroring the environment variables and
// returns a getenv in which set flags win.
func configFlags(fs *flag.FlagSet, getenv func(string) string) func(string) string {
	names := map[string]string{
		"listen":       "MUTUALAUTH_LISTEN",
		"public-url":   "MUTUALAUTH_PUBLIC_URL",
		"data-dir":     "MUTUALAUTH_DATA_DIR",
		"database-url": "MUTUALAUTH_DATABASE_URL",
		"redis-url":    "MUTUALAUTH_REDIS_URL",
		"log-level":    "MUTUALAUTH_LOG_LEVEL",
	}
	vals := map[string]*string{}
	for flagName, env := range names {
		vals[env] = fs.String(flagName, "", "overrides "+env)
	}
	return func(k string) string {
		if v, ok := vals[k]; ok && *v != "" {
			return *v
		}
		return getenv(k)
	}
}
