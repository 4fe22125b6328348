package lease

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
)

// TestMain stops the PostgreSQL server the tests may have started.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// hang bounds every wait, to turn a hang into a failure.
const hang = 30 * time.Second

// contender is one Lease running in the background, with a record of
// what happened to it.
type contender struct {
	l       *Lease
	gained  chan struct{} // a value each time its leader function starts
	stopped chan struct{} // a value each time its leader function returns
	refused chan struct{} // a value each time the lock was held elsewhere
	done    chan error    // Run's result
	exited  chan struct{} // closed once Run returned
	cancel  context.CancelFunc
	fail    chan error // what the leader function returns when sent a value
}

// logTap is a slog.Handler that signals "lease held elsewhere".
type logTap struct{ refused chan struct{} }

func (h logTap) Enabled(context.Context, slog.Level) bool { return true }
func (h logTap) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "lease held elsewhere" {
		select {
		case h.refused <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h logTap) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logTap) WithGroup(string) slog.Handler      { return h }

// contend starts a Lease on url that tries every retry; it is stopped at
// the end of the test.
func contend(t *testing.T, url string, retry time.Duration) *contender {
	t.Helper()
	c := &contender{gained: make(chan struct{}, 8), stopped: make(chan struct{}, 8), refused: make(chan struct{}, 1),
		done: make(chan error, 1), exited: make(chan struct{}), fail: make(chan error, 1)}
	var err error
	c.l, err = New(Config{URL: url, Name: "test", Retry: retry, Check: 20 * time.Millisecond,
		Logger: slog.New(logTap{refused: c.refused})})
	if err != nil {
		t.Fatalf("New: have %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.exited)
		c.done <- c.l.Run(ctx, func(ctx context.Context) error {
			c.gained <- struct{}{}
			defer func() { c.stopped <- struct{}{} }()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-c.fail:
				return err
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-c.exited })
	return c
}

// await fails the test unless ch yields within hang.
func await(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hang):
		t.Fatalf("%s: nothing within %v", what, hang)
	}
}

// refusedSeveral waits until c was refused the lock three times.
func refusedSeveral(t *testing.T, c *contender) {
	t.Helper()
	for range 3 {
		await(t, "refused", c.refused)
	}
}

// guardErr runs c's Guard in a transaction on pool.
func guardErr(t *testing.T, pool *pgxpool.Pool, c *contender) error {
	t.Helper()
	return pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error { return c.l.Guard(context.Background(), tx) })
}

// TestLease runs two processes' worth of Leases on one database through
// the ways a leader goes: it stops, its connection is killed, its leader
// function fails. Each time exactly one holds the lease, and the other
// takes over.
func TestLease(t *testing.T) {
	tests := []struct {
		name string
		// depose ends a's leadership and reports whether a's Run must
		// return an error.
		depose  func(t *testing.T, pool *pgxpool.Pool, a *contender)
		wantErr error
		runsOn  bool // a's Run keeps running (a becomes a follower)
	}{
		{"leader stops", func(t *testing.T, _ *pgxpool.Pool, a *contender) { a.cancel() }, context.Canceled, false},
		{"leader's connection killed", func(t *testing.T, pool *pgxpool.Pool, a *contender) {
			t.Helper()
			var n int
			err := pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE pid = $1`, int64(a.l.held.Load().pid)).Scan(&n)
			if err != nil || n != 1 {
				t.Fatalf("terminate the leader's session: have %d, %v; want 1, nil", n, err)
			}
		}, nil, true},
		{"leader function fails", func(t *testing.T, _ *pgxpool.Pool, a *contender) { a.fail <- errLeaderTest }, errLeaderTest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := storetest.PostgresDB(t)
			pool, err := pgxpool.New(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()

			// a, once deposed, waits far longer than b before trying
			// again, so that b is the one that takes over.
			a := contend(t, url, 2*time.Second)
			await(t, "a gains", a.gained)
			if err := guardErr(t, pool, a); err != nil {
				t.Fatalf("a's Guard while it leads: have %v, want nil", err)
			}
			b := contend(t, url, 20*time.Millisecond)
			refusedSeveral(t, b)
			if len(b.gained) != 0 || b.l.Held() {
				t.Fatalf("b leads while a holds the lease")
			}
			if err := guardErr(t, pool, b); !errors.Is(err, ErrNotHeld) {
				t.Fatalf("b's Guard while a leads: have %v, want %v", err, ErrNotHeld)
			}

			tt.depose(t, pool, a)
			await(t, "a's leader function returns", a.stopped)
			await(t, "b gains", b.gained)
			if err := guardErr(t, pool, a); !errors.Is(err, ErrNotHeld) {
				t.Fatalf("a's Guard after it lost the lease: have %v, want %v", err, ErrNotHeld)
			}
			if err := guardErr(t, pool, b); err != nil {
				t.Fatalf("b's Guard once it leads: have %v, want nil", err)
			}
			if tt.runsOn {
				await(t, "a refused", a.refused)
				if len(a.gained) != 0 {
					t.Fatalf("a regained the lease while b holds it")
				}
				return
			}
			select {
			case err := <-a.done:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("a's Run: have %v, want %v", err, tt.wantErr)
				}
			case <-time.After(hang):
				t.Fatalf("a's Run did not return")
			}
		})
	}
}

// errLeaderTest is the failure of a leader function in TestLease.
var errLeaderTest = errors.New("leader failed")
