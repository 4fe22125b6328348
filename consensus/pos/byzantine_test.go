package pos

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// TestCheckGossip is finding 7 of the Byzantine review: consensus gossip
// was relayed once it decoded. Now a message is relayed only if a
// validator of the height it names signed it (the round's proposer, for a
// proposal); junk is an error that counts against the peer, and messages
// for decided or far heights are dropped quietly.
func TestCheckGossip(t *testing.T) {
	f := newEngineFixture(t)
	head := f.genesis.Header()
	outsider := testKey(t, "gossip-outsider")
	b1 := f.b1
	good := signVote(t, f.keys[0], Prevote, 1, 0, b1.Hash())
	badSig := *good
	badSig.Signature[5] ^= 0xff
	// b1's header with a body it does not commit to: the signatures,
	// over the header's hash, still verify.
	swapped := withTxs(t, b1, 1)
	swapped = types.NewBlockWithHeader(b1.Header()).WithBody(types.Body{Transactions: swapped.Transactions()})
	listSwapped := compactOf(t, signProposal(t, f.proposer(1, 0), 0, -1, withTxs(t, b1, 2)), f.proposer(1, 0))
	listSwapped.TxHashes = listSwapped.TxHashes[:1]
	hh := b1.Header()
	hh.GasLimit *= 2
	highGas := types.NewBlockWithHeader(hh)
	// b1 with an uncle or a withdrawal appended by a relay: the same
	// header, hash and transactions, so the signatures still verify.
	withUncle := types.NewBlockWithHeader(b1.Header()).WithBody(types.Body{Transactions: b1.Transactions(), Uncles: []*types.Header{b1.Header()}})
	withWithdrawal := types.NewBlockWithHeader(b1.Header()).WithBody(types.Body{Transactions: b1.Transactions(), Withdrawals: []*types.Withdrawal{{Index: 1}}})
	if withUncle.Hash() != b1.Hash() || withWithdrawal.Hash() != b1.Hash() {
		t.Fatal("appending to the body changed the block hash: the cases below test nothing")
	}
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"vote of a validator", good.Encode(), nil},
		{"proposal of the round's proposer", signProposal(t, f.proposer(1, 0), 0, -1, b1).Encode(), nil},
		{"proposal of a later round's proposer", signProposal(t, f.proposer(1, 3), 3, -1, b1).Encode(), nil},
		{"proposal of another validator", signProposal(t, f.notProposer(1, 0), 0, -1, b1).Encode(), errNotProposer},
		{"proposal whose body a relay swapped", signProposal(t, f.proposer(1, 0), 0, -1, swapped).Encode(), errBlockMismatch},
		{"proposal with an uncle appended", signProposal(t, f.proposer(1, 0), 0, -1, withUncle).Encode(), errMalformed},
		{"proposal with a withdrawal appended", signProposal(t, f.proposer(1, 0), 0, -1, withWithdrawal).Encode(), errMalformed},
		{"commit with an uncle appended", (&CommitMessage{Block: withUncle, Commit: commitOf(t, f.keys[:3], 1, 0, b1.Hash())}).Encode(), errMalformed},
		{"compact proposal of the round's proposer", compactOf(t, signProposal(t, f.proposer(1, 0), 0, -1, b1), f.proposer(1, 0)).Encode(), nil},
		{"compact proposal of another validator", compactOf(t, signProposal(t, f.notProposer(1, 0), 0, -1, b1), f.notProposer(1, 0)).Encode(), errNotProposer},
		{"compact proposal whose list a relay swapped", listSwapped.Encode(), errListSigner},
		{"compact proposal whose list another key signed", compactOf(t, signProposal(t, f.proposer(1, 0), 0, -1, b1), f.notProposer(1, 0)).Encode(), errListSigner},
		{"compact proposal above the chain's gas limit", compactOf(t, signProposal(t, f.proposer(1, 0), 0, -1, highGas), f.proposer(1, 0)).Encode(), errBlockMismatch},
		{"vote of a non-validator", signVote(t, outsider, Prevote, 1, 0, b1.Hash()).Encode(), errNotValidator},
		{"forged signature (recovers a stranger)", badSig.Encode(), errNotValidator},
		{"zero signature", (&Vote{Type: Prevote, Height: 1, BlockHash: b1.Hash()}).Encode(), errBadSignature},
		{"next height, a validator (look-ahead)", signVote(t, f.keys[1], Precommit, 2, 0, common.Hash{1}).Encode(), nil},
		{"next height, a non-validator", signVote(t, outsider, Precommit, 2, 0, common.Hash{1}).Encode(), errNotValidator},
		{"decided height", signVote(t, f.keys[0], Prevote, 0, 0, b1.Hash()).Encode(), ErrStaleMessage},
		{"beyond the look-ahead", signVote(t, f.keys[0], Prevote, 3, 0, b1.Hash()).Encode(), ErrFutureMessage},
		{"commit with a quorum", (&CommitMessage{Block: b1, Commit: commitOf(t, f.keys[:3], 1, 0, b1.Hash())}).Encode(), nil},
		{"commit whose body a relay swapped", (&CommitMessage{Block: swapped, Commit: commitOf(t, f.keys[:3], 1, 0, b1.Hash())}).Encode(), errBlockMismatch},
		{"commit without a quorum", (&CommitMessage{Block: b1, Commit: commitOf(t, f.keys[:2], 1, 0, b1.Hash())}).Encode(), errInsufficientPower},
		{"round above MaxRound", signVote(t, f.keys[0], Prevote, 1, MaxRound+1, b1.Hash()).Encode(), errMalformed},
		{"garbage", []byte{msgVote, 0xc0}, errMalformed},
		{"oversized", make([]byte, 2049), errOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.verify.CheckGossip(tt.raw, 2048, head)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("have %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCheckGossipFrom: what CheckGossipFrom lets through comes with its
// signer, height and kind, which a relay's bound per validator counts.
func TestCheckGossipFrom(t *testing.T) {
	f := newEngineFixture(t)
	head := f.genesis.Header()
	b1 := f.b1
	tests := []struct {
		name string
		raw  []byte
		want GossipSource
	}{
		{"vote", signVote(t, f.keys[0], Prevote, 1, 0, b1.Hash()).Encode(), GossipSource{Signer: addrOf(f.keys[0]), Height: 1}},
		{"next height's vote", signVote(t, f.keys[1], Precommit, 2, 0, common.Hash{1}).Encode(), GossipSource{Signer: addrOf(f.keys[1]), Height: 2}},
		{"proposal", signProposal(t, f.proposer(1, 3), 3, -1, b1).Encode(), GossipSource{Signer: addrOf(f.proposer(1, 3)), Height: 1, Proposal: true, Full: true}},
		{"compact proposal", compactOf(t, signProposal(t, f.proposer(1, 0), 0, -1, b1), f.proposer(1, 0)).Encode(), GossipSource{Signer: addrOf(f.proposer(1, 0)), Height: 1, Proposal: true}},
		{"commit (many signers)", (&CommitMessage{Block: b1, Commit: commitOf(t, f.keys[:3], 1, 0, b1.Hash())}).Encode(), GossipSource{Height: 1}},
	}
	for _, tt := range tests {
		src, err := f.verify.CheckGossipFrom(tt.raw, 2048, head)
		if err != nil || src != tt.want {
			t.Errorf("%s: have %+v, %v; want %+v, nil", tt.name, src, err, tt.want)
		}
	}
}

// TestNextHeightBufferPerValidator is the other half of finding 7: the
// buffer of next-height messages was bounded only in total, so one
// validator could fill it. Each validator now has a share, and only
// validators may use it.
func TestNextHeightBufferPerValidator(t *testing.T) {
	h := newCoreHarness(t)
	flooder, honest := h.others[0], h.others[1]
	var refused error
	for r := uint32(0); r < 4*maxBufferedPerSigner && refused == nil; r++ {
		refused = h.core.Step(signVote(t, flooder, Prevote, 2, r, common.Hash{byte(r)}).Encode())
	}
	if !errors.Is(refused, errBufferFull) {
		t.Fatalf("flooding the next height: have %v, want %v", refused, errBufferFull)
	}
	if n := len(h.core.buffer); n != maxBufferedPerSigner {
		t.Fatalf("buffered from the flooder: have %d, want %d", n, maxBufferedPerSigner)
	}
	if err := h.core.Step(signVote(t, honest, Prevote, 2, 0, common.Hash{1}).Encode()); err != nil {
		t.Fatalf("honest validator after the flood: have %v, want nil", err)
	}
	if err := h.core.Step(signVote(t, testKey(t, "outsider"), Prevote, 2, 0, common.Hash{1}).Encode()); !errors.Is(err, errNotValidator) {
		t.Fatalf("non-validator: have %v, want %v", err, errNotValidator)
	}
	again := signVote(t, honest, Prevote, 2, 0, common.Hash{1}).Encode()
	if err := h.core.Step(again); !errors.Is(err, errDuplicate) {
		t.Fatalf("a copy: have %v, want %v", err, errDuplicate)
	}
}

// TestRefusedMessagesNotLogged: every inbound message used to be written
// to the WAL before the core judged it, so copies, junk and far-round
// floods from a validator grew the log without bound. Only accepted
// messages are logged now, and a validator's far round is recorded at
// most once a tick.
func TestRefusedMessagesNotLogged(t *testing.T) {
	h := newCoreHarness(t)
	path := filepath.Join(t.TempDir(), "wal")
	cfg := h.core.cfg
	rep, _, err := openReplica(cfg, path, h.genesis, nil, h.vals, true)
	if err != nil {
		t.Fatal(err)
	}
	v := h.block(0, 0)
	good := signVote(t, h.others[0], Prevote, 1, 0, v.Hash()).Encode()
	inputs := [][]byte{good, good, good, []byte{msgVote, 0xc0}, signVote(t, testKey(t, "x"), Prevote, 1, 0, v.Hash()).Encode()}
	for r := uint32(100); r < 200; r++ { // far rounds, all in one tick
		inputs = append(inputs, signVote(t, h.others[1], Prevote, 1, r, v.Hash()).Encode())
	}
	for _, raw := range inputs {
		if _, err := rep.message(raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := rep.wal.close(); err != nil {
		t.Fatal(err)
	}
	_, recs, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	messages, far := 0, 0
	for _, r := range recs {
		switch r.kind {
		case walMessage:
			messages++
		case walFar:
			far++
		}
	}
	if messages != 1 || far != 1 {
		t.Fatalf("logged: have %d messages and %d far rounds, want 1 (the vote) and 1", messages, far)
	}
}

// TestFarProposalLoggedSmall: a proposal far ahead is not tallied, only
// its signer's round is recorded; it used to be logged whole, so a
// Byzantine proposer could have a block of megabytes written to every
// validator's log every tick (a new far round each time). The log now
// keeps the signer and round, and a replay restores what the core took.
func TestFarProposalLoggedSmall(t *testing.T) {
	h := newCoreHarness(t)
	path := filepath.Join(t.TempDir(), "wal")
	cfg := h.core.cfg
	rep, _, err := openReplica(cfg, path, h.genesis, nil, h.vals, true)
	if err != nil {
		t.Fatal(err)
	}
	r := uint32(maxRoundsAhead + 1)
	for h.proposerKey(r) == h.self {
		r++
	}
	key := h.proposerKey(r)
	raw := signProposal(t, key, r, -1, h.block(r, 7)).Encode()
	if _, err := rep.message(raw); err != nil {
		t.Fatalf("far proposal: %v", err)
	}
	if got := rep.core.latestRound[addrOf(key)]; got != r {
		t.Fatalf("latest round of the proposer: have %d, want %d", got, r)
	}
	if err := rep.wal.close(); err != nil {
		t.Fatal(err)
	}
	_, recs, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	var far [][]byte
	for _, rec := range recs {
		switch rec.kind {
		case walMessage, walOwn:
			if bytes.Equal(rec.data, raw) {
				t.Fatalf("the far proposal (%d bytes) is logged whole", len(raw))
			}
		case walFar:
			far = append(far, rec.data)
		}
	}
	if len(far) != 1 || len(far[0]) != common.AddressLength+4 {
		t.Fatalf("far-round records: have %d (%x), want one of %d bytes", len(far), far, common.AddressLength+4)
	}

	again, _, err := openReplica(cfg, path, h.genesis, nil, h.vals, true)
	if err != nil {
		t.Fatal(err)
	}
	defer again.wal.close()
	if got := again.core.latestRound[addrOf(key)]; got != r {
		t.Fatalf("latest round of the proposer after replay: have %d, want %d", got, r)
	}
}

// TestNextHeightCommitKept: a commit for the next height arrives when the
// chain's head moved past this height before the core decided it (the
// block came by gossip or sync). The first such commit is kept and
// decides the next height as soon as StartHeight reaches it; more are
// refused as copies.
func TestNextHeightCommitKept(t *testing.T) {
	h := newCoreHarness(t)
	b1 := h.block(0, 0)
	c1 := commitOf(t, h.others, 1, 0, b1.Hash())
	e := New(testChainID, mustSchedule(t, h.vals), h.byAddr[h.vals.Proposer(2, 0)])
	b2 := buildBlock(t, e, b1, 0, c1, 0)
	// One without a quorum cannot take the slot.
	if err := h.core.Step((&CommitMessage{Block: b2, Commit: commitOf(t, h.others[:2], 2, 0, b2.Hash())}).Encode()); !errors.Is(err, errInsufficientPower) {
		t.Fatalf("a commit without a quorum for the next height: have %v, want %v", err, errInsufficientPower)
	}
	if err := h.core.Step((&CommitMessage{Block: b2, Commit: commitOf(t, h.others, 2, 0, b2.Hash())}).Encode()); err != nil {
		t.Fatalf("a commit for the next height: have %v, want it kept", err)
	}
	other := (&CommitMessage{Block: b2, Commit: commitOf(t, h.others[1:], 2, 0, b2.Hash())}).Encode()
	if err := h.core.Step(other); !errors.Is(err, errDuplicate) {
		t.Fatalf("a second commit for the next height: have %v, want %v", err, errDuplicate)
	}
	if err := h.core.StartHeight(b1, h.vals, &c1); err != nil {
		t.Fatal(err)
	}
	rd := h.core.Ready()
	if len(rd.Validate) != 1 || rd.Validate[0].Hash() != b2.Hash() {
		t.Fatalf("height 2 after StartHeight: asked to validate %d blocks, want the kept commit's block", len(rd.Validate))
	}
	if err := h.core.Validated(b2.Hash(), nil); err != nil {
		t.Fatal(err)
	}
	rd = h.core.Ready()
	if rd.Decided == nil || rd.Decided.Block.Hash() != b2.Hash() {
		t.Fatalf("height 2 once its block is valid: decided %v, want block %x by the kept commit", rd.Decided, b2.Hash())
	}
}
