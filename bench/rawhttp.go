package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// rawConn is a minimal HTTP/1.1 keep-alive client connection for the load
// phases (RFC 9112): it writes prepared request bytes and reads the status,
// the headers it is asked for and the body (Content-Length or chunked). It
// costs the machine far less than net/http's client, which matters when
// the load generator shares the cores with the server it measures.
type rawConn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	body []byte
}

// rawResponse is the part of a response the load phases look at.
type rawResponse struct {
	status int
	header string // value of the header asked for, if any
	body   []byte // valid until the next request on the connection
}

var errMalformed = errors.New("malformed HTTP response")

// do sends req (a whole request) and reads the response. want names one
// header (in canonical case, e.g. "Remote-User") whose value to return.
// After an error the connection is closed and the next call reconnects.
func (rc *rawConn) do(req []byte, want string) (rawResponse, error) {
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second)
		if err != nil {
			return rawResponse{}, err
		}
		rc.c, rc.br = c, bufio.NewReaderSize(c, 4096)
	}
	resp, keep, err := rc.roundTrip(req, want)
	if err != nil || !keep {
		rc.close()
	}
	return resp, err
}

func (rc *rawConn) close() {
	if rc.c != nil {
		_ = rc.c.Close()
		rc.c, rc.br = nil, nil
	}
}

func (rc *rawConn) roundTrip(req []byte, want string) (rawResponse, bool, error) {
	if _, err := rc.c.Write(req); err != nil {
		return rawResponse{}, false, err
	}
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return rawResponse{}, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return rawResponse{}, false, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return rawResponse{}, false, errMalformed
	}
	resp := rawResponse{status: status}
	length, chunked, keep := -1, false, true
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return rawResponse{}, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return rawResponse{}, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return rawResponse{}, false, errMalformed
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "Connection"):
			keep = !asciiEqualFold(value, "close")
		case want != "" && asciiEqualFold(name, want):
			resp.header = string(value)
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		if err := rc.readChunked(); err != nil {
			return rawResponse{}, false, err
		}
	case length >= 0:
		if cap(rc.body) < length {
			rc.body = make([]byte, 0, length)
		}
		rc.body = rc.body[:length]
		if _, err := io.ReadFull(rc.br, rc.body); err != nil {
			return rawResponse{}, false, err
		}
	case status == 204 || status == 304 || status < 200:
	default:
		return rawResponse{}, false, fmt.Errorf("HTTP %d response without a length", status)
	}
	resp.body = rc.body
	return resp, keep, nil
}

// readChunked reads a chunked body (RFC 9112 §7.1) into rc.body.
func (rc *rawConn) readChunked() error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseUint(string(bytes.TrimSpace(size)), 16, 31)
		if err != nil {
			return errMalformed
		}
		if n == 0 {
			for { // trailer section
				line, err := rc.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		start := len(rc.body)
		rc.body = append(rc.body, make([]byte, n)...)
		if _, err := io.ReadFull(rc.br, rc.body[start:]); err != nil {
			return err
		}
		if crlf, err := rc.br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return errMalformed
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
