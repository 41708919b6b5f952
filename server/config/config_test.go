package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Issuer() != "http://localhost:8080" || c.RPID() != "localhost" {
		t.Fatalf("defaults: %+v issuer %s", c, c.Issuer())
	}
	if c.Secure() || c.IPRateLimit != 60 || c.SessionIdle != 30*time.Minute || c.SessionAbsolute != 12*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
	if c.PhishingResistant != "passkey-users" {
		t.Fatalf("phishing resistance %q, want passkey-users", c.PhishingResistant)
	}
}

func TestValues(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		EnvPublicURL:         "https://Login.Example.com:8443/",
		EnvIPRateLimit:       "0",
		EnvSessionIdle:       "5m",
		EnvTrustedProxies:    "10.0.0.0/8, 127.0.0.1",
		EnvRedisURL:          "redis+sentinel://a:26379,b:26379?master=m",
		EnvPhishingResistant: "all",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer() != "https://login.example.com:8443" || c.RPID() != "login.example.com" || !c.Secure() {
		t.Fatalf("issuer %s rpid %s", c.Issuer(), c.RPID())
	}
	if c.IPRateLimit != 0 || c.SessionIdle != 5*time.Minute || len(c.TrustedProxies) != 2 || c.PhishingResistant != "all" {
		t.Fatalf("%+v", c)
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	cases := map[string]string{
		EnvPublicURL:         "ftp://x",
		EnvListen:            "no-port",
		EnvIPRateLimit:       "-1",
		EnvDatabaseURL:       "mysql://x",
		EnvRedisURL:          "http://x",
		EnvSessionIdle:       "forever",
		EnvPasswordMinLen:    "6",
		EnvLogLevel:          "loud",
		EnvTrustedProxies:    "not-an-ip",
		EnvPhishingResistant: "ALL",
		EnvMetricsListen:     "nowhere",
		EnvMetricsToken:      "short",
		EnvDatabaseTimeout:   "10ms",
	}
	for name, value := range cases {
		_, err := FromEnv(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, value, err)
		}
	}
	if _, err := FromEnv(env(map[string]string{EnvPublicURL: "https://x.example/path"})); err == nil {
		t.Error("public URL with a path accepted")
	}
	if _, err := FromEnv(env(map[string]string{EnvMetricsListen: DefaultListen})); err == nil {
		t.Error("metrics on the main listen address accepted")
	}
	if _, err := FromEnv(env(map[string]string{EnvSessionIdle: "13h"})); err == nil {
		t.Error("idle timeout longer than absolute accepted")
	}
}

func TestSupportContact(t *testing.T) {
	good := map[string]string{
		"":                                "",
		"it-desk@example.com":             "mailto:it-desk@example.com",
		"https://help.example.com/keys":   "https://help.example.com/keys",
		"mailto:it@example.com":           "mailto:it@example.com",
		"The IT desk, room 4, ext. 1234":  "",
		"  security@example.org  ":        "mailto:security@example.org",
		"Ärger? Ruf an: +49 30 1234567 ☎": "",
	}
	for v, href := range good {
		c, err := FromEnv(env(map[string]string{EnvSupportContact: v}))
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if c.SupportContact != strings.TrimSpace(v) || c.SupportHref() != href {
			t.Errorf("%q: contact %q href %q, want href %q", v, c.SupportContact, c.SupportHref(), href)
		}
	}
	bad := []string{"javascript://alert(1)", "ftp://files.example", "call\x00me", "line\nbreak", strings.Repeat("x", 201), "mailto:", "bad\xffutf8"}
	for _, v := range bad {
		_, err := FromEnv(env(map[string]string{EnvSupportContact: v}))
		if err == nil || !strings.Contains(err.Error(), EnvSupportContact) {
			t.Errorf("%q: error %v does not name the variable", v, err)
		}
	}
}

func TestTLSSettings(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		EnvPublicURL: "https://login.example.com", EnvTLSCertFile: "c.pem", EnvTLSKeyFile: "k.pem",
		EnvTLSClientCA: "ca.pem", EnvTLSClientCRL: "crl.pem", EnvTLSBindSessions: "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ServeTLS() || !c.ClientCerts() || !c.TLSBindSessions || c.TLSClientCRLFile != "crl.pem" {
		t.Fatalf("%+v", c)
	}
	cases := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{EnvPublicURL: "https://x.example", EnvTLSCertFile: "c.pem"}, EnvTLSKeyFile},
		{map[string]string{EnvPublicURL: "https://x.example", EnvTLSKeyFile: "k.pem"}, EnvTLSCertFile},
		{map[string]string{EnvPublicURL: "http://x.example", EnvTLSCertFile: "c.pem", EnvTLSKeyFile: "k.pem"}, EnvPublicURL},
		{map[string]string{EnvTLSClientCRL: "crl.pem"}, EnvTLSClientCRL},
		{map[string]string{EnvTLSBindSessions: "yes please"}, EnvTLSBindSessions},
		{map[string]string{EnvTLSBindSessions: "true"}, EnvTLSBindSessions},
	}
	for _, tc := range cases {
		_, err := FromEnv(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: error %v does not name %s", tc.env, err, tc.name)
		}
	}
}
