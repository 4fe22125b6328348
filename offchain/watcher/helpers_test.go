package watcher

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
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

// env is a Watcher over a fake chain, a bridge MemStore and a database
// (in memory, or in dir), with players white and black and the
// watchtower's key, a clock that moves only when told and a logger that
// keeps what it is given.
type env struct {
	tb                  testing.TB
	chain               *fakeChain
	store               *bridge.MemStore
	db                  Store
	open                func() (Store, error) // opens db, the same one each time
	cfg                 Config
	notes               *MemNotifier
	reg                 *prometheus.Registry
	clock               *fakeClock
	logs                *logRecorder
	w                   *Watcher
	abi                 abi.ABI
	domain              channel.Domain
	white, black, tower *ecdsa.PrivateKey
}

// newEnv builds an env over an in-memory database; keyless leaves the
// watchtower without a key.
func newEnv(tb testing.TB, cfg Config, keyless bool) *env {
	tb.Helper()
	return newEnvOn(tb, backendMemory, cfg, keyless)
}

// Backends of the watcher's Store that tests run on.
const (
	backendMemory   = "memory"   // badger in memory: no restart
	backendBadger   = "badger"   // badger in a temporary directory
	backendPostgres = "postgres" // PGDB in a fresh database of the test server
)

// persistentBackends are the backends a restarted watcher resumes from.
var persistentBackends = []string{backendBadger, backendPostgres}

// forBackends runs test once per backend, as a subtest named after it.
func forBackends(t *testing.T, backends []string, test func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { test(t, b) })
	}
}

// opener returns the function that opens the env's Store on backend.
func opener(tb testing.TB, backend string) func() (Store, error) {
	tb.Helper()
	switch backend {
	case backendMemory:
		return func() (Store, error) { return OpenInMemory() }
	case backendBadger:
		dir := filepath.Join(tb.TempDir(), "watcher")
		return func() (Store, error) { return Open(dir) }
	case backendPostgres:
		url := storetest.PostgresDB(tb)
		return func() (Store, error) { return OpenPostgres(context.Background(), url, nil) }
	}
	tb.Fatalf("unknown backend %q", backend)
	return nil
}

// newEnvOn builds an env whose database is on backend.
func newEnvOn(tb testing.TB, backend string, cfg Config, keyless bool) *env {
	tb.Helper()
	e := &env{
		tb: tb, chain: newFakeChain(testChainID), store: bridge.NewMemStore(), notes: NewMemNotifier(),
		open: opener(tb, backend), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, logs: &logRecorder{},
		domain: channel.DefaultDomain(big.NewInt(testChainID)),
		white:  testKey("white"), black: testKey("black"), tower: testKey("tower"),
	}
	var err error
	e.abi, err = channel.ArbiterABI()
	requireNoErr(tb, "ArbiterABI", err)
	if !keyless {
		cfg.Key = e.tower
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	cfg.Logger = slog.New(e.logs)
	e.cfg = cfg
	e.start()
	return e
}

// start opens the database and builds a Watcher over it with a fresh
// metrics registry, as a (re)started process would.
func (e *env) start() {
	e.tb.Helper()
	var err error
	e.db, err = e.open()
	requireNoErr(e.tb, "open database", err)
	db := e.db
	e.tb.Cleanup(func() { db.Close() })
	e.reg = prometheus.NewRegistry()
	cfg := e.cfg
	cfg.Registerer = e.reg
	e.w, err = New(cfg, e.db, e.chain, e.store, e.notes)
	requireNoErr(e.tb, "New", err)
}

// restart closes the database of an env on a persistent backend and
// starts again: a new Watcher with nothing in memory from the old one.
func (e *env) restart() {
	e.tb.Helper()
	requireNoErr(e.tb, "close database", e.db.Close())
	e.start()
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// find returns the attributes of the records at level with message msg.
func (r *logRecorder) find(level slog.Level, msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		attrs := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
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
	if channel.Signer(ply) == chessrules.White {
		return e.white
	}
	return e.black
}

// play returns the signed states of moves played after prev.
func (e *env) play(prev channel.State, moves ...string) []channel.SignedState {
	e.tb.Helper()
	out := make([]channel.SignedState, len(moves))
	for i, m := range moves {
		pos, err := chessrules.ParseFEN(prev.FEN)
		requireNoErr(e.tb, "ParseFEN", err)
		after, err := chessrules.ApplyUCI(pos, m)
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
		requireNoErr(e.tb, "Append", e.store.Append(context.Background(), bridge.Record{State: s, Accepted: time.Unix(1_700_000_000, 0)}))
	}
}

// claim returns a claim transaction signed by the claimant and its
// GameClaimed log. base may be the zero SignedState for the start.
func (e *env) claim(claimant *ecdsa.PrivateKey, kind uint8, base, last channel.SignedState, deadline uint64) (*types.Transaction, types.Log) {
	e.tb.Helper()
	if base.State.FEN == "" {
		base = channel.SignedState{State: channel.StartState(last.State.GameID), Signature: []byte{}}
	}
	data, err := e.abi.Pack("claim", [32]byte(last.State.GameID), kind, channel.NewABIState(base.State), base.Signature, channel.NewABIState(last.State), last.Signature)
	requireNoErr(e.tb, "pack claim", err)
	to := arbiterAddr
	tx, err := types.SignNewTx(claimant, types.LatestSignerForChainID(big.NewInt(testChainID)), &types.LegacyTx{Nonce: 0, To: &to, Gas: 1e6, GasPrice: big.NewInt(1), Data: data, Value: new(big.Int)})
	requireNoErr(e.tb, "sign claim", err)
	l := e.event(channel.EventGameClaimed, []common.Hash{last.State.GameID, common.BytesToHash(addrOf(claimant).Bytes())}, kind, last.State.Ply, deadline)
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
			Newer    channel.ABIState
			NewerSig []byte
		}
		requireNoErr(e.tb, "Copy", m.Inputs.Copy(&a, vals))
		return m.Name, a.Newer.Ply
	case "answer":
		var a struct {
			GameId  [32]byte
			Next    channel.ABIState
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

// methodMetric returns the value of a gauge or counter labelled by
// method from the env's registry, failing if it is not registered.
func (e *env) methodMetric(name, method string) float64 {
	e.tb.Helper()
	families, err := e.reg.Gather()
	requireNoErr(e.tb, "Gather", err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == method {
					if g := m.GetGauge(); g != nil {
						return g.GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	e.tb.Fatalf("metric %s{method=%q} not registered", name, method)
	return 0
}
