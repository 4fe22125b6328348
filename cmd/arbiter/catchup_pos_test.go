package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/posval"
	"github.com/arbiter-chain/arbiter/node/store"
)

// posChain is a certified proof-of-stake chain of 4 validators built in
// the test process.
type posChain struct {
	gen     *genesis.Genesis
	keys    []*ecdsa.PrivateKey // the validators; keys[0] is funded
	blocks  []*types.Block
	tipCert []byte
}

// generatePosChain builds n blocks of txs transfers each, every block
// sealed by its round-0 proposer and certified by 3 of the 4 validators.
func generatePosChain(t *testing.T, n, txs int) posChain {
	t.Helper()
	g := &genesis.Genesis{
		ChainID: 778, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(time.Second), GasLimit: 60_000_000,
		Alloc: map[common.Address]genesis.Account{},
	}
	out := posChain{gen: g}
	for i := range 4 {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("catch-up validator %d", i))))
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i), Stake: (*math.HexOrDecimal256)(big.NewInt(1e18))})
		out.keys = append(out.keys, k)
	}
	g.Alloc[crypto.PubkeyToAddress(out.keys[0].PublicKey)] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Lsh(big.NewInt(1), 100))}
	sealers := make(map[common.Address]*chain.Chain)
	var first *chain.Chain
	for _, k := range out.keys {
		db, err := store.OpenInMemory()
		if err != nil {
			t.Fatal(err)
		}
		c, err := node.OpenChain(db, g, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); db.Close() })
		sealers[crypto.PubkeyToAddress(k.PublicKey)] = c
		if first == nil {
			first = c
		}
	}
	set, err := posval.GenesisValidators(g)
	if err != nil {
		t.Fatal(err)
	}
	signer := types.NewLondonSigner(big.NewInt(int64(g.ChainID)))
	var nonce uint64
	var last pos.Commit
	for range n {
		parent := first.CurrentBlock()
		number := parent.NumberU64() + 1
		sealer := sealers[set.Proposer(number, 0)]
		eng := sealer.Engine().(*pos.Engine)
		eng.SetProposal(number, 0, last)
		list := make([]*types.Transaction, txs)
		for i := range list {
			to := common.BigToAddress(big.NewInt(int64(1_000_000 + int(number)*txs + i)))
			list[i] = types.MustSignNewTx(out.keys[0], signer, &types.DynamicFeeTx{ChainID: big.NewInt(int64(g.ChainID)), Nonce: nonce, To: &to,
				Value: big.NewInt(1), Gas: 21000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1)})
			nonce++
		}
		built, err := sealer.BuildBlock(parent, list, parent.Time()+1)
		if err != nil || len(built.Block.Transactions()) != txs {
			t.Fatalf("build block %d: %v", number, err)
		}
		sealed, err := eng.Seal(context.Background(), sealer, built.Block)
		if err != nil {
			t.Fatal(err)
		}
		c := pos.Commit{}
		for _, k := range out.keys[:3] {
			v := &pos.Vote{Type: pos.Precommit, Height: number, BlockHash: sealed.Hash()}
			d := v.Digest(big.NewInt(int64(g.ChainID)))
			sig, err := crypto.Sign(d[:], k)
			if err != nil {
				t.Fatal(err)
			}
			c.Signatures = append(c.Signatures, pos.Signature(sig))
		}
		for _, s := range sealers {
			if err := s.InsertCertified(sealed, c.Encode()); err != nil {
				t.Fatalf("certify block %d: %v", number, err)
			}
		}
		last = c
		out.blocks = append(out.blocks, sealed)
	}
	out.tipCert = last.Encode()
	return out
}

// TestCatchUpPoS has a proof-of-stake member that was down while the
// validators decided a long chain catch up over the network between
// processes: member 1 holds the chain (written into its data directory
// before it starts), member 2 starts from genesis with member 1 as its
// peer and syncs to member 1's head. It logs blocks/s and transfers/s
// from member 2's process start to its head reaching the target, and the
// node's own sync figure. ARBITER_CATCHUP_BLOCKS and ARBITER_CATCHUP_TXS
// size the chain (default 5,000 empty blocks).
func TestCatchUpPoS(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	blocks, txs := 5000, 0
	if v, err := strconv.Atoi(os.Getenv("ARBITER_CATCHUP_BLOCKS")); err == nil && v > 1 {
		blocks = v
	}
	if v, err := strconv.Atoi(os.Getenv("ARBITER_CATCHUP_TXS")); err == nil && v >= 0 {
		txs = v
	}
	pc := generatePosChain(t, blocks, txs)
	dir := t.TempDir()
	genFile := filepath.Join(dir, "genesis.json")
	if err := pc.gen.Write(genFile); err != nil {
		t.Fatal(err)
	}
	var data, keyFiles []string
	for i := range 2 {
		m := filepath.Join(dir, fmt.Sprintf("member%d", i+1))
		keyFiles = append(keyFiles, filepath.Join(m, "key"))
		data = append(data, filepath.Join(m, "data"))
		if err := os.MkdirAll(m, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := crypto.SaveECDSA(keyFiles[i], pc.keys[i]); err != nil {
			t.Fatal(err)
		}
		if o, err := arbiterCommand(t, "init", "--datadir", data[i], "--genesis", genFile).CombinedOutput(); err != nil {
			t.Fatalf("init: %v\n%s", err, o)
		}
	}
	// Member 1's database gets the whole chain before its process starts.
	db, err := store.Open(filepath.Join(data[0], node.ChainDir))
	if err != nil {
		t.Fatal(err)
	}
	c, err := node.OpenChain(db, pc.gen, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.InsertChain(pc.blocks, pc.tipCert); err != nil || n != blocks {
		t.Fatalf("member1 InsertChain: %d, %v", n, err)
	}
	if err := errors.Join(c.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	target := pc.blocks[len(pc.blocks)-1]

	m1 := mustStartNode(t, "member1", "--datadir", data[0], "--key", keyFiles[0], "--mine=false", "--p2p", "/ip4/127.0.0.1/tcp/0")
	start := time.Now()
	m2 := mustStartNode(t, "member2", "--datadir", data[1], "--key", keyFiles[1], "--mine=false",
		"--p2p", "/ip4/127.0.0.1/tcp/0", "--peers", m1.p2pAddr)
	caughtUp := waitCaughtUp(t, m2, target, start, 300*time.Second)
	secs := caughtUp.Seconds()
	t.Logf("pos, 4 validators, %d blocks of %d transfers: member2 caught up in %v from process start: %.0f blocks/s, %.0f tx/s",
		blocks, txs, caughtUp.Round(time.Millisecond), float64(blocks)/secs, float64(blocks*txs)/secs)
	if _, err := m2.waitLine(syncFinishedLine, 10*time.Second); err == nil {
		for _, m := range m2.findAll(syncFinishedLine) {
			el, _ := time.ParseDuration(m[4])
			imported, _ := strconv.Atoi(m[1])
			t.Logf("member2 log: sync finished: imported %s blocks to %s in %s (%s blocks/s by the node, %.0f tx/s)",
				m[1], m[2], m[4], m[5], float64(imported*txs)/max(el.Seconds(), 1e-3))
		}
	}
}
