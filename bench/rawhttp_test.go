package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRawConn(t *testing.T) {
	big := strings.Repeat("x", 10000) // past net/http's buffer: chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/verify":
			if c, err := r.Cookie("s"); err == nil && c.Value == "ok" {
				w.Header().Set("Remote-User", "alice")
				w.WriteHeader(http.StatusOK)
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	rc := &rawConn{addr: addr}
	defer rc.close()
	get := func(path, extra string) []byte {
		return []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n" + extra + "\r\n")
	}

	r, err := rc.do(get("/verify", "Cookie: s=ok\r\n"), "Remote-User")
	if err != nil || r.status != 200 || r.header != "alice" {
		t.Fatalf("verify: %+v, %v", r, err)
	}
	first := rc.c
	r, err = rc.do(get("/verify", ""), "Remote-User")
	if err != nil || r.status != 401 || r.header != "" {
		t.Fatalf("verify without cookie: %+v, %v", r, err)
	}
	body := `{"username":"alice"}`
	post := fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	r, err = rc.do([]byte(post), "")
	if err != nil || r.status != 200 || string(r.body) != body {
		t.Fatalf("post: %+v, %v", r, err)
	}
	r, err = rc.do(get("/big", ""), "")
	if err != nil || r.status != 200 || string(r.body) != big {
		t.Fatalf("chunked: status %d, %d bytes, %v", r.status, len(r.body), err)
	}
	r, err = rc.do(get("/none", ""), "")
	if err != nil || r.status != 204 {
		t.Fatalf("204: %+v, %v", r, err)
	}
	if rc.c != first {
		t.Fatal("the connection was not kept alive")
	}
	r, err = rc.do(get("/close", ""), "")
	if err != nil || string(r.body) != "bye" || rc.c != nil {
		t.Fatalf("Connection: close: %+v, %v, conn kept: %v", r, err, rc.c != nil)
	}
	r, err = rc.do(get("/verify", "Cookie: s=ok\r\n"), "Remote-User")
	if err != nil || r.status != 200 {
		t.Fatalf("after reconnecting: %+v, %v", r, err)
	}
}

func TestRawConnMalformed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1024)
		_, _ = c.Read(buf)
		_, _ = io.WriteString(c, "SMTP ready\r\n\r\n")
		c.Close()
	}()
	rc := &rawConn{addr: ln.Addr().String()}
	if _, err := rc.do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ""); err == nil {
		t.Fatal("no error for a non-HTTP answer")
	}
	if rc.c != nil {
		t.Fatal("connection kept after an error")
	}
}
