package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mutualauth/internal/testenv"
	"mutualauth/server/clientcert/certtest"
)

// mtlsProxyEnv is the binary behind a TLS-terminating proxy that passes
// client certificates on in Client-Cert.
type mtlsProxyEnv struct {
	s        *Server
	url      string // the proxy's https origin, the public URL
	roots    *x509.CertPool
	clientCA *certtest.CA
	password string
}

// startMTLSProxyEnv writes the certificates, starts the binary trusting
// loopback as its proxy, and starts the proxy from config (which gets the
// directory, the proxy's port and the server's port).
func startMTLSProxyEnv(t *testing.T, bin string, args func(dir string) []string, config func(dir string, port, backend int) (string, string)) *mtlsProxyEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("proxy tests do not run with -short")
	}
	if _, err := exec.LookPath(bin); err != nil {
		testenv.Missing(t, bin, "apt-get install "+bin)
	}
	dir := t.TempDir()
	srvCA := certtest.NewCA(t, "Proxy Server CA")
	leaf := srvCA.Server(t)
	e := &mtlsProxyEnv{clientCA: certtest.NewCA(t, "Proxy Client CA"), password: "plum orchard under seven moons"}
	for name, data := range map[string][]byte{
		"server.pem": certtest.PEM(leaf.Cert, srvCA.Cert), "server.key": certtest.KeyPEM(t, leaf.Key),
		"combined.pem": append(certtest.PEM(leaf.Cert, srvCA.Cert), certtest.KeyPEM(t, leaf.Key)...),
		"clients.pem":  certtest.PEM(e.clientCA.Cert),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.roots = x509.NewCertPool()
	e.roots.AddCert(srvCA.Cert)
	proxyPort := freePort(t)
	e.url = "https://localhost:" + strconv.Itoa(proxyPort)
	e.s = startServer(t, ServerOptions{Env: []string{
		"MUTUALAUTH_PUBLIC_URL=" + e.url,
		"MUTUALAUTH_TRUSTED_PROXIES=127.0.0.1,::1",
		"MUTUALAUTH_TLS_CLIENT_CA_FILE=" + filepath.Join(dir, "clients.pem"),
	}})
	name, text := config(dir, proxyPort, e.s.Port())
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args(dir)...)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", bin, logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(proxyPort), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen: %v\n%s", bin, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.enroll(t, "alice")
	return e
}

// client reaches the proxy with cert (nil: none) on its TLS connections.
func (e *mtlsProxyEnv) client(t *testing.T, cert *certtest.Leaf) *apiLoginClient {
	cfg := &tls.Config{RootCAs: e.roots}
	if cert != nil {
		tc := cert.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	jar, _ := cookiejar.New(nil)
	return &apiLoginClient{t: t, base: e.url, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg}}}
}

func (e *mtlsProxyEnv) enroll(t *testing.T, username string) {
	t.Helper()
	u, err := url.Parse(e.s.AdminInvite(t, username, "", false))
	if err != nil {
		t.Fatal(err)
	}
	apiEnroll(t, e.client(t, nil), strings.TrimPrefix(u.Path, "/enroll/"), e.password)
}

type mtlsBegin struct {
	LoginID           string   `json:"login_id"`
	Next              []string `json:"next"`
	ClientCertificate bool     `json:"client_certificate"`
	Done              bool     `json:"done"`
	AMR               []string `json:"amr"`
}

// check signs in with a bound certificate through the proxy, and checks
// that no certificate, an expired one and a forged header count as none.
func (e *mtlsProxyEnv) check(t *testing.T) {
	t.Helper()
	alice := e.clientCA.Client(t, "alice")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alice.pem"), certtest.PEM(alice.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	e.s.Command(t, "admin", "cert", "add", "--username", "alice", "--cert", filepath.Join(dir, "alice.pem"))
	begin := func(c *apiLoginClient, hdr ...string) mtlsBegin {
		t.Helper()
		req, _ := http.NewRequest("POST", e.url+"/api/v1/login/begin", strings.NewReader(`{"username":"alice"}`))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		var b mtlsBegin
		status, raw := doJSON(t, c.hc, req, &b)
		if status != 200 {
			t.Fatalf("begin: %d %s", status, raw)
		}
		return b
	}
	c := e.client(t, &alice)
	b := begin(c)
	if !slices.Equal(b.Next, []string{"password"}) || !b.ClientCertificate {
		t.Fatalf("begin with the bound certificate through the proxy: %+v", b)
	}
	var done mtlsBegin
	c.must("POST", "/api/v1/login/password", map[string]any{"login_id": b.LoginID, "password": e.password}, 200, &done)
	if !done.Done || !slices.Equal(done.AMR, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("completion: %+v", done)
	}

	expired := e.clientCA.Client(t, "alice", certtest.Expired)
	forged := ":" + base64.StdEncoding.EncodeToString(alice.Cert.Raw) + ":"
	for name, got := range map[string]mtlsBegin{
		"no certificate":            begin(e.client(t, nil)),
		"an expired certificate":    begin(e.client(t, &expired)),
		"a header sent by a client": begin(e.client(t, nil), "Client-Cert", forged),
	} {
		if got.ClientCertificate || slices.Equal(got.Next, []string{"password"}) {
			t.Errorf("%s counted as the certificate: %+v", name, got)
		}
	}
}

func TestNginxPassesClientCertificates(t *testing.T) {
	e := startMTLSProxyEnv(t, "nginx",
		func(dir string) []string { return []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf")} },
		func(dir string, port, backend int) (string, string) {
			return "nginx.conf", fmt.Sprintf(`
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name localhost;
    ssl_certificate %[1]s/server.pem;
    ssl_certificate_key %[1]s/server.key;
    ssl_client_certificate %[1]s/clients.pem;
    ssl_verify_client optional_no_ca;
    error_page 495 = @without_certificate;
    location / {
      proxy_pass http://127.0.0.1:%[3]d;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Client-Cert $ssl_client_escaped_cert;
    }
    location @without_certificate {
      proxy_pass http://127.0.0.1:%[3]d;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Client-Cert "";
    }
  }
}
`, dir, port, backend)
		})
	e.check(t)
}

func TestHAProxyPassesClientCertificates(t *testing.T) {
	e := startMTLSProxyEnv(t, "haproxy",
		func(dir string) []string { return []string{"-db", "-f", filepath.Join(dir, "haproxy.cfg")} },
		func(dir string, port, backend int) (string, string) {
			return "haproxy.cfg", fmt.Sprintf(`
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend login
  bind 127.0.0.1:%[2]d ssl crt %[1]s/combined.pem ca-file %[1]s/clients.pem verify optional ca-ignore-err all crt-ignore-err all
  http-request del-header Client-Cert
  http-request del-header Client-Cert-Chain
  http-request set-header Client-Cert :%%[ssl_c_der,base64]: if { ssl_c_used }
  option forwardfor
  default_backend mutualauth
backend mutualauth
  server login 127.0.0.1:%[3]d
`, dir, port, backend)
		})
	e.check(t)
}

// doJSON sends req and decodes a 200 answer into out.
func doJSON(t *testing.T, hc *http.Client, req *http.Request, out any) (int, []byte) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", req.Method, req.URL, err, raw)
		}
	}
	return resp.StatusCode, raw
}
