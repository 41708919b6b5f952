package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/server/password"
	"mutualauth/store/redis/redistest"
)

// options are the command line.
type options struct {
	RedisURL    string
	DatabaseURL string
	Duration    time.Duration
	Warmup      time.Duration
	Conns       int
	Users       int
	Burst       int
	Out         string
	PerfDir     string
	Strict      bool
	Loadgen     string
	Phases      map[string]bool
	ServerEnv   []string
	LoginConc   int
	OIDCCodes   int // codes the OIDC code-exchange phase makes
}

// phase reports whether the run includes the named phase.
func (o options) phase(name string) bool { return len(o.Phases) == 0 || o.Phases[name] }

func main() {
	var o options
	flag.StringVar(&o.RedisURL, "redis-url", "", "Redis for the server and redis-benchmark (default: a throwaway redis-server started here)")
	flag.StringVar(&o.DatabaseURL, "database-url", "", "postgres:// URL for the server (default: SQLite in a fresh data dir)")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time of each load phase")
	flag.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured time before each load phase")
	flag.IntVar(&o.Conns, "conns", 32, "connections for verify, begin and redis-benchmark")
	flag.IntVar(&o.LoginConc, "login-conc", 0, "logins in flight in the full-login phase (default: 2 × cores)")
	flag.IntVar(&o.Users, "users", 0, "users to enroll (default: enough for the full-login phase and the burst)")
	flag.IntVar(&o.Burst, "burst", 256, "concurrent logins of the memory measurement")
	flag.StringVar(&o.Out, "out", filepath.Join("bench", "results.json"), "where to write the results as JSON (empty: nowhere)")
	flag.StringVar(&o.PerfDir, "perf", "", "record a perf(1) CPU profile of the server for each load phase into this directory (slows the run: figures are not comparable)")
	flag.BoolVar(&o.Strict, "strict", false, "exit 1 when a target does not hold")
	flag.StringVar(&o.Loadgen, "loadgen", "go", "load generator for verify and begin: go (built in) or wrk (wrk(1) must be installed)")
	phases := flag.String("phases", "login,memory,begin,verify,lag,oidc", "the load phases to run, comma-separated")
	bare := flag.String(bareFlag, "", "serve the bare net/http limit on this address instead of benchmarking (the bench runs itself so)")
	flag.IntVar(&o.OIDCCodes, "oidc-codes", 3000, "codes the OIDC code-exchange phase makes and exchanges")
	flag.Func("server-env", "NAME=value to add to the server's environment, e.g. GOGC=400 (repeatable)", func(v string) error {
		if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
			return fmt.Errorf("%q is not NAME=value", v)
		}
		o.ServerEnv = append(o.ServerEnv, v)
		return nil
	})
	flag.Parse()
	if *bare != "" {
		if err := serveBare(*bare); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.Duration <= 0 || o.Conns <= 0 || o.Burst < 0 {
		fmt.Fprintln(os.Stderr, "bench: -duration and -conns must be positive, -burst not negative")
		os.Exit(2)
	}
	if o.Loadgen != "go" && o.Loadgen != "wrk" {
		fmt.Fprintln(os.Stderr, "bench: -loadgen is go or wrk")
		os.Exit(2)
	}
	o.Phases = map[string]bool{}
	for _, ph := range strings.Split(*phases, ",") {
		switch ph = strings.TrimSpace(ph); ph {
		case "login", "memory", "begin", "verify", "lag", "oidc":
			o.Phases[ph] = true
		case "":
		default:
			fmt.Fprintf(os.Stderr, "bench: unknown phase %q (login, memory, begin, verify, lag, oidc)\n", ph)
			os.Exit(2)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, res)
	if o.Out != "" {
		err := writeJSON(o.Out, rounded(res))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: write results:", err)
			os.Exit(1)
		}
		fmt.Printf("\nresults written to %s\n", o.Out)
	}
	if o.Strict && !res.AllPass {
		os.Exit(1)
	}
}

// Results is everything one run measured; it is also the JSON written to -out.
type Results struct {
	Time     time.Time `json:"time"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Rows     []Row     `json:"rows"`
	Memory   Memory    `json:"memory"`
	Setup    Setup     `json:"setup"`
	AllPass  bool      `json:"all_targets_hold"`
	Notes    []string  `json:"notes,omitempty"`
}

type Machine struct {
	Cores        int       `json:"cores"`
	CPU          string    `json:"cpu"`
	Kernel       string    `json:"kernel"`
	Go           string    `json:"go"`
	Redis        string    `json:"redis"`
	Database     string    `json:"database"`
	SameMachine  string    `json:"load_generator"`
	RedisCommand string    `json:"redis_benchmark"`
	RedisRuns    []float64 `json:"redis_benchmark_runs"`
	LoadAvg      string    `json:"loadavg_at_start"`
}

type Settings struct {
	Duration       string   `json:"duration"`
	Warmup         string   `json:"warmup"`
	Conns          int      `json:"connections"`
	LoginWorkers   int      `json:"login_concurrency"`
	Burst          int      `json:"burst_logins"`
	HashSlots      int      `json:"hash_concurrency"`
	Loadgen        string   `json:"load_generator"`
	Argon2         string   `json:"argon2id"`
	IPRateLimitOff bool     `json:"ip_rate_limit_off"`
	ServerEnv      []string `json:"server_env,omitempty"`
}

// Row is one line of the table. Throughput is per second (for the memory
// row: MiB); latencies in milliseconds.
type Row struct {
	Name       string       `json:"name"`
	Value      float64      `json:"value"`
	Unit       string       `json:"unit"`
	P50ms      float64      `json:"p50_ms,omitempty"`
	P99ms      float64      `json:"p99_ms,omitempty"`
	Requests   int          `json:"requests,omitempty"`
	Errors     int          `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	Limit      string       `json:"limit,omitempty"`
	Ratio      float64      `json:"ratio,omitempty"`
	Target     string       `json:"target,omitempty"`
	Pass       *bool        `json:"pass,omitempty"`
	CPU        *CPUShare    `json:"cpu,omitempty"`
	Steps      *StepLatency `json:"login_steps,omitempty"`
}

type Memory struct {
	RSSBeforeMiB float64 `json:"rss_before_mib"`
	PeakMiB      float64 `json:"peak_mib"`
	BoundMiB     float64 `json:"bound_mib"`
	Unbounded    float64 `json:"without_semaphore_mib"`
	Logins       int     `json:"logins"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	Seconds      float64 `json:"seconds"`
	PeakReset    bool    `json:"peak_reset_before_burst"`
}

type Setup struct {
	Users          int     `json:"users"`
	EnrollSeconds  float64 `json:"enroll_seconds"`
	EnrollPerSec   float64 `json:"enroll_per_second"`
	StepWaitSecond float64 `json:"login_wait_for_totp_step_seconds"`
	TotalSeconds   float64 `json:"total_seconds"`
}

// writeJSON writes v indented, with <, > and & as they are.
func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// rounded returns a copy of res with its figures rounded to what the
// measurements can tell apart, for the JSON file.
func rounded(res *Results) *Results {
	r := *res
	r.Rows = slices.Clone(res.Rows)
	round := func(x float64, places int) float64 {
		p := math.Pow(10, float64(places))
		return math.Round(x*p) / p
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		row.Value = round(row.Value, 1)
		row.P50ms, row.P99ms, row.Ratio = round(row.P50ms, 3), round(row.P99ms, 3), round(row.Ratio, 3)
		if row.CPU != nil {
			c := *row.CPU
			c.Server, c.Redis, c.Load, c.Machine = round(c.Server, 2), round(c.Redis, 2), round(c.Load, 2), round(c.Machine, 2)
			row.CPU = &c
		}
		if row.Steps != nil {
			s := *row.Steps
			s.Begin, s.OTP, s.Password = round(s.Begin, 2), round(s.OTP, 2), round(s.Password, 2)
			row.Steps = &s
		}
	}
	m := &r.Memory
	m.RSSBeforeMiB, m.PeakMiB, m.BoundMiB, m.Unbounded, m.Seconds = round(m.RSSBeforeMiB, 1), round(m.PeakMiB, 1), round(m.BoundMiB, 1), round(m.Unbounded, 1), round(m.Seconds, 2)
	s := &r.Setup
	s.EnrollSeconds, s.EnrollPerSec, s.StepWaitSecond, s.TotalSeconds = round(s.EnrollSeconds, 1), round(s.EnrollPerSec, 1), round(s.StepWaitSecond, 1), round(s.TotalSeconds, 1)
	return &r
}

func mib(kB int64) float64 { return float64(kB) / 1024 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func run(ctx context.Context, o options, log io.Writer) (*Results, error) {
	started := time.Now()
	cores := runtime.NumCPU()
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "[%5.1fs] ", time.Since(started).Seconds())
		fmt.Fprintf(log, format+"\n", args...)
	}
	tmp, err := os.MkdirTemp("", "mutualauth-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	logf("building the server")
	bin, err := buildServer(ctx, tmp)
	if err != nil {
		return nil, err
	}

	redisURL := o.RedisURL
	if redisURL == "" {
		srv, err := redistest.Start()
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		redisURL = srv.URL()
		logf("started redis-server on %s", srv.Addr())
	}
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis-url: %w", err)
	}
	rc := redis.NewClient(ropt)
	defer rc.Close()

	res := &Results{Time: time.Now().UTC().Truncate(time.Second)}
	res.Machine = Machine{
		Cores: cores, CPU: cpuModel(), Kernel: kernel(), Go: runtime.Version(), LoadAvg: loadAvg(),
		Redis:    redisServerVersion(ctx, rc),
		Database: "SQLite in a fresh data dir",
		SameMachine: fmt.Sprintf("the load generator (%s) runs on the same %d cores as the server and Redis",
			loadgenName(o.Loadgen), cores),
	}
	if o.DatabaseURL != "" {
		res.Machine.Database = "PostgreSQL"
	}
	p := password.DefaultParams
	loginWorkers := 2 * cores
	if o.LoginConc > 0 {
		loginWorkers = o.LoginConc
	}
	hashSlots := cores // the server's default: MUTUALAUTH_HASH_CONCURRENCY unset
	for _, kv := range o.ServerEnv {
		if v, ok := strings.CutPrefix(kv, "MUTUALAUTH_HASH_CONCURRENCY="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				hashSlots = n
			}
		}
	}
	res.Settings = Settings{
		Duration: o.Duration.String(), Warmup: o.Warmup.String(), Conns: o.Conns,
		LoginWorkers: loginWorkers, Burst: o.Burst, HashSlots: hashSlots, Loadgen: o.Loadgen, ServerEnv: o.ServerEnv,
		Argon2:         fmt.Sprintf("m=%d KiB, t=%d, p=%d", p.Memory, p.Time, p.Threads),
		IPRateLimitOff: true,
	}

	// The limits, measured first while nothing else runs.
	logf("argon2id: timing 20 hashes at %s", res.Settings.Argon2)
	argon := argon2Ceiling(20)
	logf("ES256: timing the server's proof signature")
	sign, err := signCeiling(15)
	if err != nil {
		return nil, err
	}
	logf("argon2id: %d hashes at once", cores)
	argonPar := argon2Parallel(cores, 10)
	logf("redis-benchmark GET at %d connections, best of 3", o.Conns)
	rb, err := bestRedisBenchmark(ctx, redisURL, o.Conns, 200000, 3)
	if err != nil {
		return nil, err
	}
	res.Machine.RedisCommand, res.Machine.RedisRuns = rb.Command+" (best of 3)", rb.Runs
	res.Rows = append(res.Rows,
		Row{Name: "redis GET", Value: rb.RPS, Unit: "/s", P50ms: ms(rb.P50), P99ms: ms(rb.P99), Target: "limit (redis-benchmark, best of 3)"},
		Row{Name: "ES256 ceiling", Value: sign.PerSecond(), Unit: "/s", P50ms: ms(sign.Median), Target: fmt.Sprintf("limit: %d cores / one signature", cores)},
	)

	logf("starting the server")
	srv, err := startServer(ctx, bin, serverEnv{
		RedisURL: redisURL, DatabaseURL: o.DatabaseURL, DataDir: filepath.Join(tmp, "data"), Extra: o.ServerEnv,
	}, filepath.Join(tmp, "server.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	prof := &profiler{dir: o.PerfDir, pid: srv.pid(), log: logf}
	meter := &cpuMeter{serverPID: srv.pid(), redis: rc}
	var measureOn func(meter *cpuMeter, phase string, f func() (Stats, time.Duration)) (Stats, CPUShare)
	measure := func(phase string, f func() (Stats, time.Duration)) (Stats, CPUShare) {
		return measureOn(meter, phase, f)
	}
	measureOn = func(meter *cpuMeter, phase string, f func() (Stats, time.Duration)) (Stats, CPUShare) {
		stopProf := func() {}
		if meter.serverPID == srv.pid() {
			stopProf = prof.start(phase)
		}
		before := meter.sample(ctx)
		st, extLoad := f()
		after := meter.sample(ctx)
		stopProf()
		sh := share(before, after)
		if extLoad > 0 {
			sh.Load += extLoad.Seconds() / after.at.Sub(before.at).Seconds()
		}
		return st, sh
	}

	hc := newHTTPClient(max(o.Burst, loginWorkers))
	a := &api{base: srv.base, hc: hc}
	const cookieName = "mutualauth_session" // the public URL is http

	nUsers := o.Users
	if nUsers <= 0 {
		// Logins the run may need; each user gives about two per time step
		// with TOTP and ten with recovery codes. The burst needs a user
		// for each of its logins at once.
		logins := 4.0 + float64(o.Burst) // the lag phase's logins, the burst
		if o.phase("login") {
			logins += argon.PerSecond() * (o.Duration + o.Warmup).Seconds() * 1.5
		}
		nUsers = max(int(math.Ceil(logins/8)), o.Burst, o.Conns)
	}
	logf("enrolling %d users through the enrollment API, %d at a time", nUsers, loginWorkers)
	users, took, err := enrollAll(ctx, a, o.DatabaseURL, srv.dataDir, nUsers, loginWorkers)
	if err != nil {
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, srv.logTail(2048))
	}
	res.Setup = Setup{Users: nUsers, EnrollSeconds: took.Seconds(), EnrollPerSec: float64(nUsers) / took.Seconds()}
	pl := newPool(users)

	// One login gives the session that verify checks.
	verifyUser, recovery, err := pl.acquire(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := fullLogin(ctx, a, verifyUser, recovery, cookieName, nil)
	pl.release(verifyUser)
	if err != nil {
		return nil, fmt.Errorf("first login: %w\nserver log:\n%s", err, srv.logTail(2048))
	}

	var rowsOut []Row
	// (3) Full logins.
	if o.phase("login") {
		// Time the hash again now, and keep the faster median: anything else
		// running on the machine only slows hashing down, and the ceiling is
		// what the cores can do.
		if again := argon2Ceiling(20); again.Median < argon.Median {
			argon = again
		}
		// The same for N hashes at once, the limit the login figure is held
		// to: measured once at the start only, a slow moment there (the
		// machine's memory bandwidth is shared) would flatter the ratio.
		argonPar = max(argonPar, argon2Parallel(cores, 10))
		logf("full logins (begin, otp, password) at %d at a time for %v", loginWorkers, o.Duration)
		steps := &stepTimes{}
		st, cpu := measure("login", func() (Stats, time.Duration) {
			return closedLoop(ctx, loginWorkers, o.Warmup, o.Duration, func(ctx context.Context, _ int) error {
				_, err := poolLogin(ctx, a, pl, cookieName, steps)
				return err
			}), 0
		})
		res.Setup.StepWaitSecond = pl.waited.Seconds()
		r := statRow("full login", st, cpu)
		r.Limit, r.Ratio = fmt.Sprintf("argon2id ×%d", cores), r.Value/argonPar
		r.Target = fmt.Sprintf("≥ 0.85 × %d hashes at once", cores)
		sl := steps.medians()
		r.Steps = &sl
		r.Pass = passed(r.Ratio >= 0.85 && r.Errors == 0)
		rowsOut = append(rowsOut, r)
	}

	// Peak memory under a burst of concurrent logins.
	if o.phase("memory") && o.Burst > 0 {
		logf("memory: %d concurrent logins", o.Burst)
		m, err := measureMemory(ctx, srv.pid(), o.Burst, hashSlots, func(ctx context.Context) error {
			_, err := poolLogin(ctx, a, pl, cookieName, nil)
			return err
		})
		if err != nil {
			return nil, err
		}
		res.Memory = m
		if !m.PeakReset {
			res.Notes = append(res.Notes, "could not reset VmHWM (clear_refs): the peak covers the whole run")
		}
		r := Row{Name: fmt.Sprintf("peak RSS, %d logins", m.Logins), Value: m.PeakMiB, Unit: "MiB",
			Requests: m.Logins, Errors: m.Errors, FirstError: m.FirstError, Limit: "bound", Ratio: m.PeakMiB / m.BoundMiB,
			Target: fmt.Sprintf("≤ %.0f MiB (%.0f before)", m.BoundMiB, m.RSSBeforeMiB)}
		r.Pass = passed(m.PeakMiB <= m.BoundMiB && m.Errors == 0)
		rowsOut = append(rowsOut, r)
	}

	// (2) begin.
	if o.phase("begin") {
		logf("POST /api/v1/login/begin at %d connections for %v (%s)", o.Conns, o.Duration, loadgenName(o.Loadgen))
		url := srv.base + "/api/v1/login/begin"
		st, cpu := measure("begin", func() (Stats, time.Duration) {
			if o.Loadgen == "wrk" {
				names := make([]string, len(users))
				for i, u := range users {
					names[i] = u.Username
				}
				r, err := runWrk(ctx, tmp, url, wrkBeginScript(names), o.Conns, cores, o.Warmup, o.Duration)
				if err != nil {
					return Stats{Errors: 1, Requests: 1, FirstErr: err.Error(), Elapsed: o.Duration}, 0
				}
				return r.Stats, r.CPU
			}
			lc := newLoadClient(srv.host, o.Conns)
			defer lc.close()
			return closedLoop(ctx, o.Conns, o.Warmup, o.Duration, func(_ context.Context, w int) error {
				return lc.begin(w, users[w%len(users)].Username)
			}), 0
		})
		beginTarget := 5000 * float64(cores) / 2
		r := statRow("begin", st, cpu)
		r.Limit, r.Ratio = "ES256 ceiling", r.Value/sign.PerSecond()
		r.Target = fmt.Sprintf("≥ %.0f/s (5,000/s on two cores)", beginTarget)
		r.Pass = passed(r.Value >= beginTarget && r.Errors == 0)
		rowsOut = append(rowsOut, r)
	}

	// (1) verify: the bare net/http limit, verify with the session in the
	// client-side cache, and verify on an instance without the cache
	// (every verify reads Redis).
	if o.phase("verify") {
		cookie := sess.Name + "=" + sess.Value
		verifyLoad := func(phase, host, user string, pid int) (Stats, CPUShare) {
			return measureOn(&cpuMeter{serverPID: pid, redis: rc}, phase, func() (Stats, time.Duration) {
				if o.Loadgen == "wrk" {
					r, err := runWrk(ctx, tmp, "http://"+host+"/auth/verify", wrkVerifyScript(cookie), o.Conns, cores, o.Warmup, o.Duration)
					if err != nil {
						return Stats{Errors: 1, Requests: 1, FirstErr: err.Error(), Elapsed: o.Duration}, 0
					}
					return r.Stats, r.CPU
				}
				lc := newLoadClient(host, o.Conns)
				defer lc.close()
				req := lc.verifyRequest(cookie)
				return closedLoop(ctx, o.Conns, o.Warmup, o.Duration, func(_ context.Context, w int) error {
					return lc.verify(w, req, user)
				}), 0
			})
		}

		logf("bare net/http (a trivial handler, its own process) at %d connections for %v (%s)", o.Conns, o.Duration, loadgenName(o.Loadgen))
		bp, err := startBare(ctx)
		if err != nil {
			return nil, err
		}
		bst, bcpu := verifyLoad("bare", bp.host, "bare", bp.pid())
		bp.stop()
		bareRow := statRow("bare net/http", bst, bcpu)
		bareRow.Target = "limit (a trivial handler answering 200)"
		res.Rows = append(res.Rows, bareRow)

		logf("GET /auth/verify, session in the client-side cache, at %d connections for %v (%s)", o.Conns, o.Duration, loadgenName(o.Loadgen))
		st, cpu := verifyLoad("verify", srv.host, verifyUser.Username, srv.pid())
		r := statRow("verify", st, cpu)
		r.Limit, r.Ratio = "bare net/http", r.Value/bareRow.Value
		r.Target = "≥ 0.70 × bare net/http, p99 < 10 ms"
		r.Pass = passed(r.Ratio >= 0.7 && st.P99 < 10*time.Millisecond && r.Errors == 0)
		rowsOut = append(rowsOut, r)
		r2 := Row{Name: "verify vs redis GET", Value: r.Value, Unit: "/s", Limit: "redis GET", Ratio: r.Value / rb.RPS,
			Target: "≥ 0.50 × redis GET"}
		r2.Pass = passed(r2.Ratio >= 0.5 && r.Errors == 0)
		rowsOut = append(rowsOut, r2)

		logf("GET /auth/verify on an instance with client_cache=off at %d connections for %v", o.Conns, o.Duration)
		nc, err := startServer(ctx, bin, serverEnv{
			RedisURL: withQuery(redisURL, "client_cache=off"), DatabaseURL: o.DatabaseURL,
			DataDir: filepath.Join(tmp, "data-nocache"), Extra: o.ServerEnv,
		}, filepath.Join(tmp, "server-nocache.log"))
		if err != nil {
			return nil, err
		}
		st, cpu = verifyLoad("verify-nocache", nc.host, verifyUser.Username, nc.pid())
		nc.stop()
		r = statRow("verify, no cache", st, cpu)
		r.Limit, r.Ratio = "redis GET", r.Value/rb.RPS
		r.Target = "— (each verify reads Redis)"
		rowsOut = append(rowsOut, r)
	}

	// Revocation lag between two instances.
	if o.phase("lag") {
		const sessions = 20
		logf("revocation lag: %d logouts on instance A while instance B verifies the session", sessions)
		other, err := startServer(ctx, bin, serverEnv{
			RedisURL: redisURL, DatabaseURL: o.DatabaseURL, DataDir: filepath.Join(tmp, "data-b"), Extra: o.ServerEnv,
		}, filepath.Join(tmp, "server-b.log"))
		if err != nil {
			return nil, err
		}
		lag := revocationLag(ctx, a, pl, cookieName, srv.host, other.host, sessions)
		other.stop()
		r := Row{Name: "revocation lag A→B", Unit: "ms", Requests: lag.Sessions, Errors: lag.Errors, FirstError: lag.FirstError,
			Target: "≤ 100 ms on B, 0 stale answers on A"}
		if len(lag.Lag) > 0 {
			r.Value = ms(lag.Lag[len(lag.Lag)-1])
			r.P50ms, r.P99ms = ms(percentile(lag.Lag, 50)), ms(percentile(lag.Lag, 99))
		}
		r.Pass = passed(len(lag.Lag) == sessions && r.Value <= 100 && lag.StaleA == 0 && lag.Errors == 0)
		rowsOut = append(rowsOut, r)
		res.Notes = append(res.Notes, fmt.Sprintf("revocation: the value is the longest of %d lags (B answering 200 after A's logout returned); A answered 200 %d times to verifies sent after its own logout returned",
			len(lag.Lag), lag.StaleA))
	}
	// The OpenID Connect token endpoint (bench/oidc.go).
	if o.phase("oidc") {
		rows, err := oidcPhase(ctx, o, srv, sess, measure, logf)
		if err != nil {
			return nil, err
		}
		rowsOut = append(rowsOut, rows...)
	}
	srv.stop()
	res.Setup.TotalSeconds = time.Since(started).Seconds()

	res.Rows = append(res.Rows,
		Row{Name: "argon2id ceiling", Value: argon.PerSecond(), Unit: "/s", P50ms: ms(argon.Median),
			Target: fmt.Sprintf("limit: %d cores / one hash (median of 20)", cores)},
		Row{Name: fmt.Sprintf("argon2id, %d at once", cores), Value: argonPar, Unit: "/s", Limit: "argon2id ceiling",
			Ratio: argonPar / argon.PerSecond(), Target: "what the cores give hashing in parallel"},
	)
	// Measured rows first, in the order of DESIGN.md, then the limits.
	order := map[string]int{"verify": 0, "verify vs redis GET": 1, "verify, no cache": 2, "revocation lag A→B": 3, "begin": 4, "full login": 5}
	slices.SortStableFunc(rowsOut, func(a, b Row) int { return rank(order, a.Name) - rank(order, b.Name) })
	res.Rows = append(rowsOut, res.Rows...)
	res.AllPass = true
	for _, r := range res.Rows {
		if r.Pass != nil && !*r.Pass {
			res.AllPass = false
		}
	}
	if pl.waited > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("logins waited %.1fs in all for a user to log in with (too few users): the login figure may be low", pl.waited.Seconds()))
	}
	if pl.recovered > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d logins used a recovery code instead of TOTP (no user had a fresh TOTP step)", pl.recovered, pl.handout))
	}
	if o.PerfDir != "" {
		res.Notes = append(res.Notes, "perf recorded the server during the load phases: the figures include its overhead")
	}
	return res, nil
}

// withQuery adds a query parameter to a URL.
func withQuery(url, param string) string {
	if strings.Contains(url, "?") {
		return url + "&" + param
	}
	return url + "?" + param
}

func rank(order map[string]int, name string) int {
	if r, ok := order[name]; ok {
		return r
	}
	return len(order)
}

func passed(b bool) *bool { return &b }

func statRow(name string, s Stats, cpu CPUShare) Row {
	return Row{Name: name, Value: s.Throughput(), Unit: "/s", P50ms: ms(s.P50), P99ms: ms(s.P99),
		Requests: s.Requests, Errors: s.Errors, FirstError: s.FirstErr, CPU: &cpu}
}

// measureMemory runs n logins at once and reads the server's resident set
// before (VmRSS) and its peak after (VmHWM, reset first where the kernel
// allows).
func measureMemory(ctx context.Context, pid, n, hashSlots int, login func(context.Context) error) (Memory, error) {
	before, err := procStatus(pid)
	if err != nil {
		return Memory{}, err
	}
	reset := resetPeakRSS(pid) == nil
	if reset {
		if before, err = procStatus(pid); err != nil {
			return Memory{}, err
		}
	}
	st := burst(ctx, n, func(ctx context.Context, _ int) error { return login(ctx) })
	after, err := procStatus(pid)
	if err != nil {
		return Memory{}, err
	}
	slotMiB := float64(password.DefaultParams.Memory) / 1024
	rss := mib(before["VmRSS"])
	return Memory{
		RSSBeforeMiB: rss, PeakMiB: mib(after["VmHWM"]),
		// Each running hash holds m KiB; the garbage collector (GOGC=100)
		// lets the heap grow to twice what is live before it collects.
		BoundMiB:  rss + 2*float64(hashSlots)*slotMiB + 64,
		Unbounded: rss + float64(n)*slotMiB,
		Logins:    st.Requests, Errors: st.Errors, FirstError: st.FirstErr,
		Seconds: st.Elapsed.Seconds(), PeakReset: reset,
	}, nil
}

func loadgenName(kind string) string {
	if kind == "wrk" {
		return "wrk"
	}
	return "Go, in this process"
}

func printTable(w io.Writer, res *Results) {
	m := res.Machine
	fmt.Fprintf(w, "\nmutualauth benchmark, %s\n", res.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d cores, %s, %s, Go %s, Redis %s, %s\n", m.Cores, m.CPU, m.Kernel, m.Go, m.Redis, m.Database)
	fmt.Fprintf(w, "%s; load average before the run: %s\n\n", m.SameMachine, m.LoadAvg)
	fmt.Fprintf(w, "%-22s %14s %9s %9s %7s  %-17s %6s  %-34s %s\n",
		"measure", "value", "p50", "p99", "errors", "limit", "ratio", "target", "result")
	fmt.Fprintln(w, strings.Repeat("-", 136))
	for _, r := range res.Rows {
		val := fmt.Sprintf("%.0f %s", r.Value, r.Unit)
		if r.Unit == "MiB" || r.Unit == "ms" {
			val = fmt.Sprintf("%.1f %s", r.Value, r.Unit)
		}
		lat := func(v float64) string {
			if v == 0 && r.Unit != "ms" {
				return "—"
			}
			return fmt.Sprintf("%.2f ms", v)
		}
		ratio, limit, result, errs := "—", r.Limit, "—", "—"
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if limit == "" {
			limit = "—"
		}
		if r.Pass != nil {
			errs = fmt.Sprint(r.Errors)
			result = "PASS"
			if !*r.Pass {
				result = "FAIL"
			}
		}
		fmt.Fprintf(w, "%-22s %14s %9s %9s %7s  %-17s %6s  %-34s %s\n",
			r.Name, val, lat(r.P50ms), lat(r.P99ms), errs, limit, ratio, r.Target, result)
	}
	fmt.Fprintln(w)
	s := res.Setup
	fmt.Fprintf(w, "setup: %d users enrolled in %.1fs (%.1f/s); run took %.0fs\n", s.Users, s.EnrollSeconds, s.EnrollPerSec, s.TotalSeconds)
	if mem := res.Memory; mem.Logins > 0 {
		fmt.Fprintf(w, "memory: VmRSS %.1f MiB before, VmHWM %.1f MiB after %d concurrent logins (%.1fs); without the hash semaphore the hashes alone would need %.0f MiB\n",
			mem.RSSBeforeMiB, mem.PeakMiB, mem.Logins, mem.Seconds, mem.Unbounded)
	}
	for _, r := range res.Rows {
		if r.Steps != nil {
			fmt.Fprintf(w, "login steps, median: begin %.1f ms, otp %.1f ms, password %.1f ms (the hash waits for one of %d slots)\n",
				r.Steps.Begin, r.Steps.OTP, r.Steps.Password, res.Settings.HashSlots)
		}
	}
	for _, r := range res.Rows {
		if r.CPU != nil {
			fmt.Fprintf(w, "cpu during %s: %s\n", r.Name, r.CPU)
		}
	}
	for _, r := range res.Rows {
		if r.FirstError != "" {
			fmt.Fprintf(w, "first error of %s: %s\n", r.Name, r.FirstError)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg is the first three fields of /proc/loadavg: how busy the machine
// was before the run (other work on it shows in every figure).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return "Linux " + strings.TrimSpace(string(b))
}

// redisServerVersion asks Redis (INFO server).
func redisServerVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return redisVersion(ctx)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return redisVersion(ctx)
}
