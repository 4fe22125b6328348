package pgstore_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// backend is a fresh database reached through pgstore handles.
func backend(t *testing.T) *storetest.Backend {
	url := storetest.PostgresDB(t)
	return &storetest.Backend{Durable: true, Open: func() (bridge.ClosableStore, error) {
		return pgstore.Open(context.Background(), url)
	}}
}

// TestConformance runs the Store conformance suite on PostgreSQL.
func TestConformance(t *testing.T) { storetest.Run(t, backend) }

// TestConcurrentOpen starts many stores at once on a fresh database:
// every one opens, and each migration is recorded once.
func TestConcurrentOpen(t *testing.T) {
	const n = 8
	url := storetest.PostgresDB(t)
	ctx := t.Context()
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = pgstore.Open(ctx, url)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: have %v, want nil", i, err)
		}
		defer stores[i].Close()
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM bridge_schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Fatalf("bridge_schema_migrations: have %d rows for %d versions, want one row per version", rows, versions)
	}
}

// TestListenerReconnects cuts a store's LISTEN connection from the server
// side: an append made through another store afterwards must still wake
// the first store's watcher once it has reconnected.
func TestListenerReconnects(t *testing.T) {
	url := storetest.PostgresDB(t)
	ctx := t.Context()
	a, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	id := storetest.GameID("reconnect")
	if _, err := a.CreateGame(ctx, storetest.Game(id)); err != nil {
		t.Fatal(err)
	}
	wake, err := a.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listener: have %d terminated, %v; want 1", killed, err)
	}

	b, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for ply := uint32(1); ply <= 2; ply++ {
		if err := b.Append(ctx, storetest.State(id, ply, 0)); err != nil {
			t.Fatalf("Append(ply %d): have %v, want nil", ply, err)
		}
		select {
		case <-wake:
		case <-time.After(30 * time.Second):
			t.Fatalf("ply %d: no wake-up within 30s of a listener reconnect", ply)
		}
	}
}

// TestOpenErrors checks that Open refuses what it cannot use.
func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	server := storetest.PostgresServer(t)
	for _, tt := range []struct {
		name, url string
	}{
		{"not a URL", "postgres://%zz"},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"},
		{"no such database", server[:len(server)-len("/postgres?sslmode=disable")] + "/arbiter_no_such_db?sslmode=disable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pgstore.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s): have nil, want an error", tt.url)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Open(%s): have a timeout, want a prompt refusal", tt.url)
			}
		})
	}
}
