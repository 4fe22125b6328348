package chain

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

// posNet is a proof-of-stake genesis of equally staked validators named
// V0, V1, ... with a fixed validator schedule, and a chain per validator
// to build, seal and certify blocks with.
type posNet struct {
	g       *genesis.Genesis
	keys    []*ecdsa.PrivateKey
	set     *pos.ValidatorSet
	sealers []*Chain
	commit  pos.Commit // the commit of the sealers' head
}

func newPosNet(tb testing.TB, validators int, funded ...string) *posNet {
	tb.Helper()
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(time.Second), GasLimit: 60_000_000,
		Alloc: map[common.Address]genesis.Account{},
	}
	n := &posNet{g: g}
	vals := make([]pos.Validator, validators)
	for i := range validators {
		k := testKey(fmt.Sprintf("V%d", i))
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprintf("V%d", i), Stake: (*math.HexOrDecimal256)(ether(10))})
		n.keys = append(n.keys, k)
		vals[i] = pos.Validator{Address: a, Power: 1}
	}
	for _, name := range funded {
		g.Members = append(g.Members, genesis.Member{Address: addrOf(name), Name: name})
		g.Alloc[addrOf(name)] = genesis.Account{Balance: (*math.HexOrDecimal256)(ether(1_000_000))}
	}
	set, err := pos.NewValidatorSet(1, vals)
	if err != nil {
		tb.Fatal(err)
	}
	n.set = set
	for _, k := range n.keys {
		n.sealers = append(n.sealers, n.open(tb, n.memDB(tb), k))
	}
	return n
}

func (n *posNet) memDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.OpenInMemory()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// open opens the network's chain on db with key's engine (nil: verify only).
func (n *posNet) open(tb testing.TB, db *store.DB, key *ecdsa.PrivateKey) *Chain {
	tb.Helper()
	sched, err := pos.NewSchedule(n.set)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := New(db, n.g, pos.New(big.NewInt(testChainID), sched, key))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// extend builds count blocks on the sealers' head, each sealed by its
// round-0 proposer with txs(number) and certified by the first 2/3+1
// validators, and returns them with the last one's certificate.
func (n *posNet) extend(tb testing.TB, count int, txs func(number uint64) []*types.Transaction) ([]*types.Block, []byte) {
	tb.Helper()
	quorum := len(n.keys)*2/3 + 1
	out := make([]*types.Block, 0, count)
	for range count {
		parent := n.sealers[0].CurrentBlock()
		number := parent.NumberU64() + 1
		proposer := n.set.Proposer(number, 0)
		var sealer *Chain
		for i, k := range n.keys {
			if crypto.PubkeyToAddress(k.PublicKey) == proposer {
				sealer = n.sealers[i]
			}
		}
		eng := sealer.Engine().(*pos.Engine)
		eng.SetProposal(number, 0, n.commit)
		var list []*types.Transaction
		if txs != nil {
			list = txs(number)
		}
		built, err := sealer.BuildBlock(parent, list, parent.Time()+1)
		if err != nil || len(built.Block.Transactions()) != len(list) {
			tb.Fatalf("build block %d: %v (rejected %v)", number, err, built.Rejected)
		}
		sealed, err := eng.Seal(context.Background(), sealer, built.Block)
		if err != nil {
			tb.Fatal(err)
		}
		c := pos.Commit{}
		for _, k := range n.keys[:quorum] {
			v := &pos.Vote{Type: pos.Precommit, Height: number, BlockHash: sealed.Hash()}
			d := v.Digest(big.NewInt(testChainID))
			sig, err := crypto.Sign(d[:], k)
			if err != nil {
				tb.Fatal(err)
			}
			c.Signatures = append(c.Signatures, pos.Signature(sig))
		}
		for _, s := range n.sealers {
			if err := s.InsertCertified(sealed, c.Encode()); err != nil {
				tb.Fatalf("certify block %d: %v", number, err)
			}
		}
		n.commit = c
		out = append(out, sealed)
	}
	return out, n.commit.Encode()
}
