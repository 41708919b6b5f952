package main

import (
	"testing"
	"time"
)

func TestParseRedisBenchmarkCSV(t *testing.T) {
	out := "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n" +
		"\"GET\",\"59701.50\",\"0.361\",\"0.040\",\"0.239\",\"0.551\",\"3.295\",\"35.359\"\n"
	rb, err := parseRedisBenchmarkCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if rb.RPS != 59701.50 || rb.P50 != 239*time.Microsecond || rb.P99 != 3295*time.Microsecond {
		t.Errorf("parsed %+v", rb)
	}

	old, err := parseRedisBenchmarkCSV("\"SET\",\"1000.00\"\n\"GET\",\"1234.50\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if old.RPS != 1234.5 || old.P50 != 0 {
		t.Errorf("parsed headerless output as %+v", old)
	}

	if _, err := parseRedisBenchmarkCSV("\"SET\",\"1000.00\"\n"); err == nil {
		t.Error("no GET row: no error")
	}
}

func TestParseProcStatus(t *testing.T) {
	m := parseProcStatus([]byte("Name:\tmutualauth\nVmHWM:\t  81234 kB\nVmRSS:\t   40000 kB\nThreads:\t9\n"))
	if m["VmHWM"] != 81234 || m["VmRSS"] != 40000 {
		t.Errorf("parsed %v", m)
	}
	if _, ok := m["Threads"]; ok {
		t.Error("a field without kB was read as a size")
	}
}

func TestCeiling(t *testing.T) {
	c := ceiling{Median: 50 * time.Millisecond, Cores: 2}
	if got := c.PerSecond(); got != 40 {
		t.Errorf("2 cores / 50 ms = %v, want 40", got)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// utime 250, stime 50 ticks; children 7 and 9 ticks are not counted.
	stat := "4242 (mutual auth) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 7 9 20 0 12 0 100 0 0"
	d, err := parseProcStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if d != 3*time.Second {
		t.Errorf("CPU time %v, want 3s", d)
	}
	if _, err := parseProcStatCPU("4242 (x) S 1"); err == nil {
		t.Error("short stat: no error")
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:8080/auth/verify
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  506.23us  12.01ms   78.12%
    Req/Sec    14.71k     1.02k   17.10k    71.50%
  Latency Distribution
     50%    1.02ms
     75%    1.30ms
     90%    1.66ms
     99%    2.95ms
  292740 requests in 10.00s, 88.45MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  29262.78
Transfer/sec:      8.84MB
`
	st, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 292740 || st.Errors != 12 || st.P50 != 1020*time.Microsecond || st.P99 != 2950*time.Microsecond {
		t.Errorf("parsed %+v", st)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("no request count: no error")
	}
}

func TestParseProcStatBusy(t *testing.T) {
	// 100 user, 10 nice, 40 system, 500 idle, 20 iowait, 5 irq, 15 softirq, 10 steal.
	m, err := parseProcStat("cpu  100 10 40 500 20 5 15 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.busy != 1800*time.Millisecond || m.iowait != 200*time.Millisecond || m.steal != 100*time.Millisecond {
		t.Errorf("busy %v, iowait %v, steal %v; want 1.8s, 200ms, 100ms", m.busy, m.iowait, m.steal)
	}
}
