package watcher

import (
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chess"
)

const testChainID = 4242

var arbiterAddr = common.HexToAddress(channel.ArbiterContract)

func testKey(label string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(label)))
	if err != nil {
		panic(err) // a 32-byte hash is always a valid key
	}
	return k
}

func addrOf(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// env is a Watcher over a fake chain, a bridge MemStore and an in-memory
// database, with players white and black and the watchtower's key.
type env struct {
	tb                  testing.TB
	chain               *fakeChain
	store               *bridge.MemStore
	db                  *DB
	notes               *MemNotifier
	reg                 *prometheus.Registry
	w                   *Watcher
	abi                 abi.ABI
	domain              channel.Domain
	white, black, tower *ecdsa.PrivateKey
}

// newEnv builds an env; keyless leaves the watchtower without a key.
func newEnv(tb testing.TB, cfg Config, keyless bool) *env {
	tb.Helper()
	e := &env{
		tb: tb, chain: newFakeChain(testChainID), store: bridge.NewMemStore(), notes: NewMemNotifier(),
		reg: prometheus.NewRegistry(), domain: channel.DefaultDomain(big.NewInt(testChainID)),
		white: testKey("white"), black: testKey("black"), tower: testKey("tower"),
	}
	var err error
	e.abi, err = bridge.ArbiterABI()
	requireNoErr(tb, "ArbiterABI", err)
	e.db, err = OpenInMemory()
	requireNoErr(tb, "OpenInMemory", err)
	tb.Cleanup(func() { e.db.Close() })
	if !keyless {
		cfg.Key = e.tower
	}
	cfg.Registerer = e.reg
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e.w, err = New(cfg, e.db, e.chain, e.store, e.notes)
	requireNoErr(tb, "New", err)
	return e
}

func gameID(label string) common.Hash { return crypto.Keccak256Hash([]byte(label)) }

// newGame registers a game between white and black in the bridge store.
func (e *env) newGame(label string) common.Hash {
	e.tb.Helper()
	id := gameID(label)
	_, err := e.store.CreateGame(context.Background(), bridge.GameRecord{ID: id, White: addrOf(e.white), Black: addrOf(e.black), Stake: big.NewInt(1), MoveTimeout: 10})
	requireNoErr(e.tb, "CreateGame", err)
	return id
}

func (e *env) keyFor(ply uint32) *ecdsa.PrivateKey {
	if channel.Signer(ply) == chess.White {
		return e.white
	}
	return e.black
}

// play returns the signed states of moves played after prev.
func (e *env) play(prev channel.State, moves ...string) []channel.SignedState {
	e.tb.Helper()
	out := make([]channel.SignedState, len(moves))
	for i, m := range moves {
		pos, err := chess.ParseFEN(prev.FEN)
		requireNoErr(e.tb, "ParseFEN", err)
		after, err := chess.ApplyUCI(pos, m)
		requireNoErr(e.tb, "ApplyUCI "+m, err)
		next := channel.State{GameID: prev.GameID, Ply: prev.Ply + 1, FEN: after.FEN(), Move: m, PrevHash: prev.StructHash()}
		sig, err := channel.SignState(e.domain, next, e.keyFor(next.Ply))
		requireNoErr(e.tb, "SignState", err)
		out[i] = channel.SignedState{State: next, Signature: sig}
		prev = next
	}
	return out
}

// shuffle is n plies of knights hopping out and back.
func shuffle(n int) []string {
	cycle := []string{"g1f3", "g8f6", "f3g1", "f6g8"}
	out := make([]string, n)
	for i := range out {
		out[i] = cycle[i%len(cycle)]
	}
	return out
}

// accept appends states to the bridge store.
func (e *env) accept(states ...channel.SignedState) {
	e.tb.Helper()
	for _, s := range states {
		requireNoErr(e.tb, "Append", e.store.Append(context.Background(), bridge.Record{State: s}))
	}
}

// claim returns a claim transaction signed by the claimant and its
// GameClaimed log. base may be the zero SignedState for the start.
func (e *env) claim(claimant *ecdsa.PrivateKey, kind uint8, base, last channel.SignedState, deadline uint64) (*types.Transaction, types.Log) {
	e.tb.Helper()
	if base.State.FEN == "" {
		base = channel.SignedState{State: channel.StartState(last.State.GameID), Signature: []byte{}}
	}
	data, err := e.abi.Pack("claim", [32]byte(last.State.GameID), kind, toTuple(base.State), base.Signature, toTuple(last.State), last.Signature)
	requireNoErr(e.tb, "pack claim", err)
	to := arbiterAddr
	tx, err := types.SignNewTx(claimant, types.LatestSignerForChainID(big.NewInt(testChainID)), &types.LegacyTx{Nonce: 0, To: &to, Gas: 1e6, GasPrice: big.NewInt(1), Data: data, Value: new(big.Int)})
	requireNoErr(e.tb, "sign claim", err)
	l := e.event(EventGameClaimed, []common.Hash{last.State.GameID, common.BytesToHash(addrOf(claimant).Bytes())}, kind, last.State.Ply, deadline)
	l.TxHash = tx.Hash()
	return tx, l
}

// event returns a log of the named arbiter event.
func (e *env) event(name string, indexed []common.Hash, vals ...any) types.Log {
	e.tb.Helper()
	ev := e.abi.Events[name]
	data, err := ev.Inputs.NonIndexed().Pack(vals...)
	requireNoErr(e.tb, "pack "+name, err)
	return types.Log{Address: arbiterAddr, Topics: append([]common.Hash{ev.ID}, indexed...), Data: data}
}

// poll runs one poll of the watcher.
func (e *env) poll() {
	e.tb.Helper()
	requireNoErr(e.tb, "poll", e.w.poll(context.Background()))
}

// handled returns the watcher's records, failing unless their sequence
// numbers run 1..n without gaps (no record was written twice).
func (e *env) handled() []Handled {
	e.tb.Helper()
	recs, err := e.db.Handled()
	requireNoErr(e.tb, "Handled", err)
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			e.tb.Fatalf("record %d: have seq %d, want %d", i, r.Seq, i+1)
		}
	}
	return recs
}

// sentCall decodes a transaction the watchtower sent: method and the ply
// of the state it carries.
func (e *env) sentCall(tx *types.Transaction) (string, uint32) {
	e.tb.Helper()
	m, err := e.abi.MethodById(tx.Data()[:4])
	requireNoErr(e.tb, "MethodById", err)
	vals, err := m.Inputs.Unpack(tx.Data()[4:])
	requireNoErr(e.tb, "Unpack", err)
	switch m.Name {
	case "refute":
		var a struct {
			GameId   [32]byte
			Newer    stateTuple
			NewerSig []byte
		}
		requireNoErr(e.tb, "Copy", m.Inputs.Copy(&a, vals))
		return m.Name, a.Newer.Ply
	case "answer":
		var a struct {
			GameId  [32]byte
			Next    stateTuple
			NextSig []byte
		}
		requireNoErr(e.tb, "Copy", m.Inputs.Copy(&a, vals))
		return m.Name, a.Next.Ply
	}
	return m.Name, 0
}

// metric returns the value of a gauge or counter without labels from the
// env's registry, failing if it is not registered.
func (e *env) metric(name string) float64 {
	e.tb.Helper()
	families, err := e.reg.Gather()
	requireNoErr(e.tb, "Gather", err)
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) != 1 {
			continue
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	e.tb.Fatalf("metric %s not registered", name)
	return 0
}
