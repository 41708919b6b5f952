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
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if !errors.Is(err, flag.ErrHelp) && (ee == nil || ee.err != nil) {
			fmt.Fprintln(os.Stderr, "mutualauth:", err)
		}
		os.Exit(code)
	}
}

// Exit codes of the client commands (API.md, "Command-line client").
const (
	exitRefused   = 1 // wrong secret, throttled, locked; also any other failure
	exitUsage     = 2
	exitNotProven = 3 // the server did not prove itself
)

// exitError carries an exit code; err nil means the message was printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

const usage = `usage:
  mutualauth [serve] [flags]          run the server
  mutualauth healthcheck              exit 0 when the local server answers /healthz

Client (proves the server before any secret leaves the terminal; see docs/cli.md):
  mutualauth login --server URL [--username NAME] [--fingerprint KID]
  mutualauth whoami [--server URL]    print the signed-in username (exit 1 if none)
  mutualauth logout [--server URL]    end the session on the server and forget it
  Exit codes: 0 done, 1 refused, 2 usage, 3 the server did not prove itself.

Administration (local database; with --server URL, through the admin API
with the session of 'mutualauth login'):
  mutualauth admin invite --username NAME [--display-name TEXT] [--admin] [--email ADDR] [--server URL]
  mutualauth admin client create --name NAME [--origin ORIGIN...] [--redirect-uri URI...]
                                 [--post-logout-redirect-uri URI...] [--public] [--server URL]
                                      (at least one origin or redirect URI)
  mutualauth admin users --server URL     one JSON line per user
  mutualauth admin oidc-key rotate|retire [--alg RS256|ES256]
                                      new ID-token key (the old one stays published) / unpublish old ones
  mutualauth admin cert add --username NAME --cert FILE
  mutualauth admin cert remove --fingerprint SHA256
  mutualauth admin keys rotate            add a new signing key (with a handover); print its kid
  mutualauth admin keys list              one JSON line per signing key
  mutualauth admin keys revoke --kid KID  remove a (compromised) key and its handovers

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
	case "login", "whoami", "logout":
		return clientCommand(ctx, cmd, rest, getenv, stdout)
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
