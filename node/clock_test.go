package node

import (
	"errors"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

// TestConfigClockReachesProtocol runs a one-validator proof-of-stake node
// whose Config.Clock is an hour ahead. Its blocks must carry timestamps
// from that clock (so the consensus driver's block builder and the
// engine's future-block check both read it: the node imports its own
// blocks), and a chain on the real clock must refuse them as blocks from
// the future.
func TestConfigClockReachesProtocol(t *testing.T) {
	const skew = time.Hour
	key := memberKey(0)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(100 * time.Millisecond), GasLimit: 30_000_000,
		Members: []genesis.Member{{Address: addr, Name: "0", Stake: (*math.HexOrDecimal256)(big.NewInt(1))}},
		Alloc:   map[common.Address]genesis.Account{},
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Init(dir, g); err != nil {
		t.Fatalf("init: have %v, want nil", err)
	}
	n, err := New(Config{DataDir: dir, Key: key, Mine: true, NoP2P: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatalf("new node: have %v, want nil", err)
	}
	heads := make(chan chain.HeadEvent, 16)
	sub := n.Chain().SubscribeChainHead(heads)
	defer sub.Unsubscribe()
	before := time.Now()
	if err := n.Start(); err != nil {
		t.Fatalf("start: have %v, want nil", err)
	}
	defer n.Close()
	timeout := time.After(30 * time.Second)
	for n.Chain().CurrentBlock().NumberU64() < 2 {
		select {
		case <-heads:
		case <-timeout:
			t.Fatalf("no block 2 within 30s; head %d", n.Chain().CurrentBlock().NumberU64())
		}
	}
	b1 := n.Chain().GetBlockByNumber(1)
	if have, want := b1.Time(), uint64(before.Add(skew).Unix()); have < want {
		t.Fatalf("block 1 time: have %d, want >= %d (the node's clock, %v ahead)", have, want, skew)
	}

	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	real, err := OpenChain(db, g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	if err := real.InsertCertified(b1, n.Chain().Certificate(b1.Hash(), 1)); !errors.Is(err, consensus.ErrFutureBlock) {
		t.Fatalf("block 1 on a chain with the real clock: have %v, want %v", err, consensus.ErrFutureBlock)
	}
}
