package pos

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

// withTxs returns b carrying n signed transfers, its header's transaction
// root set to match (the seal is not checked by the message layer).
func withTxs(t testing.TB, b *types.Block, n int) *types.Block {
	t.Helper()
	key := testKey(t, "compact-sender")
	signer := types.LatestSignerForChainID(testChainID)
	txs := make([]*types.Transaction, n)
	for i := range txs {
		tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: testChainID, Nonce: uint64(i), Gas: params.TxGas,
			GasFeeCap: big.NewInt(1), To: &common.Address{0xaa}, Value: big.NewInt(int64(i + 1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		txs[i] = tx
	}
	h := b.Header()
	h.TxHash = types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil))
	return types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs})
}

// compactOf returns p by reference, its list signed with key.
func compactOf(t testing.TB, p *Proposal, key *ecdsa.PrivateKey) *CompactProposal {
	t.Helper()
	c, err := p.Compact(testChainID, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompactProposal: a proposal sent by reference decodes, keeps the
// proposal's signature, and filled with its transactions is the very
// proposal it came from; transactions that do not match the hashes, in
// number or in order, are refused.
func TestCompactProposal(t *testing.T) {
	h := newCoreHarness(t)
	b := withTxs(t, h.block(0, 0), 5)
	p := signProposal(t, h.proposerKey(2), 2, 1, b)
	raw := compactOf(t, p, h.proposerKey(2)).Encode()
	if len(raw) >= len(p.Encode()) {
		t.Fatalf("compact proposal of %d bytes, full one %d", len(raw), len(p.Encode()))
	}
	m, err := DecodeMessage(raw, DefaultMaxMessageSize)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.(*CompactProposal)
	if !ok {
		t.Fatalf("decoded %T", m)
	}
	if !bytes.Equal(c.Encode(), raw) {
		t.Fatal("re-encoding differs")
	}
	if c.BlockHash() != b.Hash() || c.ValidRound != 1 || c.Round != 2 || len(c.TxHashes) != 5 {
		t.Fatalf("decoded %+v", c)
	}
	if signer, err := c.Signers(testChainID); err != nil || signer != addrOf(h.proposerKey(2)) {
		t.Fatalf("signer %v, %v", signer, err)
	}
	// The list signature covers the list: a shorter one recovers a stranger.
	cut := *c
	cut.TxHashes = c.TxHashes[1:]
	if _, err := cut.Signers(testChainID); !errors.Is(err, errListSigner) {
		t.Fatalf("list cut after signing: have %v, want %v", err, errListSigner)
	}
	full, err := c.Fill(b.Transactions())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(full.Encode(), p.Encode()) {
		t.Fatal("filled proposal differs from the original")
	}

	txs := b.Transactions()
	swapped := append(types.Transactions{txs[1], txs[0]}, txs[2:]...)
	for name, fill := range map[string][]*types.Transaction{
		"one short":    txs[:4],
		"one more":     append(append(types.Transactions{}, txs...), txs[0]),
		"out of order": swapped,
		"a nil":        {txs[0], txs[1], nil, txs[3], txs[4]},
	} {
		if _, err := c.Fill(fill); !errors.Is(err, errCompactFill) {
			t.Errorf("%s: have %v, want %v", name, err, errCompactFill)
		}
	}
}

// TestCompactProposalBounds: decoding refuses what filling would pay for
// without a valid block to show for it: more hashes than the header's gas
// limit admits transactions, and a header that is not at the height.
func TestCompactProposalBounds(t *testing.T) {
	h := newCoreHarness(t)
	b := h.block(0, 0)
	sign := func(c *CompactProposal) []byte {
		sig, err := sign(c.Digest(testChainID), h.proposerKey(0))
		if err != nil {
			t.Fatal(err)
		}
		c.Signature = sig
		return c.Encode()
	}
	header := b.Header()
	header.GasLimit = 3 * params.TxGas
	four := make([]common.Hash, 4)
	if _, err := DecodeMessage(sign(&CompactProposal{Height: 1, ValidRound: -1, Header: header, TxHashes: four}), DefaultMaxMessageSize); !errors.Is(err, errMalformed) {
		t.Fatalf("4 hashes under a limit of 3 transfers: have %v, want %v", err, errMalformed)
	}
	if _, err := DecodeMessage(sign(&CompactProposal{Height: 1, ValidRound: -1, Header: header, TxHashes: four[:3]}), DefaultMaxMessageSize); err != nil {
		t.Fatalf("3 hashes under a limit of 3 transfers: %v", err)
	}
	if _, err := DecodeMessage(sign(&CompactProposal{Height: 2, ValidRound: -1, Header: b.Header()}), DefaultMaxMessageSize); !errors.Is(err, errBlockMismatch) {
		t.Fatalf("header of another height: have %v, want %v", err, errBlockMismatch)
	}
	if _, err := DecodeMessage(sign(&CompactProposal{Height: 1, Round: 1, ValidRound: 1, Header: b.Header()}), DefaultMaxMessageSize); !errors.Is(err, errMalformed) {
		t.Fatalf("valid round not below the round: have %v, want %v", err, errMalformed)
	}
}

// TestCoreRefusesCompactProposal: the core judges full proposals only; a
// compact one that reached it unfilled changes nothing.
func TestCoreRefusesCompactProposal(t *testing.T) {
	h := newCoreHarness(t)
	p := signProposal(t, h.proposerKey(0), 0, -1, withTxs(t, h.block(0, 0), 2))
	if err := h.step(compactOf(t, p, h.proposerKey(0)).Encode()); !errors.Is(err, ErrCompactUnfilled) {
		t.Fatalf("have %v, want %v", err, ErrCompactUnfilled)
	}
	if err := h.step(p.Encode()); err != nil {
		t.Fatalf("the full proposal after it: %v", err)
	}
}

// TestCompactWire: the proposer's own proposal, in wire form, turns into
// the same compact proposal whether its transactions are looked up by
// root or decoded; anything but a proposal is refused.
func TestCompactWire(t *testing.T) {
	h := newCoreHarness(t)
	key := h.proposerKey(1)
	b := withTxs(t, h.block(1, 0), 4)
	p := signProposal(t, key, 1, 0, b)
	want := compactOf(t, p, key).Encode()
	lookups := 0
	byRoot := func(root common.Hash) (types.Transactions, bool) {
		lookups++
		if root == b.TxHash() {
			return b.Transactions(), true
		}
		return nil, false
	}
	none := func(common.Hash) (types.Transactions, bool) { return nil, false }
	for name, known := range map[string]func(common.Hash) (types.Transactions, bool){"by root": byRoot, "decoded": none} {
		c, blk, err := CompactWire(p.Encode(), known, testChainID, key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(c.Encode(), want) || blk.Hash() != b.Hash() || len(blk.Transactions()) != 4 {
			t.Fatalf("%s: compact form or block differs", name)
		}
	}
	if lookups != 1 {
		t.Fatalf("lookups by root: have %d, want 1", lookups)
	}
	vote := signVote(t, key, Prevote, 1, 0, b.Hash()).Encode()
	if _, _, err := CompactWire(vote, none, testChainID, key); !errors.Is(err, errMalformed) {
		t.Fatalf("a vote: have %v, want %v", err, errMalformed)
	}
}
