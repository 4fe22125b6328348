package watcher

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
)

// TestMain stops the PostgreSQL server the tests may have started.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// errGuardTest is what the guard of TestPGDBGuard returns when closed.
var errGuardTest = errors.New("not the leader")

// TestPGDBGuard checks that every write of a PGDB runs its guard inside
// the transaction and writes nothing when the guard refuses: an instance
// that lost the watchtower lease cannot move the checkpoint, add a
// record, or store an action or a pending follow-up.
func TestPGDBGuard(t *testing.T) {
	url := storetest.PostgresDB(t)
	open := true
	db, err := OpenPostgres(context.Background(), url, func(ctx context.Context, tx pgx.Tx) error {
		if !open {
			return errGuardTest
		}
		return nil
	})
	requireNoErr(t, "OpenPostgres", err)
	defer db.Close()
	claim := common.HexToHash("0xc1")
	p := pending{Claim: claim, Method: "refute", Deadline: 9}
	rec := Handled{Block: 3, BlockHash: common.HexToHash("0xb3"), Index: 1, Outcome: OutcomeHandled}
	if _, err := db.apply(write{cp: Checkpoint{Block: 3, Index: 2}, handled: &rec, pending: &p}); err != nil {
		t.Fatalf("apply with the guard open: have %v, want nil", err)
	}

	open = false
	writes := []struct {
		name  string
		write func() error
	}{
		{"apply", func() error {
			rec := Handled{Block: 4, BlockHash: common.HexToHash("0xb4"), Outcome: OutcomeHandled}
			_, err := db.apply(write{cp: Checkpoint{Block: 5}, handled: &rec})
			return err
		}},
		{"rollback", func() error { return db.rollback(1, []blockRef{{Number: 3, Hash: rec.BlockHash}}) }},
		{"putAction", func() error { return db.putAction(claim, action{Method: "refute"}) }},
		{"settle", func() error { return db.settle(p, false, func(h *Handled) { h.Outcome = OutcomeRefuted }) }},
	}
	for _, tt := range writes {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, errGuardTest) || !errors.Is(err, errStore) {
				t.Fatalf("%s with the guard closed: have %v, want %v wrapped in %v", tt.name, err, errGuardTest, errStore)
			}
		})
	}
	cp, err := db.Checkpoint()
	requireNoErr(t, "Checkpoint", err)
	if cp != (Checkpoint{Block: 3, Index: 2}) {
		t.Fatalf("checkpoint: have %+v, want {3 2}", cp)
	}
	recs, err := db.Handled()
	requireNoErr(t, "Handled", err)
	if len(recs) != 1 || recs[0].Outcome != OutcomeHandled {
		t.Fatalf("records: have %+v, want the one written with the guard open", recs)
	}
	if _, ok, err := db.action(claim); ok || err != nil {
		t.Fatalf("action: have %v, %v; want none", ok, err)
	}
	if ps, err := db.pendings(); err != nil || len(ps) != 1 {
		t.Fatalf("pendings: have %d, %v; want 1", len(ps), err)
	}
}
