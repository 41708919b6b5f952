package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0.5, 1}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%v of 1..100 = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one sample = %d", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %d", got)
	}
}

func TestMerge(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	a.add(3, nil)
	a.add(1, nil)
	b.add(2, nil)
	b.add(9, errTest)
	st := merge([]*recorder{a, b}, time.Second)
	if st.Requests != 4 || st.Errors != 1 || st.FirstErr != errTest.Error() {
		t.Fatalf("merge = %+v", st)
	}
	if st.P50 != 2 || st.P99 != 3 {
		t.Errorf("p50 %d p99 %d, want 2 and 3 (failures are not latencies)", st.P50, st.P99)
	}
	if st.Throughput() != 3 {
		t.Errorf("throughput %v, want 3 successes per second", st.Throughput())
	}
}

var errTest = &statusError{method: "GET", path: "/x", status: 500}

func TestRounded(t *testing.T) {
	res := &Results{Rows: []Row{{Value: 1234.5678, P50ms: 0.123456, Ratio: 0.349460, CPU: &CPUShare{Server: 1.08144}}}}
	r := rounded(res)
	if got := r.Rows[0]; got.Value != 1234.6 || got.P50ms != 0.123 || got.Ratio != 0.349 || got.CPU.Server != 1.08 {
		t.Errorf("rounded row %+v, cpu %+v", got, *got.CPU)
	}
	if res.Rows[0].Value != 1234.5678 || res.Rows[0].CPU.Server != 1.08144 {
		t.Error("rounding changed the original")
	}
}
