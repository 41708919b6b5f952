package login

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
	"mutualauth/store/memory"
	redisstore "mutualauth/store/redis"
	"mutualauth/store/redis/redistest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// backends runs f against every ephemeral store: in memory and Redis.
func backends(t *testing.T, f func(t *testing.T, kv store.KV)) {
	t.Run("memory", func(t *testing.T) {
		m := memory.New()
		t.Cleanup(func() { m.Close() })
		f(t, m)
	})
	t.Run("redis", func(t *testing.T) {
		opts, err := redis.ParseURL(redistest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		st := redisstore.NewFromClient(redis.NewClient(opts), redistest.NewPrefix())
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
}

func TestNext(t *testing.T) {
	second := []Step{StepOTP, StepWebAuthn, StepRecovery}
	pw := []Step{StepPassword}
	none := []Step{}
	cases := []struct {
		name string
		tx   Transaction
		want []Step
	}{
		{"recognized start", Transaction{UserID: "u", Recognized: true, DeviceID: "d"}, pw},
		{"recognized after password", Transaction{UserID: "u", Recognized: true, PasswordOK: true}, second},
		{"recognized complete", Transaction{UserID: "u", Recognized: true, PasswordOK: true, Second: MethodOTP}, none},
		{"unrecognized start", Transaction{UserID: "u"}, second},
		{"unrecognized after otp", Transaction{UserID: "u", Second: MethodOTP}, pw},
		{"unrecognized after webauthn", Transaction{UserID: "u", Second: MethodHardware}, pw},
		{"unrecognized complete", Transaction{UserID: "u", Second: MethodRecovery, PasswordOK: true}, none},
		{"unknown user start", Transaction{Username: "nobody"}, second},
		{"done", Transaction{UserID: "u", Done: true}, none},
		{"passkey-first start", Transaction{Passkey: true}, []Step{StepWebAuthn}},
		{"passkey-first without user verification", Transaction{Passkey: true, UserID: "u", Second: MethodHardware}, pw},
		{"passkey-first verified", Transaction{Passkey: true, UserID: "u", Second: MethodHardware, Verified: true}, none},
		{"username-first verified passkey", Transaction{UserID: "u", Second: MethodHardware, Verified: true}, none},
		{"codes barred after webauthn", Transaction{UserID: "u", CodesBarred: true, Second: MethodHardware}, pw},
	}
	// Where codes are barred, only the passkey is offered, but a code step
	// is still taken (to be refused as a whole).
	barred := Transaction{UserID: "u", CodesBarred: true}
	if got := barred.Next(); !slices.Equal(got, []Step{StepWebAuthn}) {
		t.Errorf("codes barred: next %v", got)
	}
	for _, s := range []Step{StepOTP, StepWebAuthn, StepRecovery} {
		if !barred.Allows(s) {
			t.Errorf("codes barred: Allows(%s) = false", s)
		}
	}
	if barred.Allows(StepPassword) {
		t.Error("codes barred: password allowed first")
	}
	for _, c := range cases {
		if c.tx.CodesBarred {
			continue
		}
		if got := c.tx.Next(); !slices.Equal(got, c.want) {
			t.Errorf("%s: next %v, want %v", c.name, got, c.want)
		}
		for _, s := range []Step{StepPassword, StepOTP, StepWebAuthn, StepRecovery} {
			if c.tx.Allows(s) != slices.Contains(c.want, s) {
				t.Errorf("%s: Allows(%s) = %v", c.name, s, c.tx.Allows(s))
			}
		}
	}
}

func TestSucceedAndPhrase(t *testing.T) {
	tx := Transaction{UserID: "u"}
	if tx.PhraseRevealed() {
		t.Fatal("phrase revealed before any factor on an unrecognized device")
	}
	tx = tx.Succeed(StepWebAuthn, false)
	if tx.Second != MethodHardware || !tx.PhraseRevealed() || tx.Complete() {
		t.Fatalf("after webauthn: %+v", tx)
	}
	tx = tx.Succeed(StepPassword, false)
	if !tx.Complete() {
		t.Fatalf("not complete: %+v", tx)
	}
	if got := tx.AMR(); !slices.Equal(got, []string{MethodPassword, MethodHardware, MethodMultiFactor}) {
		t.Fatalf("amr %v", got)
	}
	if (&Transaction{Recognized: true, UserID: "u"}).PhraseRevealed() != true {
		t.Fatal("recognized device does not reveal the phrase")
	}
	unknown := Transaction{Username: "x"}.Succeed(StepOTP, false)
	if unknown.PhraseRevealed() {
		t.Fatal("unknown user reveals a phrase")
	}
	// A relayable code never buys the phrase (v1.1 "Phrase honesty").
	for _, s := range []Step{StepOTP, StepRecovery} {
		if got := (Transaction{UserID: "u"}).Succeed(s, false); got.PhraseRevealed() {
			t.Fatalf("%s on an unrecognized device reveals the phrase", s)
		}
	}
	// A user-verified passkey completes alone.
	uv := Transaction{Passkey: true}.Identify("u", "alice").Succeed(StepWebAuthn, true)
	if !uv.Complete() || !uv.PhraseRevealed() || uv.Username != "alice" {
		t.Fatalf("verified passkey: %+v", uv)
	}
	if got := uv.AMR(); !slices.Equal(got, []string{MethodHardware, MethodMultiFactor}) {
		t.Fatalf("verified passkey amr %v", got)
	}
	if got := (Transaction{UserID: "u"}).Succeed(StepOTP, true); got.Complete() {
		t.Fatal("a code completes a login alone")
	}
}

func TestPolicy(t *testing.T) {
	unrec := &Transaction{UserID: "u"}
	rec := &Transaction{UserID: "u", Recognized: true, DeviceID: "d"}
	cases := []struct {
		p          Policy
		tx         *Transaction
		s          Step
		hasPasskey bool
		refuse     bool
	}{
		{PolicyPasskeyUsers, unrec, StepOTP, true, true},
		{PolicyPasskeyUsers, unrec, StepOTP, false, false},
		{PolicyPasskeyUsers, unrec, StepRecovery, true, false},
		{PolicyPasskeyUsers, rec, StepOTP, true, false},
		{PolicyAll, unrec, StepOTP, false, true},
		{PolicyAll, unrec, StepRecovery, false, true},
		{PolicyAll, rec, StepRecovery, true, false},
		{PolicyOff, unrec, StepOTP, true, false},
		{PolicyAll, unrec, StepWebAuthn, true, false},
	}
	for _, c := range cases {
		if got := c.p.RefusesRightCode(c.tx, c.s, c.hasPasskey); got != c.refuse {
			t.Errorf("%s %s recognized=%v passkey=%v: refuse %v, want %v", c.p, c.s, c.tx.Recognized, c.hasPasskey, got, c.refuse)
		}
	}
	if !PolicyAll.BarsCodes(unrec) || PolicyAll.BarsCodes(rec) || PolicyPasskeyUsers.BarsCodes(unrec) {
		t.Error("BarsCodes")
	}
}

func TestThrottleKey(t *testing.T) {
	stranger := Transaction{Username: "alice", UserID: "u1"}
	owner := Transaction{Username: "alice", UserID: "u1", Recognized: true, DeviceID: "dev1"}
	if stranger.ThrottleKey() != "thr:u:alice" || !stranger.PerUsername() {
		t.Fatalf("stranger key %q", stranger.ThrottleKey())
	}
	if owner.ThrottleKey() != "thr:d:dev1" || owner.PerUsername() {
		t.Fatalf("owner key %q", owner.ThrottleKey())
	}
}

func TestTransactions(t *testing.T) {
	backends(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		clk := newClock()
		txs := &Transactions{KV: kv, Now: clk.Now}
		tx, err := txs.Create(ctx, Transaction{Username: "alice", UserID: "u1", Audience: "http://x"})
		if err != nil {
			t.Fatal(err)
		}
		if !validID(tx.ID) || len(tx.ID) != 22 {
			t.Fatalf("id %q", tx.ID)
		}
		got, err := txs.Load(ctx, tx.ID)
		if err != nil || got.Username != "alice" || got.UserID != "u1" || !got.CreatedAt.Equal(tx.CreatedAt) {
			t.Fatalf("load: %+v %v", got, err)
		}
		for _, bad := range []string{"", "nope", tx.ID + "A", "login:" + tx.ID} {
			if _, err := txs.Load(ctx, bad); !errors.Is(err, ErrUnknown) {
				t.Errorf("Load(%q): %v", bad, err)
			}
		}

		moved, err := txs.Save(ctx, got.Succeed(StepOTP, false))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := txs.Save(ctx, got.Succeed(StepRecovery, false)); !errors.Is(err, ErrStale) {
			t.Fatalf("save over a changed transaction: %v", err)
		}
		again, _ := txs.Load(ctx, tx.ID)
		if again.Second != MethodOTP || !slices.Equal(again.Next(), []Step{StepPassword}) {
			t.Fatalf("after otp: %+v", again)
		}
		if err := txs.Finish(ctx, moved.Succeed(StepPassword, false)); err != nil {
			t.Fatal(err)
		}
		if _, err := txs.Load(ctx, tx.ID); !errors.Is(err, ErrUnknown) {
			t.Fatalf("done transaction loads: %v", err)
		}
		if err := txs.Finish(ctx, moved.Succeed(StepPassword, false)); err == nil {
			t.Fatal("finished twice")
		}

		old, _ := txs.Create(ctx, Transaction{Username: "bob"})
		clk.Advance(TTL - time.Second)
		if _, err := txs.Load(ctx, old.ID); err != nil {
			t.Fatalf("transaction gone before its TTL: %v", err)
		}
		clk.Advance(time.Second)
		if _, err := txs.Load(ctx, old.ID); !errors.Is(err, ErrUnknown) {
			t.Fatalf("expired transaction loads: %v", err)
		}
		if _, err := txs.Save(ctx, old); !errors.Is(err, ErrUnknown) {
			t.Fatalf("expired transaction saves: %v", err)
		}
	})
}

func TestFinishRace(t *testing.T) {
	backends(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		txs := &Transactions{KV: kv, Now: time.Now}
		tx, err := txs.Create(ctx, Transaction{Username: "alice", UserID: "u1", Second: MethodOTP})
		if err != nil {
			t.Fatal(err)
		}
		loaded := make([]Transaction, 20)
		for i := range loaded {
			if loaded[i], err = txs.Load(ctx, tx.ID); err != nil {
				t.Fatal(err)
			}
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range loaded {
			wg.Go(func() {
				err := txs.Finish(ctx, loaded[i].Succeed(StepPassword, false))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrStale), errors.Is(err, ErrUnknown):
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d finishers won, want exactly 1", wins.Load())
		}
	})
}

func TestDelay(t *testing.T) {
	want := map[int]time.Duration{
		0: 0, 1: 0, 4: 0, 5: 30 * time.Second, 6: time.Minute, 7: 2 * time.Minute,
		11: 32 * time.Minute, 12: time.Hour, 40: time.Hour, 100: time.Hour, 1 << 20: time.Hour,
	}
	for n, d := range want {
		if got := Delay(n); got != d {
			t.Errorf("Delay(%d) = %s, want %s", n, got, d)
		}
	}
}

func TestThrottleReserveRace(t *testing.T) {
	backends(t, func(t *testing.T, kv store.KV) {
		th := &Throttle{KV: kv, Now: time.Now}
		var evaluated, refused atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, err := th.Reserve(context.Background(), "thr:u:alice")
				var te *ThrottledError
				switch {
				case err == nil:
					evaluated.Add(1)
				case errors.As(err, &te) && errors.Is(err, ErrThrottled):
					if te.RetryAfter <= 0 || te.RetryAfter > BaseDelay {
						t.Errorf("retry after %s", te.RetryAfter)
					}
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if evaluated.Load() != FreeFailures || refused.Load() != 50-FreeFailures {
			t.Fatalf("%d evaluated, %d refused; want %d and %d", evaluated.Load(), refused.Load(), FreeFailures, 50-FreeFailures)
		}
	})
}

func TestThrottleBackoffAndReset(t *testing.T) {
	backends(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		clk := newClock()
		th := &Throttle{KV: kv, Now: clk.Now}
		key := "thr:d:dev1"
		for i := 1; i <= FreeFailures; i++ {
			n, err := th.Reserve(ctx, key)
			if err != nil || n != i {
				t.Fatalf("reservation %d: %d %v", i, n, err)
			}
		}
		var te *ThrottledError
		if _, err := th.Reserve(ctx, key); !errors.As(err, &te) || te.RetryAfter != BaseDelay {
			t.Fatalf("after %d failures: %v", FreeFailures, err)
		}
		clk.Advance(BaseDelay - time.Millisecond)
		if _, err := th.Reserve(ctx, key); !errors.As(err, &te) || te.RetryAfter != time.Millisecond {
			t.Fatalf("just before the delay ends: %v", err)
		}
		clk.Advance(time.Millisecond)
		if n, err := th.Reserve(ctx, key); err != nil || n != FreeFailures+1 {
			t.Fatalf("after the delay: %d %v", n, err)
		}
		if _, err := th.Reserve(ctx, key); !errors.As(err, &te) || te.RetryAfter != 2*BaseDelay {
			t.Fatalf("second delay: %v", err)
		}
		other, err := th.Reserve(ctx, "thr:u:alice")
		if err != nil || other != 1 {
			t.Fatalf("counters are not separate: %d %v", other, err)
		}
		if err := th.Reset(ctx, key); err != nil {
			t.Fatal(err)
		}
		if n, err := th.Reserve(ctx, key); err != nil || n != 1 {
			t.Fatalf("after reset: %d %v", n, err)
		}
	})
}

func TestRateLimiter(t *testing.T) {
	backends(t, func(t *testing.T, kv store.KV) {
		ctx := context.Background()
		const limit = 120 // a burst of 120, then one every 500 ms
		rl := &RateLimiter{KV: kv, Limit: limit}
		group := "begin-" + time.Now().Format("150405.000000000")
		for i := range limit {
			if err := rl.Allow(ctx, group, "192.0.2.1"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		var re *RateLimitedError
		err := rl.Allow(ctx, group, "192.0.2.1")
		if !errors.As(err, &re) || re.RetryAfter <= 0 || re.RetryAfter > time.Minute/limit {
			t.Fatalf("request over the limit: %v, want a wait of at most %s", err, time.Minute/limit)
		}
		if err := rl.Allow(ctx, group, "2001:db8::1"); err != nil {
			t.Fatalf("another IP: %v", err)
		}
		if err := rl.Allow(ctx, "other-"+group, "192.0.2.1"); err != nil {
			t.Fatalf("another group: %v", err)
		}
		// After the wait one request passes, not a fresh burst (a fixed
		// window would let another 120 through after its boundary).
		time.Sleep(re.RetryAfter + 20*time.Millisecond)
		if err := rl.Allow(ctx, group, "192.0.2.1"); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
		if err := rl.Allow(ctx, group, "192.0.2.1"); !errors.As(err, &re) {
			t.Fatalf("second request after the wait: %v, want refused", err)
		}
		off := &RateLimiter{KV: kv, Limit: 0}
		for range 10 {
			if err := off.Allow(ctx, group, "192.0.2.1"); err != nil {
				t.Fatalf("limit 0: %v", err)
			}
		}
	})
}
