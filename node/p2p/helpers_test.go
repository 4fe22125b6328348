package p2p

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

const testChainID = 4343

// waitTimeout bounds every poll of a condition that real networking makes
// asynchronous.
const waitTimeout = 10 * time.Second

// testKey returns a deterministic key named by a letter: A, B and C are
// members, D is not.
func testKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("arbiter p2p test key " + name)))
	if err != nil {
		t.Fatalf("key %s: %v", name, err)
	}
	return k
}

func addrOf(t testing.TB, name string) common.Address {
	t.Helper()
	return crypto.PubkeyToAddress(testKey(t, name).PublicKey)
}

// testGenesis makes members A, B and C; A, B, C and D are funded.
func testGenesis(t testing.TB) *genesis.Genesis {
	t.Helper()
	g := &genesis.Genesis{
		ChainID:   testChainID,
		Engine:    genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second),
		GasLimit:  30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
	}
	for _, n := range []string{"A", "B", "C"} {
		g.Members = append(g.Members, genesis.Member{Address: addrOf(t, n), Name: n})
	}
	bal := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	for _, n := range []string{"A", "B", "C", "D"} {
		g.Alloc[addrOf(t, n)] = genesis.Account{Balance: (*math.HexOrDecimal256)(bal)}
	}
	return g
}

// testChain is a real chain on an in-memory store whose engine seals as
// one key, with a pool on top.
type testChain struct {
	t      testing.TB
	chain  *chain.Chain
	engine *pow.Engine
	pool   *txpool.Pool
}

func newTestChain(t testing.TB, g *genesis.Genesis, sealer string) *testChain {
	t.Helper()
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	eng := pow.New(*g.PoW, time.Duration(g.BlockTime), testKey(t, sealer))
	senders := txpool.NewSenders(1 << 14)
	c, err := chain.New(db, g, eng, chain.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), chain.WithSenderCache(senders))
	if err != nil {
		t.Fatalf("new chain: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &testChain{t: t, chain: c, engine: eng, pool: txpool.New(txpool.Config{Senders: senders}, c.Rules(), c)}
}

// mine builds and seals a block on parent dt seconds after it, without
// importing it.
func (tc *testChain) mine(parent *types.Block, txs []*types.Transaction, dt uint64) *types.Block {
	tc.t.Helper()
	built, err := tc.chain.BuildBlock(parent, txs, parent.Time()+dt)
	if err != nil {
		tc.t.Fatalf("build: %v", err)
	}
	if len(built.Block.Transactions()) != len(txs) {
		tc.t.Fatalf("built %d txs, want %d", len(built.Block.Transactions()), len(txs))
	}
	b, err := tc.engine.Seal(context.Background(), tc.chain, built.Block)
	if err != nil {
		tc.t.Fatalf("seal: %v", err)
	}
	return b
}

// extend mines n blocks on the head and imports them; txs, if not nil,
// gives each block's transactions.
func (tc *testChain) extend(n int, txs func(i int) []*types.Transaction) []*types.Block {
	tc.t.Helper()
	out := make([]*types.Block, 0, n)
	for i := 0; i < n; i++ {
		var body []*types.Transaction
		if txs != nil {
			body = txs(i)
		}
		b := tc.mine(tc.chain.CurrentBlock(), body, 1)
		if err := tc.chain.InsertBlock(b); err != nil {
			tc.t.Fatalf("insert %d: %v", b.NumberU64(), err)
		}
		out = append(out, b)
	}
	return out
}

func (tc *testChain) head() uint64 { return tc.chain.CurrentBlock().NumberU64() }

// transfer signs a value transfer.
func transfer(t testing.TB, from string, nonce uint64, to common.Address) *types.Transaction {
	t.Helper()
	signer := types.NewLondonSigner(big.NewInt(testChainID))
	tx, err := types.SignNewTx(testKey(t, from), signer, &types.DynamicFeeTx{
		ChainID: big.NewInt(testChainID), Nonce: nonce, To: &to, Value: big.NewInt(1),
		Gas: 21000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1),
	})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tx
}

// logBuffer collects log output for assertions; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the logged lines that contain every one of parts.
func (l *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForOr(t, what, cond, nil)
}

// waitForOr is waitFor that adds explain's answer to the failure, to say
// what happened instead.
func waitForOr(t testing.TB, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			if explain != nil {
				t.Fatalf("timed out after %v waiting for %s; %s", waitTimeout, what, explain())
			}
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		<-tick.C
	}
}

// setMembers is a member set tests can change.
type setMembers struct {
	mu  sync.Mutex
	set map[common.Address]bool
}

func newSetMembers(addrs ...common.Address) *setMembers {
	m := &setMembers{set: make(map[common.Address]bool)}
	for _, a := range addrs {
		m.set[a] = true
	}
	return m
}

func (m *setMembers) IsMember(a common.Address) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set[a]
}

func (m *setMembers) remove(a common.Address) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.set, a)
}

// testNode is a started Node on a real chain with its logs and metrics.
type testNode struct {
	*Node
	tc   *testChain
	logs *logBuffer
	reg  *prometheus.Registry
}

// nodeOpt adjusts a test node's configuration.
type nodeOpt func(*Config)

// testLimits are short enough for tests to observe retries and syncs.
func testLimits() Limits {
	return Limits{RedialMin: 50 * time.Millisecond, RedialMax: 500 * time.Millisecond, SyncInterval: 250 * time.Millisecond, RequestTimeout: 5 * time.Second}
}

// startNode starts a node with key name on tc, listening on 127.0.0.1
// with an ephemeral port; members defaults to the chain's head state.
func startNode(t testing.TB, name string, tc *testChain, members Members, opts ...nodeOpt) *testNode {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	cfg := Config{
		Key:         testKey(t, name),
		GenesisHash: tc.chain.GenesisHash(),
		Rules:       tc.chain.Rules(),
		Engine:      tc.engine,
		Logger:      newTestLogger(logs),
		Registerer:  reg,
		Limits:      testLimits(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if members == nil {
		members = HeadMembers(tc.chain)
	}
	n, err := New(context.Background(), cfg, tc.chain, tc.pool, members)
	if err != nil {
		t.Fatalf("new node %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(); err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	return &testNode{Node: n, tc: tc, logs: logs, reg: reg}
}

func withPeers(ns ...*testNode) nodeOpt {
	return func(c *Config) {
		for _, n := range ns {
			for _, a := range n.Addrs() {
				c.Peers = append(c.Peers, a.String())
			}
		}
	}
}

func (n *testNode) rejects(topic string) float64 {
	return counterValue(n.metrics.rejected.WithLabelValues(topic))
}

func (n *testNode) hasPeer(other *testNode) bool {
	for _, p := range n.host.Network().Peers() {
		if p == other.ID() {
			return true
		}
	}
	return false
}

// counterValue reads a counter or gauge.
func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// The real chain, pool and engine satisfy the interfaces the node declares.
var (
	_ Chain          = (*chain.Chain)(nil)
	_ Pool           = (*txpool.Pool)(nil)
	_ memberChain    = (*chain.Chain)(nil)
	_ HeaderVerifier = (*pow.Engine)(nil)
	_ blockSource    = (*chain.Chain)(nil)
	_ syncChain      = (*chain.Chain)(nil)
	_ fetcher        = (*streamClient)(nil)
)
