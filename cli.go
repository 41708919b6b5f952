package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/term"

	"mutualauth/client"
	"mutualauth/server/account"
)

// The command-line client: `login`, `whoami`, `logout` and the remote admin
// commands (API.md, "Command-line client"), on package client.

// console is the terminal or the pipe the client talks through: prompts and
// messages go to standard error, results to standard output.
type console struct {
	in       *bufio.Reader
	fd       int
	terminal bool
	errOut   io.Writer
}

func stdConsole() *console {
	fd := int(os.Stdin.Fd())
	return &console{in: bufio.NewReader(os.Stdin), fd: fd, terminal: term.IsTerminal(fd), errOut: os.Stderr}
}

// secret reads one secret: without echo on a terminal, else one line.
func (c *console) secret(prompt string) (string, error) {
	if c.terminal {
		fmt.Fprint(c.errOut, prompt)
		b, err := term.ReadPassword(c.fd)
		fmt.Fprintln(c.errOut)
		return string(b), err
	}
	return c.line(strings.TrimSuffix(strings.TrimSpace(prompt), ":"))
}

// line reads one line of standard input (echoed on a terminal).
func (c *console) line(what string) (string, error) {
	s, err := c.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		return "", &exitError{code: exitUsage, err: fmt.Errorf("standard input ended before the %s", strings.ToLower(what))}
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &exitError{code: exitUsage, err: err}
}

var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// clientSetup opens the state directory and a client of server (the
// default server when empty).
func clientSetup(server string, getenv func(string) string) (*client.Client, *client.FileStore, error) {
	dir, err := client.StateDir(getenv)
	if err != nil {
		return nil, nil, err
	}
	store := &client.FileStore{Dir: dir}
	if server == "" {
		if server, err = store.DefaultServer(); err != nil {
			return nil, nil, err
		}
		if server == "" {
			return nil, nil, &exitError{code: exitRefused, err: errors.New("not signed in (no server given and none used before; pass --server URL)")}
		}
	}
	c, err := client.New(server, store)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return c, store, nil
}

// storedSession opens the client and the session stored for server (nil
// when none).
func storedSession(server string, getenv func(string) string) (*client.Client, *client.FileStore, *client.Session, error) {
	c, store, err := clientSetup(server, getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := store.Session(c.Server)
	return c, store, s, err
}

func clientCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	server := fs.String("server", "", "the server URL, https://host[:port]")
	var username, fingerprint *string
	if cmd == "login" {
		username = fs.String("username", "", "the username (asked on a terminal when missing)")
		fingerprint = fs.String("fingerprint", "", "the server key's fingerprint (kid) to pin, as the operator publishes it")
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0)))
	}
	con := stdConsole()
	switch cmd {
	case "login":
		if *server == "" {
			return usageError(errors.New("login: --server is required"))
		}
		return explain(con, *server, login(ctx, con, *server, *username, *fingerprint, getenv, stdout))
	case "whoami":
		c, store, s, err := storedSession(*server, getenv)
		if err != nil {
			return err
		}
		info, err := c.WhoAmI(ctx, s)
		if errors.Is(err, client.ErrNotSignedIn) {
			_ = store.SetSession(c.Server, nil)
		}
		if err != nil {
			return explain(con, c.Server, err)
		}
		_, err = fmt.Fprintln(stdout, info.User.Username)
		return err
	default: // logout
		c, store, s, err := storedSession(*server, getenv)
		if err != nil {
			return err
		}
		if s == nil {
			fmt.Fprintln(con.errOut, "Not signed in to "+c.Server+".")
			return nil
		}
		if err := c.Logout(ctx, s); err != nil {
			return explain(con, c.Server, err)
		}
		if err := store.SetSession(c.Server, nil); err != nil {
			return err
		}
		fmt.Fprintln(con.errOut, "Signed out of "+c.Server+".")
		return nil
	}
}

// pinOverride is the pin given with --fingerprint: it counts for this run
// and is stored once the server proved itself with it.
type pinOverride struct {
	client.PinStore
	kid string
}

func (p *pinOverride) PinnedKey(string) (string, error) { return p.kid, nil }
func (p *pinOverride) SetPinnedKey(server, kid string) error {
	p.kid = kid
	return p.PinStore.SetPinnedKey(server, kid)
}

func login(ctx context.Context, con *console, server, username, fingerprint string, getenv func(string) string, stdout io.Writer) error {
	if fingerprint != "" && !kidPattern.MatchString(fingerprint) {
		return usageError(errors.New("login: --fingerprint must be a key thumbprint (43 base64url characters)"))
	}
	c, store, err := clientSetup(server, getenv)
	if err != nil {
		return err
	}
	if username == "" {
		if !con.terminal {
			return usageError(errors.New("login: --username is required when standard input is not a terminal"))
		}
		fmt.Fprint(con.errOut, "Username: ")
		if username, err = con.line("username"); err != nil {
			return err
		}
		if username = strings.TrimSpace(username); username == "" {
			return usageError(errors.New("login: no username given"))
		}
	}
	var override *pinOverride
	if fingerprint != "" {
		override = &pinOverride{PinStore: store, kid: fingerprint}
		c.Pins = override
	}
	if con.terminal {
		c.Confirm = func(kid string) bool {
			fmt.Fprintf(con.errOut, "First contact with %s. Its key fingerprint is\n  %s\n"+
				"Compare it with the fingerprint your administrator publishes.\nTrust this key? [y/N] ", c.Server, kid)
			answer, err := con.line("answer")
			answer = strings.ToLower(strings.TrimSpace(answer))
			return err == nil && (answer == "y" || answer == "yes")
		}
	}
	c.Repinned = func(oldKID, newKID string) {
		fmt.Fprintf(con.errOut, "The server moved from key %s to key %s through signed handovers; now pinned to the new key.\n", oldKID, newKID)
	}

	device, err := store.DeviceToken(c.Server, username)
	if err != nil {
		return err
	}
	l, err := c.Begin(ctx, username, device)
	if err != nil {
		return err
	}
	if override != nil {
		if pinned, _ := override.PinnedKey(c.Server); pinned == fingerprint {
			if err := store.SetPinnedKey(c.Server, fingerprint); err != nil {
				return err
			}
		}
	}
	pin, _ := c.Pins.PinnedKey(c.Server)
	fmt.Fprintf(con.errOut, "Server verified: its proof is signed by the pinned key %s.\n", pin)
	shown := ""
	showPhrase := func() {
		if l.Phrase != "" && l.Phrase != shown {
			fmt.Fprintln(stdout, "Security phrase: "+l.Phrase)
			shown = l.Phrase
		}
	}
	showPhrase()
	if shown == "" && !l.Accepts(client.StepPassword) {
		fmt.Fprintln(con.errOut, "This device is not recognized: your second factor comes first.")
	}

	passwordSent := false
	for range 4 {
		var step *client.Step
		switch {
		case l.Accepts(client.StepPassword) && !passwordSent:
			if shown == "" {
				fmt.Fprintln(con.errOut, "No security phrase was shown. Type your password only if you are sure this is the real server.")
			}
			pw, err := con.secret("Password: ")
			if err != nil {
				return err
			}
			passwordSent = true
			step, err = l.Password(ctx, pw)
			if err != nil {
				return err
			}
		case l.Accepts(client.StepOTP) || l.Accepts(client.StepRecovery):
			code, err := con.secret("Code (6 digits from your authenticator app, or a recovery code): ")
			if err != nil {
				return err
			}
			code = strings.TrimSpace(code)
			if isTOTP(code) && l.Accepts(client.StepOTP) {
				step, err = l.OTP(ctx, code)
			} else {
				step, err = l.Recovery(ctx, code)
			}
			if err != nil {
				return err
			}
		case l.Accepts(client.StepWebAuthn):
			return &exitError{code: exitRefused, err: errors.New("this login needs a passkey, which the command-line client cannot use; sign in with a browser")}
		default:
			return fmt.Errorf("the server asked for steps %v, which this client does not know", l.Next)
		}
		showPhrase()
		if step.Done != nil {
			return finishLogin(c, store, username, step.Done, stdout)
		}
	}
	return errors.New("the login did not complete")
}

func isTOTP(code string) bool {
	if len(code) != 6 {
		return false
	}
	_, err := strconv.Atoi(code)
	return err == nil
}

func finishLogin(c *client.Client, store *client.FileStore, typed string, done *client.Completion, stdout io.Writer) error {
	if done.DeviceToken != "" {
		for _, name := range []string{typed, done.User.Username} {
			if err := store.SetDeviceToken(c.Server, name, done.DeviceToken); err != nil {
				return err
			}
		}
	}
	if err := store.SetSession(c.Server, done.Session); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "Signed in to %s as %s.\n", c.Server, done.User.Username)
	return err
}

// explain turns a client error into its exit code, saying on standard
// error what happened and, when the server did not prove itself, what to do.
func explain(con *console, server string, err error) error {
	if err == nil {
		return nil
	}
	var np *client.NotProvenError
	var p *client.Problem
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.As(err, &np):
		fmt.Fprintln(con.errOut, "mutualauth: STOP: "+np.Error()+".")
		fmt.Fprintln(con.errOut, "Nothing more was sent. This may not be the real server.")
		switch {
		case errors.Is(err, client.ErrNotPinned):
			fmt.Fprintf(con.errOut, "First contact needs the key's fingerprint: compare %s with the one your administrator publishes, then run\n"+
				"  mutualauth login --server %s --fingerprint %s\n", np.ServerKID, server, np.ServerKID)
		case np.PinnedKID != "":
			fmt.Fprintf(con.errOut, "The server's key is now %s; this client trusted %s.\n"+
				"Compare the new key with the fingerprint your administrator publishes. If it matches, run\n"+
				"  mutualauth login --server %s --fingerprint %s\n"+
				"If it differs or you cannot check, do not sign in and tell your administrator.\n", np.ServerKID, np.PinnedKID, server, np.ServerKID)
		}
		return &exitError{code: exitNotProven}
	case errors.As(err, &p):
		return &exitError{code: exitRefused, err: fmt.Errorf("refused: %w", p)}
	case errors.Is(err, client.ErrNotSignedIn):
		return &exitError{code: exitRefused, err: fmt.Errorf("not signed in to %s", server)}
	default:
		return &exitError{code: exitRefused, err: err}
	}
}

// remoteSession opens the client and the stored session for the remote
// admin commands.
func remoteSession(server string, getenv func(string) string) (*client.Client, *client.Session, error) {
	c, _, s, err := storedSession(server, getenv)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		return nil, nil, &exitError{code: exitRefused, err: fmt.Errorf("not signed in to %s: run mutualauth login --server %s", c.Server, c.Server)}
	}
	return c, s, nil
}

// adminInviteBody is the body of POST /api/v1/admin/users.
type adminInviteBody struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
	Admin       bool   `json:"admin"`
	Email       string `json:"email,omitempty"`
}

func remoteInvite(ctx context.Context, server string, getenv func(string) string, stdout io.Writer, body adminInviteBody) error {
	c, s, err := remoteSession(server, getenv)
	if err != nil {
		return err
	}
	var out struct {
		EnrollURL string `json:"enroll_url"`
	}
	err = c.Admin(ctx, s, "POST", "/users", body, &out)
	if err != nil {
		return explain(stdConsole(), c.Server, err)
	}
	_, err = fmt.Fprintln(stdout, out.EnrollURL)
	return err
}

func remoteClientCreate(ctx context.Context, server string, getenv func(string) string, stdout io.Writer, spec account.ClientSpec) error {
	c, s, err := remoteSession(server, getenv)
	if err != nil {
		return err
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	body := map[string]any{"name": spec.Name, "origins": nonNil(spec.Origins), "redirect_uris": nonNil(spec.RedirectURIs),
		"post_logout_redirect_uris": nonNil(spec.PostLogoutRedirectURIs), "public": spec.Public}
	if err := c.Admin(ctx, s, "POST", "/clients", body, &out); err != nil {
		return explain(stdConsole(), c.Server, err)
	}
	printed := map[string]string{"client_id": out.ClientID}
	if out.ClientSecret != "" {
		printed["client_secret"] = out.ClientSecret
	}
	return json.NewEncoder(stdout).Encode(printed)
}

// nonNil sends an absent list as [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// adminUsers prints one JSON line per user, through the admin API.
func adminUsers(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("admin users", flag.ContinueOnError)
	server := fs.String("server", "", "the server URL (required)")
	q := fs.String("q", "", "only users whose name contains this")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *server == "" {
		return usageError(errors.New("admin users: --server is required"))
	}
	c, s, err := remoteSession(*server, getenv)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	const page = 100
	for offset := 0; ; offset += page {
		var list struct {
			Users []json.RawMessage `json:"users"`
			Total int               `json:"total"`
		}
		path := "/users?limit=" + strconv.Itoa(page) + "&offset=" + strconv.Itoa(offset) + "&q=" + url.QueryEscape(*q)
		if err := c.Admin(ctx, s, "GET", path, nil, &list); err != nil {
			return explain(stdConsole(), c.Server, err)
		}
		for _, u := range list.Users {
			if err := enc.Encode(u); err != nil {
				return err
			}
		}
		if len(list.Users) < page || offset+len(list.Users) >= list.Total {
			return nil
		}
	}
}
