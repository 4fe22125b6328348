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

	"github.com/arbiter-chain/arbiter/consensus"
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
	sched   *pos.Schedule
	sealers []*Chain
	commit  pos.Commit // the commit of the sealers' head
	// signers, when set, says how many validators of its set sign the
	// commit of a block (a forger's chain); the sealers then take blocks
	// without checking commits. Nil: the smallest quorum.
	signers func(number uint64) int
}

// laxEngine is a sealer's engine on a forger's network: it checks
// headers without their signatures and takes every certificate.
type laxEngine struct{ *pos.Engine }

func (e laxEngine) VerifyHeader(chain consensus.ChainHeaderReader, header, parent *types.Header) error {
	return e.VerifyHeaderCovered(chain, header, parent)
}

func (laxEngine) VerifyCertificate(consensus.ChainHeaderReader, *types.Header, []byte) error {
	return nil
}

func newPosNet(tb testing.TB, validators int, funded ...string) *posNet {
	tb.Helper()
	return newPosSchedule(tb, []int{validators}, nil, funded...)
}

// newPosSchedule is newPosNet with a validator set per entry of sizes:
// set i holds validators Si-0, Si-1, ... (V0, V1, ... for the first) and
// is in force from height starts[i-1] (the first from height 1). Every
// validator is a member with equal stake and power.
func newPosSchedule(tb testing.TB, sizes []int, starts []uint64, funded ...string) *posNet {
	tb.Helper()
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(time.Second), GasLimit: 60_000_000,
		Alloc: map[common.Address]genesis.Account{},
	}
	n := &posNet{g: g}
	var sets []*pos.ValidatorSet
	for si, size := range sizes {
		vals := make([]pos.Validator, size)
		for i := range size {
			name := fmt.Sprintf("V%d", i)
			if si > 0 {
				name = fmt.Sprintf("S%d-%d", si, i)
			}
			k := testKey(name)
			a := crypto.PubkeyToAddress(k.PublicKey)
			g.Members = append(g.Members, genesis.Member{Address: a, Name: name, Stake: (*math.HexOrDecimal256)(ether(10))})
			n.keys = append(n.keys, k)
			vals[i] = pos.Validator{Address: a, Power: 1}
		}
		start := uint64(1)
		if si > 0 {
			start = starts[si-1]
		}
		set, err := pos.NewValidatorSet(start, vals)
		if err != nil {
			tb.Fatal(err)
		}
		sets = append(sets, set)
	}
	for _, name := range funded {
		g.Members = append(g.Members, genesis.Member{Address: addrOf(name), Name: name})
		g.Alloc[addrOf(name)] = genesis.Account{Balance: (*math.HexOrDecimal256)(ether(1_000_000))}
	}
	sched, err := pos.NewSchedule(sets...)
	if err != nil {
		tb.Fatal(err)
	}
	n.sched = sched
	for _, k := range n.keys {
		n.sealers = append(n.sealers, n.open(tb, n.memDB(tb), k))
	}
	return n
}

// forge makes the network's sealers take blocks without checking their
// signatures or certificates, and signs the commit of block number with
// signers(number) validators of its set.
func (n *posNet) forge(tb testing.TB, signers func(number uint64) int) {
	tb.Helper()
	n.signers = signers
	for i, k := range n.keys {
		c, err := New(n.memDB(tb), n.g, laxEngine{pos.New(big.NewInt(testChainID), n.sched, k)})
		if err != nil {
			tb.Fatal(err)
		}
		n.sealers[i] = c
	}
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
	c, err := New(db, n.g, pos.New(big.NewInt(testChainID), n.sched, key))
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
	out := make([]*types.Block, 0, count)
	for range count {
		parent := n.sealers[0].CurrentBlock()
		number := parent.NumberU64() + 1
		set, err := n.sched.At(number)
		if err != nil {
			tb.Fatal(err)
		}
		proposer := set.Proposer(number, 0)
		var sealer *Chain
		var setKeys []*ecdsa.PrivateKey
		for i, k := range n.keys {
			a := crypto.PubkeyToAddress(k.PublicKey)
			if a == proposer {
				sealer = n.sealers[i]
			}
			if set.Has(a) {
				setKeys = append(setKeys, k)
			}
		}
		quorum := len(setKeys)*2/3 + 1
		if n.signers != nil {
			quorum = n.signers(number)
		}
		var eng *pos.Engine
		switch e := sealer.Engine().(type) {
		case *pos.Engine:
			eng = e
		case laxEngine:
			eng = e.Engine
		}
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
		for _, k := range setKeys[:quorum] {
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
