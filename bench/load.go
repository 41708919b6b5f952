package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Stats summarizes one measured phase.
type Stats struct {
	Requests int           // completed operations in the measured window
	Errors   int           // of them, failed ones
	FirstErr string        // the first failure, for the report
	Elapsed  time.Duration // length of the measured window
	P50, P99 time.Duration // latency percentiles of the successful operations
}

// Throughput is successful operations per second.
func (s Stats) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests-s.Errors) / s.Elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// recorder collects one worker's samples.
type recorder struct {
	lat      []time.Duration
	n, errs  int
	firstErr string
}

func (r *recorder) add(d time.Duration, err error) {
	r.n++
	if err != nil {
		if r.errs == 0 {
			r.firstErr = err.Error()
		}
		r.errs++
		return
	}
	r.lat = append(r.lat, d)
}

func merge(recs []*recorder, elapsed time.Duration) Stats {
	var all []time.Duration
	st := Stats{Elapsed: elapsed}
	for _, r := range recs {
		all = append(all, r.lat...)
		st.Requests += r.n
		st.Errors += r.errs
		if st.FirstErr == "" {
			st.FirstErr = r.firstErr
		}
	}
	slices.Sort(all)
	st.P50 = percentile(all, 50)
	st.P99 = percentile(all, 99)
	return st
}

// closedLoop runs workers goroutines, each calling op back to back, for
// warmup and then for d. Only operations started after the warm-up and
// finished within d count. op gets the worker's index.
func closedLoop(ctx context.Context, workers int, warmup, d time.Duration, op func(ctx context.Context, worker int) error) Stats {
	recs := make([]*recorder, workers)
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+d)
	ctx, cancel := context.WithDeadline(ctx, until.Add(5*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		recs[w] = &recorder{lat: make([]time.Duration, 0, 4096)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := recs[w]
			for {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					return
				}
				err := op(ctx, w)
				t1 := time.Now()
				if t0.After(from) && !t1.After(until) {
					rec.add(t1.Sub(t0), err)
				}
			}
		}()
	}
	wg.Wait()
	return merge(recs, d)
}

// burst runs n operations at once, one per goroutine, and waits for all.
func burst(ctx context.Context, n int, op func(ctx context.Context, i int) error) Stats {
	recs := make([]*recorder, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = &recorder{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			err := op(ctx, i)
			recs[i].add(time.Since(t0), err)
		}()
	}
	wg.Wait()
	return merge(recs, time.Since(start))
}

// newHTTPClient returns a client that keeps up to conns connections to the
// server alive and opens no more. It follows no redirects and keeps no
// cookies: each request carries exactly the cookies it is given.
func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// statusError is an unexpected HTTP status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.path, e.status, e.body)
}
