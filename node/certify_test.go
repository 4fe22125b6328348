package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/posval"
	"github.com/arbiter-chain/arbiter/node/store"
)

// posNet is a proof-of-stake genesis of n staked members and, per member,
// a chain opened with that member's key (so it can seal proposals).
type posNet struct {
	g    *genesis.Genesis
	keys []*ecdsa.PrivateKey
	vals *pos.ValidatorSet
}

func newPosNet(t *testing.T, n int, contracts ...string) *posNet {
	t.Helper()
	if len(contracts) == 0 {
		contracts = []string{"membership"}
	}
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoS,
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc: map[common.Address]genesis.Account{}, Contracts: contracts,
	}
	stake := (*math.HexOrDecimal256)(new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18)))
	net := &posNet{g: g}
	for i := range n {
		k := memberKey(i)
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i), Stake: stake})
		net.keys = append(net.keys, k)
	}
	vals, err := posval.GenesisValidators(g)
	if err != nil {
		t.Fatal(err)
	}
	net.vals = vals
	return net
}

// open returns a fresh chain of the network with key's engine.
func (n *posNet) open(t *testing.T, key *ecdsa.PrivateKey) *chain.Chain {
	t.Helper()
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := OpenChain(db, n.g, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// key returns the key of addr.
func (n *posNet) key(addr common.Address) *ecdsa.PrivateKey {
	for _, k := range n.keys {
		if crypto.PubkeyToAddress(k.PublicKey) == addr {
			return k
		}
	}
	return nil
}

// propose builds and seals, on c's head, the block the proposer of round
// would propose, carrying lastCommit for the head.
func (n *posNet) propose(t *testing.T, c *chain.Chain, round uint32, lastCommit pos.Commit, txs ...*types.Transaction) *types.Block {
	t.Helper()
	parent := c.CurrentBlock()
	number := parent.NumberU64() + 1
	key := n.key(n.vals.Proposer(number, round))
	sealer := n.open(t, key) // same genesis, the proposer's key
	for i := uint64(1); i < number; i++ {
		b := c.GetBlockByNumber(i)
		if err := sealer.InsertCertified(b, c.Certificate(b.Hash(), i)); err != nil {
			t.Fatalf("copy block %d: %v", i, err)
		}
	}
	eng := sealer.Engine().(*pos.Engine)
	eng.SetProposal(number, round, lastCommit)
	built, err := sealer.BuildBlock(parent, txs, parent.Time()+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Block.Transactions()) != len(txs) {
		t.Fatalf("built block left out transactions: %v", built.Rejected)
	}
	sealed, err := eng.Seal(context.Background(), sealer, built.Block)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// commit returns the precommits of signers for b in round.
func (n *posNet) commit(t *testing.T, b *types.Block, round uint32, signers []*ecdsa.PrivateKey) pos.Commit {
	t.Helper()
	c := pos.Commit{Round: round}
	for _, k := range signers {
		v := &pos.Vote{Type: pos.Precommit, Height: b.NumberU64(), Round: round, BlockHash: b.Hash()}
		d := v.Digest(new(big.Int).SetUint64(n.g.ChainID))
		sig, err := crypto.Sign(d[:], k)
		if err != nil {
			t.Fatal(err)
		}
		c.Signatures = append(c.Signatures, pos.Signature(sig))
	}
	return c
}

// TestUndecidedBlockNeverHead is finding 1 of the Byzantine review: a
// validator that proposes some round could seal a block nobody voted for;
// it passed VerifyHeader, import made it head, and the validator driver
// started the next height on it, which no one could ever certify, so
// proof-of-stake halted for good. A block is now stored only with a
// certificate, so the head is always decided and final.
func TestUndecidedBlockNeverHead(t *testing.T) {
	net := newPosNet(t, 4)
	c := net.open(t, nil)
	b1 := net.propose(t, c, 0, pos.Commit{})
	if err := c.InsertBlock(b1); !errors.Is(err, consensus.ErrNoCertificate) {
		t.Fatalf("sealed, undecided block 1: have %v, want %v", err, consensus.ErrNoCertificate)
	}
	if err := c.InsertCertified(b1, net.commit(t, b1, 0, net.keys[:2]).Encode()); !errors.Is(err, consensus.ErrNoCertificate) {
		t.Fatalf("block 1 with 2 of 4 precommits: have %v, want %v", err, consensus.ErrNoCertificate)
	}
	if h := c.CurrentBlock().NumberU64(); h != 0 {
		t.Fatalf("head after undecided blocks: have %d, want 0", h)
	}
	c1 := net.commit(t, b1, 0, net.keys[:3])
	if err := c.InsertCertified(b1, c1.Encode()); err != nil {
		t.Fatalf("block 1 with 3 of 4 precommits: %v", err)
	}
	if h, f := c.CurrentBlock().Hash(), c.FinalizedHeader().Hash(); h != b1.Hash() || f != b1.Hash() {
		t.Fatalf("after the certified block: head %x final %x, want both %x", h, f, b1.Hash())
	}
	// The next proposer seals block 2 on block 1, with block 1's commit:
	// a perfectly sealed block, but no one voted for it.
	b2 := net.propose(t, c, 0, c1)
	if err := c.InsertBlock(b2); !errors.Is(err, consensus.ErrNoCertificate) {
		t.Fatalf("sealed, undecided block 2: have %v, want %v", err, consensus.ErrNoCertificate)
	}
	if c.CurrentBlock().NumberU64() != 1 || c.GetBlockByHash(b2.Hash()) != nil {
		t.Fatalf("undecided block 2 stored or made head (head %d)", c.CurrentBlock().NumberU64())
	}
	// Sync hands over blocks 1 and 2 with no certificate for the tip: only
	// block 1, which block 2's header certifies, is imported.
	fresh := net.open(t, nil)
	if n, err := fresh.InsertChain([]*types.Block{b1, b2}, nil); err != nil || n != 1 {
		t.Fatalf("sync of 1..2 without the tip's certificate: imported %d, %v; want 1, nil", n, err)
	}
	if fresh.CurrentBlock().Hash() != b1.Hash() {
		t.Fatalf("synced head: have %d, want 1", fresh.CurrentBlock().NumberU64())
	}
	// A certificate for another block does not certify this one.
	wrong := net.commit(t, b1, 0, net.keys[:3]).Encode()
	if err := c.InsertCertified(b2, wrong); !errors.Is(err, consensus.ErrNoCertificate) {
		t.Fatalf("block 2 with block 1's commit: have %v, want %v", err, consensus.ErrNoCertificate)
	}
	if err := c.InsertCertified(b2, net.commit(t, b2, 0, net.keys[1:]).Encode()); err != nil {
		t.Fatalf("block 2 certified: %v", err)
	}
	if c.CurrentBlock().Hash() != b2.Hash() {
		t.Fatalf("head after block 2 was certified: have %d", c.CurrentBlock().NumberU64())
	}
}

// TestUncertifiedStoredHeadIsNotFinal: a database whose head was stored
// without a certificate (as the chain did before it required one) restarts
// on the newest certified block, which the stored head's own header
// certifies.
func TestUncertifiedStoredHeadIsNotFinal(t *testing.T) {
	net := newPosNet(t, 4)
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := OpenChain(db, net.g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1 := net.propose(t, c, 0, pos.Commit{})
	c1 := net.commit(t, b1, 0, net.keys[:3])
	if err := c.InsertCertified(b1, c1.Encode()); err != nil {
		t.Fatal(err)
	}
	b2 := net.propose(t, c, 0, c1)
	c2 := net.commit(t, b2, 0, net.keys[:3])
	if err := c.InsertCertified(b2, c2.Encode()); err != nil {
		t.Fatal(err)
	}
	b3 := net.propose(t, c, 0, c2)
	// Store block 3 as head without its certificate, and drop block 2's:
	// what the old import wrote for a block that was sealed, not decided.
	if err := c.InsertCertified(b3, net.commit(t, b3, 0, net.keys[:3]).Encode()); err != nil {
		t.Fatal(err)
	}
	batch := db.NewBatch()
	batch.DeleteCertificate(b3.Hash(), 3)
	batch.DeleteCertificate(b2.Hash(), 2)
	if err := batch.Commit(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = OpenChain(db, net.g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if h, f := c.CurrentBlock().NumberU64(), c.FinalizedHeader().Number.Uint64(); h != 2 || f != 2 {
		t.Fatalf("after restart: head %d final %d, want 2 and 2", h, f)
	}
	if !bytes.Equal(c.Certificate(b2.Hash(), 2), c2.Encode()) {
		t.Fatal("block 2's certificate was not recovered from block 3's header")
	}
	if err := c.VerifyHead(); err != nil {
		t.Fatalf("VerifyHead: %v", err)
	}
}

// TestCommitAtValidatorCap is finding 6: a header carries its parent's
// commit, and with more than about 60 validators it outgrew the 4 KiB
// limit on Extra, while staking admits 128. Blocks of a 128-validator
// network, each carrying all 128 signatures, now import.
func TestCommitAtValidatorCap(t *testing.T) {
	if pos.MaxExtraSize > chain.MaxExtra {
		t.Fatalf("pos.MaxExtraSize %d above chain.MaxExtra %d", pos.MaxExtraSize, chain.MaxExtra)
	}
	if pos.MaxValidators != staking.MaxValidators {
		t.Fatalf("pos.MaxValidators %d, staking.MaxValidators %d", pos.MaxValidators, staking.MaxValidators)
	}
	net := newPosNet(t, pos.MaxValidators)
	c := net.open(t, nil)
	var last pos.Commit
	for range 3 {
		b := net.propose(t, c, 0, last)
		last = net.commit(t, b, 0, net.keys)
		if err := c.InsertCertified(b, last.Encode()); err != nil {
			t.Fatalf("block %d: %v", b.NumberU64(), err)
		}
		if b.NumberU64() > 1 && len(b.Extra()) < pos.MaxValidators*65 {
			t.Fatalf("block %d carries %d bytes of extra, too few for a full commit", b.NumberU64(), len(b.Extra()))
		}
	}
	if h := c.CurrentBlock().NumberU64(); h != 3 {
		t.Fatalf("head: have %d, want 3", h)
	}
}

// TestValidatorSetByParent is finding 4: the staking source read the set
// of a height from the canonical chain and cached it per epoch, so a set
// computed on a branch that later lost stayed in force. The set deciding
// a block is now read at its parent's state and keyed by the parent.
func TestValidatorSetByParent(t *testing.T) {
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc: map[common.Address]genesis.Account{}, Contracts: []string{"membership", "staking"},
	}
	stake := (*math.HexOrDecimal256)(new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18)))
	fund := (*math.HexOrDecimal256)(new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
	var keys []*ecdsa.PrivateKey
	for i := range 4 {
		k := memberKey(i)
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i), Stake: stake})
		g.Alloc[a] = genesis.Account{Balance: fund}
		keys = append(keys, k)
	}
	const epoch = 4
	reg, err := contracts.New(big.NewInt(testChainID), membership.New(), staking.New(staking.WithEpochLength(epoch)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	engine := pow.New(*g.PoW, time.Second, keys[0])
	c, err := chain.New(db, g, engine, chain.WithContracts(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	genesisSet, err := posval.GenesisValidators(g)
	if err != nil {
		t.Fatal(err)
	}
	src := posval.NewStakingSource(genesisSet)
	src.Bind(c)

	parsed, err := abi.JSON(bytes.NewReader(staking.ABIJSON))
	if err != nil {
		t.Fatal(err)
	}
	data, err := parsed.Pack("deposit")
	if err != nil {
		t.Fatal(err)
	}
	to := staking.Address
	deposit, err := types.SignNewTx(keys[1], types.LatestSignerForChainID(big.NewInt(testChainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(testChainID), Nonce: 0, To: &to, Gas: 1_000_000,
		GasTipCap: new(big.Int), GasFeeCap: new(big.Int), Value: new(big.Int).Mul(big.NewInt(30), big.NewInt(1e18)), Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two branches from genesis to the last block of epoch 0: A carries a
	// deposit that raises member 1's power from epoch 1, B does not.
	branch := func(first []*types.Transaction, offset uint64) *types.Block {
		parent := c.GetBlockByNumber(0)
		for i := range epoch - 1 {
			var txs []*types.Transaction
			if i == 0 {
				txs = first
			}
			built, err := c.BuildBlock(parent, txs, parent.Time()+1+offset)
			if err != nil {
				t.Fatal(err)
			}
			if len(built.Block.Transactions()) != len(txs) {
				t.Fatalf("built block left out transactions: %v", built.Rejected)
			}
			b, err := engine.Seal(context.Background(), c, built.Block)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.InsertBlock(b); err != nil {
				t.Fatal(err)
			}
			parent = b
		}
		return parent
	}
	a := branch([]*types.Transaction{deposit}, 0)
	b := branch(nil, 7)
	power := func(parent *types.Block) uint64 {
		t.Helper()
		set, err := src.ValidatorSet(parent.NumberU64()+1, parent.Hash())
		if err != nil {
			t.Fatal(err)
		}
		p, _ := set.Power(crypto.PubkeyToAddress(keys[1].PublicKey))
		return p
	}
	// Ask in both orders: neither branch's answer may leak into the other.
	pa, pb, pa2 := power(a), power(b), power(a)
	if pa != 4 || pa2 != 4 || pb != 1 {
		t.Fatalf("member 1's power in epoch 1: branch A %d then %d, branch B %d; want 4, 4, 1", pa, pa2, pb)
	}
	for _, parent := range []*types.Block{a, b} {
		st, err := c.StateAt(parent.Root())
		if err != nil {
			t.Fatal(err)
		}
		want, err := staking.ValidatorSetAt(st, epoch)
		if err != nil {
			t.Fatal(err)
		}
		have, err := src.ValidatorSet(epoch, parent.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(have.Validators()) != fmt.Sprint(want.Validators()) || have.Start() != want.Start() {
			t.Fatalf("branch %x: have %v from %d, want %v from %d", parent.Hash(), have.Validators(), have.Start(), want.Validators(), want.Start())
		}
	}
	if _, err := src.ValidatorSet(epoch+1, common.Hash{1}); err == nil {
		t.Fatal("a set for the child of an unknown block")
	}
}

// TestRemovedValidatorStaysConnected: a member removed by vote keeps its
// validator power until its epoch ends, so the network must keep admitting
// it until then; cut off at once, a removed validator holding a third of
// the power would stall the chain for the rest of the epoch.
func TestRemovedValidatorStaysConnected(t *testing.T) {
	net := newPosNet(t, 4, "membership", "staking")
	c := net.open(t, nil)
	parsed, err := abi.JSON(bytes.NewReader(membership.ABIJSON))
	if err != nil {
		t.Fatal(err)
	}
	removed := crypto.PubkeyToAddress(net.keys[3].PublicKey)
	data, err := parsed.Pack("propose", removed, false)
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSignerForChainID(big.NewInt(testChainID))
	var votes []*types.Transaction
	for _, k := range net.keys[:3] {
		to := membership.Address
		tx, err := types.SignNewTx(k, signer, &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), To: &to, Gas: 1_000_000,
			GasTipCap: new(big.Int), GasFeeCap: new(big.Int), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		votes = append(votes, tx)
	}
	b1 := net.propose(t, c, 0, pos.Commit{}, votes...)
	if err := c.InsertCertified(b1, net.commit(t, b1, 0, net.keys[:3]).Encode()); err != nil {
		t.Fatal(err)
	}
	if c.IsMember(c.CurrentHeader(), removed) {
		t.Fatal("the vote did not remove the member")
	}
	n := &Node{chain: c}
	admitted := n.admission()
	if !admitted.IsMember(removed) {
		t.Fatal("a removed member that still validates this epoch is not admitted")
	}
	if admitted.IsMember(crypto.PubkeyToAddress(memberKey(999).PublicKey)) {
		t.Fatal("an outsider is admitted")
	}
	if !admitted.IsMember(crypto.PubkeyToAddress(net.keys[0].PublicKey)) {
		t.Fatal("a member is not admitted")
	}
}
