package pos

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

var (
	testChainID = big.NewInt(4242)
	// testGenesisTime is the genesis timestamp; blocks add one second each.
	testGenesisTime uint64 = 1_700_000_000
	// testNow is the engines' clock, far enough ahead of every test block.
	testNow = time.Unix(int64(testGenesisTime)+1_000_000, 0)
)

// testKey returns a deterministic key named name.
func testKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("arbiter/pos/test/" + name)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addrOf(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// testGenesis returns the genesis block of the test chains.
func testGenesis() *types.Block {
	return types.NewBlockWithHeader(&types.Header{
		Number:      new(big.Int),
		Time:        testGenesisTime,
		Difficulty:  big.NewInt(1),
		GasLimit:    30_000_000,
		BaseFee:     new(big.Int),
		UncleHash:   types.EmptyUncleHash,
		TxHash:      types.EmptyTxsHash,
		ReceiptHash: types.EmptyReceiptsHash,
		Root:        types.EmptyRootHash,
	})
}

// mustSet returns a validator set from keys and powers (all 1 if nil).
func mustSet(t testing.TB, start uint64, keys []*ecdsa.PrivateKey, powers []uint64) *ValidatorSet {
	t.Helper()
	vals := make([]Validator, len(keys))
	for i, k := range keys {
		p := uint64(1)
		if powers != nil {
			p = powers[i]
		}
		vals[i] = Validator{Address: addrOf(k), Power: p}
	}
	s, err := NewValidatorSet(start, vals)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSchedule(t testing.TB, sets ...*ValidatorSet) *Schedule {
	t.Helper()
	s, err := NewSchedule(sets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildBlock builds and seals an empty block on parent for round with the
// engine's key; offset is added to the timestamp to make distinct blocks.
func buildBlock(t testing.TB, e *Engine, parent *types.Block, round uint32, lastCommit Commit, offset uint64) *types.Block {
	t.Helper()
	h := &types.Header{
		ParentHash:  parent.Hash(),
		Number:      new(big.Int).Add(parent.Number(), common.Big1),
		Time:        parent.Time() + 1 + offset,
		GasLimit:    parent.GasLimit(),
		BaseFee:     new(big.Int),
		TxHash:      types.EmptyTxsHash,
		ReceiptHash: types.EmptyReceiptsHash,
		Root:        parent.Root(),
	}
	e.SetProposal(h.Number.Uint64(), round, lastCommit)
	if err := e.Prepare(nil, h, parent.Header()); err != nil {
		t.Fatal(err)
	}
	b, err := e.Seal(context.Background(), nil, types.NewBlockWithHeader(h))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signVote returns a vote signed with key.
func signVote(t testing.TB, key *ecdsa.PrivateKey, vt VoteType, height uint64, round uint32, hash common.Hash) *Vote {
	t.Helper()
	v := &Vote{Type: vt, Height: height, Round: round, BlockHash: hash}
	sig, err := sign(v.Digest(testChainID), key)
	if err != nil {
		t.Fatal(err)
	}
	v.Signature = sig
	return v
}

// signProposal returns a proposal signed with key.
func signProposal(t testing.TB, key *ecdsa.PrivateKey, round uint32, vr int32, b *types.Block) *Proposal {
	t.Helper()
	p := &Proposal{Height: b.NumberU64(), Round: round, ValidRound: vr, Block: b}
	sig, err := sign(p.Digest(testChainID), key)
	if err != nil {
		t.Fatal(err)
	}
	p.Signature = sig
	return p
}

// commitOf returns a commit for hash at height signed by keys.
func commitOf(t testing.TB, keys []*ecdsa.PrivateKey, height uint64, round uint32, hash common.Hash) Commit {
	t.Helper()
	c := Commit{Round: round}
	for _, k := range keys {
		c.Signatures = append(c.Signatures, signVote(t, k, Precommit, height, round, hash).Signature)
	}
	return c
}

// decodeOwn decodes a message the test knows to be well-formed.
func decodeOwn(t testing.TB, raw []byte) any {
	t.Helper()
	m, err := DecodeMessage(raw, DefaultMaxMessageSize)
	if err != nil {
		t.Fatalf("decode own message: %v", err)
	}
	return m
}

// settle answers the core's validation requests at once with validate (nil
// accepts every block), as a driver whose validation were instant would,
// and returns in one Ready everything the core asked for meanwhile. answer,
// if not nil, hands an answer to the core instead of Validated (a replica
// logs it first).
func settle(core *Core, validate func(*types.Block) error, answer func(common.Hash, error)) Ready {
	var all Ready
	for {
		rd := core.Ready()
		all.Signed = append(all.Signed, rd.Signed...)
		all.Messages = append(all.Messages, rd.Messages...)
		all.Evidence = append(all.Evidence, rd.Evidence...)
		all.Refused = append(all.Refused, rd.Refused...)
		if rd.Build != nil {
			all.Build = rd.Build
		}
		if rd.Decided != nil {
			all.Decided = rd.Decided
		}
		if rd.Behind != 0 {
			all.Behind = rd.Behind
		}
		if len(rd.Validate) == 0 {
			return all
		}
		for _, b := range rd.Validate {
			var err error
			if validate != nil {
				err = validate(b)
			}
			if answer != nil {
				answer(b.Hash(), err)
			} else {
				_ = core.Validated(b.Hash(), err)
			}
		}
	}
}
