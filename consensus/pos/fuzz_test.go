package pos

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus"
)

// fuzzHangLimit is how long one fuzzed input may take before a target
// reports a hang. Every input here takes micro- to milliseconds; the limit
// only tells a hang (work set by an attacker's number) from a slow machine.
const fuzzHangLimit = 5 * time.Second

// within runs fn and fails t if it panics or does not return within
// fuzzHangLimit.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn()
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s panicked: %v", what, p)
		}
	case <-time.After(fuzzHangLimit):
		t.Fatalf("%s did not return within %v", what, fuzzHangLimit)
	}
}

// wrapsOne reports whether err wraps one of the sentinels.
func wrapsOne(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzChain is a four-validator chain: genesis, block 1 and block 2, whose
// Extra carries block 1's commit, with a verify-only engine.
type fuzzChain struct {
	keys    []*ecdsa.PrivateKey
	vals    *ValidatorSet
	verify  *Engine
	genesis *types.Block
	b1, b2  *types.Block
}

func newFuzzChain(t testing.TB) *fuzzChain {
	t.Helper()
	c := &fuzzChain{genesis: testGenesis()}
	byAddr := make(map[common.Address]*ecdsa.PrivateKey)
	for _, n := range []string{"A", "B", "C", "D"} {
		k := testKey(t, "fuzz-"+n)
		c.keys = append(c.keys, k)
		byAddr[addrOf(k)] = k
	}
	c.vals = mustSet(t, 1, c.keys, nil)
	sets := mustSchedule(t, c.vals)
	c.verify = New(testChainID, sets, nil, WithClock(func() time.Time { return testNow }))
	engine := func(h uint64, r uint32) *Engine {
		return New(testChainID, sets, byAddr[c.vals.Proposer(h, r)], WithClock(func() time.Time { return testNow }))
	}
	c.b1 = buildBlock(t, engine(1, 0), c.genesis, 0, Commit{}, 0)
	c.b2 = buildBlock(t, engine(2, 1), c.b1, 1, commitOf(t, c.keys[:3], 1, 0, c.b1.Hash()), 0)
	return c
}

// messageErrors are the sentinels DecodeMessage fails with.
var messageErrors = []error{errOversized, errMalformed, errUnknownType, errBlockMismatch}

// FuzzDecodeMessage decodes a consensus gossip message. Whatever decodes
// re-encodes to exactly the input (the wire form is canonical); every
// failure wraps a message sentinel.
func FuzzDecodeMessage(f *testing.F) {
	c := newFuzzChain(f)
	seeds := [][]byte{
		signVote(f, c.keys[0], Prevote, 1, 0, c.b1.Hash()).Encode(),
		signVote(f, c.keys[1], Precommit, 1, 3, common.Hash{}).Encode(),
		signProposal(f, c.keys[2], 1, 0, c.b1).Encode(),
		signProposal(f, c.keys[2], 0, -1, c.b1).Encode(),
		compactOf(f, signProposal(f, c.keys[2], 1, 0, c.b1), c.keys[2]).Encode(),
		(&CommitMessage{Block: c.b1, Commit: commitOf(f, c.keys[:3], 1, 0, c.b1.Hash())}).Encode(),
		{msgVote, 0xc0},
		{9},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeMessage(raw, DefaultMaxMessageSize)
		if err != nil {
			if !wrapsOne(err, messageErrors...) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		var enc []byte
		switch m := m.(type) {
		case *Proposal:
			enc = m.Encode()
		case *CompactProposal:
			enc = m.Encode()
		case *Vote:
			enc = m.Encode()
		case *CommitMessage:
			enc = m.Encode()
		default:
			t.Fatalf("decoded to %T", m)
		}
		if !bytes.Equal(enc, raw) {
			t.Fatalf("re-encodes to %x, want %x", enc, raw)
		}
	})
}

// FuzzDecodeExtra decodes a header's Extra: whatever decodes re-encodes to
// the input, and every failure wraps errInvalidExtra (so consensus's
// ErrInvalidSeal). SealHash never fails.
func FuzzDecodeExtra(f *testing.F) {
	c := newFuzzChain(f)
	f.Add(c.b1.Extra())
	f.Add(c.b2.Extra())
	f.Add((&Extra{Round: MaxRound, LastCommit: Commit{Round: MaxRound}}).Encode())
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeExtra(b)
		if err != nil {
			if !errors.Is(err, errInvalidExtra) || !errors.Is(err, consensus.ErrInvalidSeal) {
				t.Fatalf("error %q does not wrap errInvalidExtra", err)
			}
			return
		}
		if enc := e.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("re-encodes to %x, want %x", enc, b)
		}
		h := c.b2.Header()
		h.Extra = b
		_ = SealHash(h)
	})
}

// headerErrors are the sentinels VerifyHeader fails with.
var headerErrors = []error{
	consensus.ErrUnknownAncestor, consensus.ErrInvalidNumber, consensus.ErrInvalidTimestamp,
	consensus.ErrFutureBlock, consensus.ErrInvalidSeal, consensus.ErrInvalidDifficulty,
	consensus.ErrUnauthorized, errNoValidatorSet,
}

// FuzzVerifyHeaderExtra verifies block 2 of a real chain with a fuzzed
// Extra against its parent. Verification ends quickly whatever the round
// or commit in Extra, fails only with consensus sentinels, and accepts
// only an Extra whose seal is the proposer's.
func FuzzVerifyHeaderExtra(f *testing.F) {
	c := newFuzzChain(f)
	parent := c.b1.Header()
	f.Add(c.b2.Extra())
	ex, err := DecodeExtra(c.b2.Extra())
	if err != nil {
		f.Fatal(err)
	}
	for _, round := range []uint32{0, 7, MaxRound} {
		e := *ex
		e.Round = round
		f.Add(e.Encode())
	}
	e := *ex
	e.LastCommit.Signatures = append(e.LastCommit.Signatures, e.LastCommit.Signatures[0])
	f.Add(e.Encode())
	f.Fuzz(func(t *testing.T, extra []byte) {
		h := c.b2.Header()
		h.Extra = extra
		var err error
		within(t, "VerifyHeader", func() { err = c.verify.VerifyHeader(nil, h, parent) })
		if err != nil {
			if !wrapsOne(err, headerErrors...) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		signer, err := c.verify.Author(h)
		if err != nil || signer != h.Coinbase {
			t.Fatalf("accepted a header whose seal recovers %v (%v), coinbase %v", signer, err, h.Coinbase)
		}
	})
}

// evidenceErrors are the sentinels DecodeEvidence and VerifyEvidence fail
// with.
var evidenceErrors = []error{errMalformed, errEvidenceMismatch, errBadSignature, errEvidenceSigners, errNoValidatorSet, errNotValidator}

// FuzzEvidence decodes and verifies equivocation evidence. What decodes
// re-encodes to the input; what verifies names a validator who signed two
// conflicting votes; every failure wraps an evidence sentinel.
func FuzzEvidence(f *testing.F) {
	c := newFuzzChain(f)
	a := signVote(f, c.keys[1], Precommit, 5, 2, common.Hash{1})
	b := signVote(f, c.keys[1], Precommit, 5, 2, common.Hash{2})
	f.Add(NewEvidence(a, b).Encode())
	f.Add(NewEvidence(a, a).Encode())
	f.Add(NewEvidence(a, signVote(f, c.keys[2], Precommit, 5, 2, common.Hash{3})).Encode())
	f.Add(NewEvidence(signVote(f, testKey(f, "outsider"), Prevote, 1, 0, common.Hash{}), signVote(f, testKey(f, "outsider"), Prevote, 1, 0, common.Hash{9})).Encode())
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvidence(raw)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decode error %q does not wrap errMalformed", err)
			}
			return
		}
		if enc := ev.Encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("re-encodes to %x, want %x", enc, raw)
		}
		offender, err := VerifyEvidence(testChainID, ev, c.vals)
		if err != nil {
			if !wrapsOne(err, evidenceErrors...) {
				t.Fatalf("verify error %q wraps no sentinel", err)
			}
			return
		}
		sa, errA := ev.VoteA.Signer(testChainID)
		sb, errB := ev.VoteB.Signer(testChainID)
		if !c.vals.Has(offender) || errA != nil || errB != nil || sa != offender || sb != offender ||
			ev.VoteA.BlockHash == ev.VoteB.BlockHash || ev.VoteA.Height != ev.VoteB.Height || ev.VoteA.Round != ev.VoteB.Round {
			t.Fatalf("verified evidence that proves nothing against %v: %+v", offender, ev)
		}
	})
}

// walRecords splits b into records: each starts with a kind byte and a
// length byte, then that many data bytes (cut short at the end of b).
func walRecords(b []byte) []walRecord {
	var out []walRecord
	for len(b) >= 2 {
		kind, n := b[0], min(int(b[1]), len(b)-2)
		out = append(out, walRecord{kind: kind, data: bytes.Clone(b[2 : 2+n])})
		b = b[2+n:]
	}
	return out
}

// FuzzWAL opens a WAL file made of well-framed records followed by fuzzed
// bytes (a torn or corrupt tail). Opening never fails on content: it
// keeps every framed record, cuts the file right after the last record it
// returns, and reopening the cut file returns the same records and drops
// nothing.
func FuzzWAL(f *testing.F) {
	f.Add([]byte{walHeight, 8, 0, 0, 0, 0, 0, 0, 0, 1, walTick, 0, walMessage, 3, 1, 2, 3}, []byte{})
	f.Add([]byte{walOwn, 2, 9, 9}, frame(walTick, nil)[:5])
	torn := frame(walMessage, bytes.Repeat([]byte{7}, 40))
	f.Add([]byte{walTick, 0}, torn[:len(torn)-1])
	corrupt := frame(walMessage, []byte("abc"))
	corrupt[len(corrupt)-1] ^= 1
	f.Add([]byte{walTick, 0}, corrupt)
	huge := make([]byte, walHeaderSize)
	binary.BigEndian.PutUint32(huge, maxWALRecord+1)
	f.Add([]byte{}, huge)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, good, tail []byte) {
		recs := walRecords(good)
		var file []byte
		for _, r := range recs {
			file = append(file, frame(r.kind, r.data)...)
		}
		file = append(file, tail...)
		path := filepath.Join(dir, "wal")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		w, got, dropped, err := openWAL(path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
		if len(got) < len(recs) || !sameRecords(got[:len(recs)], recs) {
			t.Fatalf("kept %d records, want at least the %d framed ones", len(got), len(recs))
		}
		var kept []byte
		for _, r := range got {
			kept = append(kept, frame(r.kind, r.data)...)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(after, kept) || !bytes.HasPrefix(file, kept) || dropped != int64(len(file)-len(kept)) {
			t.Fatalf("file cut to %d bytes, dropped %d; want %d bytes, the prefix of the records returned", len(after), dropped, len(kept))
		}
		w, again, dropped, err := openWAL(path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
		if dropped != 0 || !sameRecords(again, got) {
			t.Fatalf("reopen: %d records, %d dropped; want %d, 0", len(again), dropped, len(got))
		}
	})
}
