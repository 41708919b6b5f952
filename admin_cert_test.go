package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mutualauth/server/clientcert"
	"mutualauth/server/clientcert/certtest"
)

func TestAdminCert(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "Client CA")
	other := certtest.NewCA(t, "Other CA")
	files := map[string][]byte{
		"ca.pem":      certtest.PEM(ca.Cert),
		"alice.pem":   certtest.PEM(ca.Client(t, "alice").Cert),
		"expired.pem": certtest.PEM(ca.Client(t, "alice", certtest.Expired).Cert),
		"foreign.pem": certtest.PEM(other.Client(t, "alice").Cert),
		"junk.pem":    []byte("junk"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_TLS_CLIENT_CA_FILE": filepath.Join(dir, "ca.pem")})
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"mutualauth", "admin"}, args...), env, &out)
		return out.String(), err
	}
	if _, err := cmd("invite", "--username", "alice"); err != nil {
		t.Fatal(err)
	}
	out, err := cmd("cert", "add", "--username", "Alice", "--cert", filepath.Join(dir, "alice.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Fingerprint string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	leaf, _ := certtest.ParsePEM(files["alice.pem"])
	if got.Fingerprint != clientcert.Fingerprint(leaf.Raw) {
		t.Fatalf("fingerprint %q, want %q", got.Fingerprint, clientcert.Fingerprint(leaf.Raw))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "alice.pem")}, "bound already"},
		{[]string{"cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "expired.pem")}, "invalid client certificate"},
		{[]string{"cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "foreign.pem")}, "invalid client certificate"},
		{[]string{"cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "junk.pem")}, "invalid client certificate"},
		{[]string{"cert", "add", "--username", "nobody", "--cert", filepath.Join(dir, "alice.pem")}, "no user"},
		{[]string{"cert", "add", "--username", "alice"}, "--cert"},
		{[]string{"cert", "remove", "--fingerprint", "abc"}, "--fingerprint"},
		{[]string{"cert", "frob"}, "usage"},
	} {
		if _, err := cmd(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := cmd("cert", "remove", "--fingerprint", strings.ToUpper(got.Fingerprint)); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := cmd("cert", "remove", "--fingerprint", got.Fingerprint); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Fatalf("second remove: %v", err)
	}
}
