package watcher

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// logID names a log by block hash and index.
type logID struct {
	block common.Hash
	index uint
}

// onChain returns the ids of every arbiter log of the fake chain.
func (e *env) onChain() []logID {
	e.tb.Helper()
	head, _ := e.chain.BlockNumber(context.Background())
	var out []logID
	for n := uint64(0); n <= head; n++ {
		for _, l := range e.chain.logs[n] {
			out = append(out, logID{l.BlockHash, l.Index})
		}
	}
	return out
}

func ids(recs []Handled) []logID {
	out := make([]logID, len(recs))
	for i, r := range recs {
		out[i] = logID{r.BlockHash, r.Index}
	}
	return out
}

// plain returns a decodable log that is no claim.
func (e *env) plain(game common.Hash) types.Log {
	return e.event(channel.EventGameJoined, []common.Hash{game})
}

// TestQuarantine feeds logs that do not decode, each followed by a good
// one: the bad log is set aside with its raw form and a reason, the good
// one is handled, and the checkpoint moves past both.
func TestQuarantine(t *testing.T) {
	game := gameID("g")
	tests := []struct {
		name string
		bad  func(e *env) types.Log
	}{
		{"no topics", func(e *env) types.Log { return types.Log{Address: arbiterAddr} }},
		{"unknown topic", func(e *env) types.Log {
			l := e.plain(game)
			l.Topics[0] = common.HexToHash("0x1234")
			return l
		}},
		{"missing indexed topic", func(e *env) types.Log {
			l := e.event(channel.EventGameClaimed, []common.Hash{game, common.BytesToHash(addrOf(e.white).Bytes())}, uint8(3), uint32(5), uint64(9))
			l.Topics = l.Topics[:2]
			return l
		}},
		{"extra topic", func(e *env) types.Log {
			l := e.plain(game)
			l.Topics = append(l.Topics, game)
			return l
		}},
		{"address topic with high bytes", func(e *env) types.Log {
			claimant := common.BytesToHash(addrOf(e.white).Bytes())
			claimant[0] = 0xff
			return e.event(channel.EventGameClaimed, []common.Hash{game, claimant}, uint8(3), uint32(5), uint64(9))
		}},
		{"truncated data", func(e *env) types.Log {
			l := e.event(channel.EventClaimAnswered, []common.Hash{game}, uint32(7))
			l.Data = l.Data[:31]
			return l
		}},
		{"uint8 out of range", func(e *env) types.Log {
			l := e.event(channel.EventGameEnded, []common.Hash{game}, uint8(1), "resigned")
			l.Data[30] = 1 // result 257
			return l
		}},
		{"trailing data", func(e *env) types.Log {
			l := e.plain(game)
			l.Data = make([]byte, 32)
			return l
		}},
	}
	forBackends(t, []string{backendMemory, backendPostgres}, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{}, false)
				bad, good := tt.bad(e), e.plain(game)
				n := e.chain.mine("a", []types.Log{bad, good})
				e.poll()

				recs := e.handled()
				if len(recs) != 2 || recs[0].Outcome != OutcomeQuarantined || recs[1].Outcome != OutcomeHandled {
					t.Fatalf("records: have %+v, want one quarantined then one handled", recs)
				}
				q, err := e.db.Quarantined()
				requireNoErr(t, "Quarantined", err)
				if len(q) != 1 || q[0].Reason == "" || q[0].Log.Index != 0 || q[0].Log.BlockNumber != n || !slices.Equal(q[0].Log.Data, bad.Data) {
					t.Fatalf("quarantined: have %+v, want the raw bad log with a reason", q)
				}
				if have := e.metric("arbiter_watcher_events_quarantined_total"); have != 1 {
					t.Fatalf("quarantined counter: have %v, want 1", have)
				}
				if cp, _ := e.w.Checkpoint(); cp != (Checkpoint{Block: n + 1}) {
					t.Fatalf("checkpoint: have %+v, want %+v", cp, Checkpoint{Block: n + 1})
				}
			})
		}
	})
}

// TestReplay replays a claim that was handled, or whose refute was sent
// but not recorded (a crash in between): no second transaction goes out
// and no record is written twice.
func TestReplay(t *testing.T) {
	tests := []struct {
		name string
		// crash leaves the database as a crash would and returns the
		// checkpoint to rewind to.
		crash func(e *env, claim types.Log) Checkpoint
	}{
		{"same log after its record", func(e *env, claim types.Log) Checkpoint {
			e.poll()
			return Checkpoint{Block: claim.BlockNumber, Index: claim.Index}
		}},
		{"crash between send and record", func(e *env, claim types.Log) Checkpoint {
			// What the handler does before its record: the refute is
			// stored and sent.
			_, err := e.w.domainOf(context.Background())
			requireNoErr(t, "domain", err)
			game := claim.Topics[1]
			head, _, _ := e.store.Head(context.Background(), game)
			data, err := e.abi.Pack("refute", [32]byte(game), channel.NewABIState(head.State.State), head.State.Signature)
			requireNoErr(t, "pack refute", err)
			r, err := e.w.attempt(context.Background(), pending{Claim: claim.TxHash, Method: "refute", Game: game, Data: data})
			if err != nil || r.status != attemptSent {
				t.Fatalf("attempt: have %v %v, want sent", r, err)
			}
			return Checkpoint{Block: claim.BlockNumber}
		}},
	}
	forBackends(t, []string{backendMemory, backendPostgres}, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{}, false)
				id := e.newGame("g")
				s := e.play(channel.StartState(id), shuffle(6)...)
				e.accept(s...)
				tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], 50)
				e.chain.mine("a", []types.Log{e.plain(id), l}, tx)
				claim := e.chain.logs[1][1]

				rewind := tt.crash(e, claim)
				_, err := e.db.apply(write{cp: rewind})
				requireNoErr(t, "rewind", err)
				e.poll()

				if sent := e.chain.sentTxs(); len(sent) != 1 {
					t.Fatalf("sent %d transactions, want 1", len(sent))
				}
				recs := e.handled()
				if !slices.Equal(ids(recs), e.onChain()) {
					t.Fatalf("records: have %v, want %v", ids(recs), e.onChain())
				}
				if seq, _ := e.db.Sequence(); seq != uint64(len(recs)) {
					t.Fatalf("sequence: have %d, want %d", seq, len(recs))
				}
				if last := recs[len(recs)-1]; last.Outcome != OutcomeRefuted || last.Action != e.chain.sentTxs()[0].Hash() {
					t.Fatalf("claim record: have %s %s, want %s %s", last.Outcome, last.Action, OutcomeRefuted, e.chain.sentTxs()[0].Hash())
				}
			})
		}
	})
}

// TestReorg replaces processed blocks with a fork: the watcher rolls back
// to the common ancestor, drops the records of the replaced blocks and
// handles the new branch's logs.
func TestReorg(t *testing.T) {
	tests := []struct {
		name          string
		confirmations uint64
		forkAt        uint64 // first replaced block
	}{
		{"tip replaced", 0, 5},
		{"three blocks replaced", 0, 3},
		{"deeper than the confirmations", 1, 2},
	}
	forBackends(t, []string{backendMemory, backendPostgres}, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{Confirmations: tt.confirmations, MaxRange: 2}, false)
				id := e.newGame("g")
				for range 5 {
					e.chain.mine("a", []types.Log{e.plain(id), e.plain(id)})
				}
				e.poll()
				e.chain.fork(tt.forkAt)
				for range 6 - tt.forkAt + 1 {
					e.chain.mine("b", []types.Log{e.plain(id)})
				}
				e.poll()

				head, _ := e.chain.BlockNumber(context.Background())
				var want []logID
				for _, id := range e.onChain() {
					if n := e.blockNumber(id.block); n+tt.confirmations <= head {
						want = append(want, id)
					}
				}
				recs, err := e.db.Handled()
				requireNoErr(t, "Handled", err)
				have := ids(recs)
				slices.SortFunc(have, func(a, b logID) int {
					return cmp.Compare(e.blockNumber(a.block), e.blockNumber(b.block))*2 + cmp.Compare(a.index, b.index)
				})
				if !slices.Equal(have, want) {
					t.Fatalf("records: have %v, want %v", have, want)
				}
				if have := e.metric("arbiter_watcher_reorgs_total"); have != 1 {
					t.Fatalf("reorgs: have %v, want 1", have)
				}
				if cp, _ := e.w.Checkpoint(); cp.Block != head-tt.confirmations+1 {
					t.Fatalf("checkpoint: have %+v, want block %d", cp, head-tt.confirmations+1)
				}
			})
		}
	})
}

// blockNumber returns the height of a block of the fake chain's current
// branch, or of a replaced one (max uint64).
func (e *env) blockNumber(h common.Hash) uint64 {
	for n, hdr := range e.chain.headers {
		if hdr.Hash() == h {
			return uint64(n)
		}
	}
	return ^uint64(0)
}

// TestConfirmations checks that the watcher stays Confirmations blocks
// behind the head and reports its lag.
func TestConfirmations(t *testing.T) {
	tests := []struct {
		confirmations uint64
		wantBlocks    int // blocks whose logs are handled, of 5
		wantLag       float64
	}{
		{0, 5, 0},
		{2, 3, 2},
		{5, 0, 5},
		{9, 0, 6}, // head below the confirmations: nothing yet
	}
	for _, tt := range tests {
		e := newEnv(t, Config{Confirmations: tt.confirmations}, false)
		id := e.newGame("g")
		for range 5 {
			e.chain.mine("a", []types.Log{e.plain(id)})
		}
		e.poll()
		if have := len(e.handled()); have != tt.wantBlocks {
			t.Errorf("confirmations %d: handled %d logs, want %d", tt.confirmations, have, tt.wantBlocks)
		}
		if have := e.metric("arbiter_watcher_lag_blocks"); have != tt.wantLag {
			t.Errorf("confirmations %d: lag %v, want %v", tt.confirmations, have, tt.wantLag)
		}
	}
}

// TestRunStops checks that Run returns ctx.Err() once ctx is done and
// that a reorganisation deeper than ReorgDepth stops it.
func TestRunStops(t *testing.T) {
	e := newEnv(t, Config{}, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.w.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: have %v, want %v", err, context.Canceled)
	}

	e = newEnv(t, Config{ReorgDepth: 2, MaxRange: 1}, false)
	for range 6 {
		e.chain.mine("a", nil)
	}
	e.poll()
	e.chain.fork(1)
	for range 6 {
		e.chain.mine("b", nil)
	}
	if err := e.w.Run(context.Background()); !errors.Is(err, ErrReorgTooDeep) {
		t.Fatalf("Run after a deep reorg: have %v, want %v", err, ErrReorgTooDeep)
	}
}

// TestRangeTooLarge checks that the watcher halves a range the node
// refuses as returning too many logs, and still handles every log in
// order.
func TestRangeTooLarge(t *testing.T) {
	e := newEnv(t, Config{MaxRange: 100}, false)
	e.chain.logLimit = 3
	id := e.newGame("g")
	for range 5 {
		e.chain.mine("a", []types.Log{e.plain(id), e.plain(id)})
	}
	e.poll()
	if have, want := ids(e.handled()), e.onChain(); !slices.Equal(have, want) {
		t.Fatalf("records: have %v, want %v", have, want)
	}
	if cp, _ := e.w.Checkpoint(); cp != (Checkpoint{Block: 6}) {
		t.Fatalf("checkpoint: have %+v, want block 6", cp)
	}
}
