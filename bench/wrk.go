package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkRun is one run of wrk(1), the C load generator, with --latency.
type wrkRun struct {
	Stats
	CPU time.Duration // wrk's own user + system time
}

// runWrk runs wrk with the Lua script (may be empty) for d after a warm-up
// run of warmup, both at conns connections over threads threads.
func runWrk(ctx context.Context, dir, url, script string, conns, threads int, warmup, d time.Duration) (wrkRun, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "--latency", "--timeout", "10s"}
	if script != "" {
		path := filepath.Join(dir, "wrk.lua")
		if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
			return wrkRun{}, err
		}
		args = append(args, "-s", path)
	}
	run := func(d time.Duration) (wrkRun, error) {
		secs := max(1, int((d+time.Second-1)/time.Second))
		cmd := exec.CommandContext(ctx, "wrk", append(args, "-d", strconv.Itoa(secs)+"s", url)...)
		out, err := cmd.Output()
		if err != nil {
			return wrkRun{}, fmt.Errorf("wrk: %w\n%s", err, out)
		}
		st, err := parseWrk(string(out))
		if err != nil {
			return wrkRun{}, err
		}
		st.Elapsed = time.Duration(secs) * time.Second
		r := wrkRun{Stats: st}
		if ps := cmd.ProcessState; ps != nil {
			r.CPU = ps.UserTime() + ps.SystemTime()
		}
		return r, nil
	}
	if warmup > 0 {
		if _, err := run(warmup); err != nil {
			return wrkRun{}, err
		}
	}
	return run(d)
}

var (
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m)`)
	wrkPct     = regexp.MustCompile(`^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrkDuration(num, unit string) time.Duration {
	f, _ := strconv.ParseFloat(num, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "m":
		return time.Duration(f * float64(time.Minute))
	default:
		return time.Duration(f * float64(time.Second))
	}
}

// parseWrk reads wrk --latency output. wrk counts non-2xx/3xx answers and
// socket errors apart from the requests; both are errors here.
func parseWrk(out string) (Stats, error) {
	var st Stats
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkTotal.FindStringSubmatch(line); m != nil {
			st.Requests, _ = strconv.Atoi(m[1])
			found = true
		}
		if m := wrkPct.FindStringSubmatch(line); m != nil {
			d := wrkDuration(m[2], m[3])
			if m[1] == "50" {
				st.P50 = d
			} else {
				st.P99 = d
			}
		}
		if m := wrkNon2xx.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			st.Errors += n
			st.FirstErr = "wrk: " + strings.TrimSpace(line)
		}
		if m := wrkSockErr.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.Atoi(s)
				st.Errors += n
			}
			if st.FirstErr == "" {
				st.FirstErr = "wrk: " + strings.TrimSpace(line)
			}
		}
	}
	if !found {
		return Stats{}, fmt.Errorf("wrk printed no request count:\n%s", out)
	}
	return st, nil
}

// wrkVerifyScript sends the session cookie with every request.
func wrkVerifyScript(cookie string) string {
	return fmt.Sprintf("wrk.headers[\"Cookie\"] = %q\n", cookie)
}

// wrkBeginScript posts begin for the users in turn, each time with a new
// 32-byte client_nonce. Lua's math.random is not a secure source; a
// nonce's only job here is to be fresh, and the server does not care how
// it was made.
func wrkBeginScript(usernames []string) string {
	var b strings.Builder
	b.WriteString("local users = {")
	for i, u := range usernames {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q", u)
	}
	b.WriteString(`}
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
-- 43 characters carry 258 bits; the last one's low 2 bits must be zero.
local last = "AEIMQUYcgkosw048"
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  i = i + 1
  local n = {}
  for k = 1, 42 do
    local r = math.random(1, 64)
    n[k] = alphabet:sub(r, r)
  end
  local r = math.random(1, 16)
  n[43] = last:sub(r, r)
  local body = '{"username":"' .. users[(i % #users) + 1] .. '","client_nonce":"' .. table.concat(n) .. '"}'
  return wrk.format(nil, nil, nil, body)
end
`)
	return b.String()
}
