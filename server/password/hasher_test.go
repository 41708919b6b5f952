package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastParams keep the tests quick; DefaultParams are exercised where the
// parameters matter.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func newTestHasher(t testing.TB, p Params, concurrency int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashFormatDefaultParams(t *testing.T) {
	h := newTestHasher(t, DefaultParams, 0)
	phc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC string %q has the wrong prefix", phc)
	}
	fields := strings.Split(phc, "$")
	if len(fields) != 6 {
		t.Fatalf("PHC string %q has %d fields", phc, len(fields))
	}
	salt, err := phcBase64.DecodeString(fields[4])
	if err != nil || len(salt) != 16 {
		t.Errorf("salt %q: %d bytes, %v", fields[4], len(salt), err)
	}
	key, err := phcBase64.DecodeString(fields[5])
	if err != nil || len(key) != 32 {
		t.Errorf("hash %q: %d bytes, %v", fields[5], len(key), err)
	}
	if strings.Count(phc, "=") != 4 {
		t.Errorf("PHC string %q has base64 padding", phc)
	}
	ok, rehash, err := h.Verify(context.Background(), phc, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := newTestHasher(t, fastParams, 2)
	ctx := context.Background()
	for _, pw := range []string{"", "a", "correct horse battery staple", "пароль-密码-🔑🔑", strings.Repeat("x", 1000)} {
		phc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash, err := h.Verify(ctx, phc, pw)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v", pw, ok, rehash, err)
		}
		ok, _, err = h.Verify(ctx, phc, pw+"!")
		if err != nil || ok {
			t.Errorf("Verify of a wrong password for %q = %v, %v", pw, ok, err)
		}
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	a, _ := h.Hash(context.Background(), "same password")
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Error("two hashes of one password are equal")
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	phc, err := h.Hash(context.Background(), "Tr0ub4dor&3-horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"tr0ub4dor&3-horse", "Tr0ub4dor&3-hors", "Tr0ub4dor&3-horse ", ""} {
		ok, rehash, err := h.Verify(context.Background(), phc, wrong)
		if ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v", wrong, ok, rehash, err)
		}
	}
}

func TestVerifyAcrossParams(t *testing.T) {
	old := newTestHasher(t, fastParams, 1)
	phc, err := old.Hash(context.Background(), "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]Params{
		"memory":  {Memory: 128, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16},
		"time":    {Memory: 64, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16},
		"threads": {Memory: 64, Time: 1, Threads: 2, KeyLen: 32, SaltLen: 16},
		"key len": {Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 16},
		"salt":    {Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 32},
	}
	for name, p := range variants {
		t.Run(name, func(t *testing.T) {
			h := newTestHasher(t, p, 1)
			ok, rehash, err := h.Verify(context.Background(), phc, "a long enough password")
			if err != nil || !ok || !rehash {
				t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(context.Background(), phc, "another password")
			if err != nil || ok || rehash {
				t.Errorf("wrong password: Verify = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	good, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$")
	salt, key := f[4], f[5]
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	cases := []string{
		"",
		"$",
		"argon2id",
		good + "$",
		"x" + good,
		strings.TrimPrefix(good, "$"),
		join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, key),
		join("", "argon2d", "v=19", "m=64,t=1,p=1", salt, key),
		join("", "ARGON2ID", "v=19", "m=64,t=1,p=1", salt, key),
		"$2b$12$abcdefghijklmnopqrstuuOMTu8Zs9mFgdKp2wZUTlI3jNKWmCYGK",
		join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, key),
		join("", "argon2id", "m=64,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1,k=1", salt, key),
		join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, key),
		join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=-64,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64 ,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, key),
		join("", "argon2id", "v=19", "m=7,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=9", salt, key),
		join("", "argon2id", "v=19", "m=4294967295,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=99999999999999999999,t=1,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=4294967295,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=11,p=1", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=255", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=256", salt, key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"=", key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key+"=="),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", "", key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, ""),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "c2hvcnQ"),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, strings.Repeat("A", 88)),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!!!!!!!!!!!!!!!!!!!!", key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", strings.ReplaceAll(salt, salt[:1], "-"), key),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key[:len(key)-1]+"B"),
		join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key, ""),
		strings.Repeat("$", 100000),
	}
	for _, phc := range cases {
		ok, rehash, err := h.Verify(context.Background(), phc, "pw")
		if !errors.Is(err, ErrMalformedHash) || ok || rehash {
			t.Errorf("Verify(%.80q) = %v, %v, %v; want ErrMalformedHash", phc, ok, rehash, err)
		}
	}
}

func FuzzVerifyNoPanic(f *testing.F) {
	h := newTestHasher(f, fastParams, 1)
	good, _ := h.Hash(context.Background(), "pw")
	f.Add(good)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, phc string) {
		ok, _, err := h.Verify(context.Background(), phc, "pw")
		if ok && err != nil {
			t.Fatal("ok with an error")
		}
	})
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	bad := map[string]Params{
		"zero":         {},
		"no time":      {Memory: 64, Time: 0, Threads: 1, KeyLen: 32, SaltLen: 16},
		"no threads":   {Memory: 64, Time: 1, Threads: 0, KeyLen: 32, SaltLen: 16},
		"memory < 8p":  {Memory: 15, Time: 1, Threads: 2, KeyLen: 32, SaltLen: 16},
		"huge memory":  {Memory: MaxMemory + 1, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16},
		"huge time":    {Memory: 64, Time: MaxTime + 1, Threads: 1, KeyLen: 32, SaltLen: 16},
		"short key":    {Memory: 64, Time: 1, Threads: 1, KeyLen: 8, SaltLen: 16},
		"short salt":   {Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 8},
		"long salt":    {Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 65},
		"many threads": {Memory: 1024, Time: 1, Threads: MaxThreads + 1, KeyLen: 32, SaltLen: 16},
	}
	for name, p := range bad {
		if _, err := NewHasher(p, 1); err == nil {
			t.Errorf("%s: NewHasher accepted %+v", name, p)
		}
	}
}

func TestNewHasherDefaultConcurrency(t *testing.T) {
	h := newTestHasher(t, fastParams, 0)
	if cap(h.sem) < 1 {
		t.Fatalf("semaphore capacity %d", cap(h.sem))
	}
	h = newTestHasher(t, fastParams, 3)
	if cap(h.sem) != 3 {
		t.Fatalf("semaphore capacity %d, want 3", cap(h.sem))
	}
}

func TestSemaphoreBoundsConcurrency(t *testing.T) {
	const limit, n = 2, 8
	h := newTestHasher(t, fastParams, limit)
	var running, peak, started atomic.Int32
	release := make(chan struct{})
	h.hook = func(ev hookEvent) {
		switch ev {
		case hookStart:
			now := running.Add(1)
			started.Add(1)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			<-release
		case hookEnd:
			running.Add(-1)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.Hash(context.Background(), fmt.Sprint("pw", i)); err != nil {
				errs <- err
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for started.Load() < limit && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Give a broken semaphore the chance to let more in before releasing.
	time.Sleep(50 * time.Millisecond)
	if got := started.Load(); got != limit {
		t.Errorf("%d derivations started while %d held their slots, want %d", got, limit, limit)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("peak of %d derivations at once, limit %d", p, limit)
	}
	if got := started.Load(); got != n {
		t.Errorf("%d derivations ran, want %d", got, n)
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	holding := make(chan struct{})
	release := make(chan struct{})
	waiting := make(chan struct{}, 4)
	var once sync.Once
	h.hook = func(ev hookEvent) {
		switch ev {
		case hookWait:
			waiting <- struct{}{}
		case hookStart:
			once.Do(func() {
				close(holding)
				<-release
			})
		}
	}
	firstDone := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "first")
		firstDone <- err
	}()
	<-holding
	<-waiting // the first one's wait

	ctx, cancel := context.WithCancel(context.Background())
	secondDone := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ", "x")
		secondDone <- err
	}()
	<-waiting // the second is now queued behind the first
	cancel()
	if err := <-secondDone; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Verify returned %v, want context.Canceled", err)
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Errorf("first Hash: %v", err)
	}
	// The slot was given back: another hash runs.
	if _, err := h.Hash(context.Background(), "third"); err != nil {
		t.Errorf("hash after cancellation: %v", err)
	}
}

func TestCancelledContextBeforeStart(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash: %v", err)
	}
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy: %v", err)
	}
}

func TestVerifyDummyDoesRealWork(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	var derivations atomic.Int32
	h.hook = func(ev hookEvent) {
		if ev == hookStart {
			derivations.Add(1)
		}
	}
	if err := h.VerifyDummy(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
	if derivations.Load() != 1 {
		t.Fatalf("VerifyDummy ran %d derivations, want 1", derivations.Load())
	}
	p, _, _, err := parsePHC(h.dummy)
	if err != nil {
		t.Fatal(err)
	}
	if p != h.params {
		t.Errorf("dummy hash params %+v differ from the hasher's %+v", p, h.params)
	}
}

func BenchmarkHash(b *testing.B) {
	h := newTestHasher(b, DefaultParams, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newTestHasher(b, DefaultParams, 0)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, phc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	h := newTestHasher(b, DefaultParams, 0)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(ctx, phc, "correct horse battery staple"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
