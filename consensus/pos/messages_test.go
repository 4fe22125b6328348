package pos

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

func TestMessagesRoundTrip(t *testing.T) {
	h := newCoreHarness(t)
	b := h.block(0, 0)
	key := h.others[0]
	tests := []struct {
		name string
		raw  []byte
	}{
		{"proposal", signProposal(t, h.proposerKey(0), 0, -1, b).Encode()},
		{"re-proposal", signProposal(t, h.proposerKey(3), 3, 2, b).Encode()},
		{"prevote", signVote(t, key, Prevote, 1, 2, b.Hash()).Encode()},
		{"nil precommit", signVote(t, key, Precommit, 1, 2, common.Hash{}).Encode()},
		{"commit", (&CommitMessage{Block: b, Commit: commitOf(t, h.others[:4], 1, 0, b.Hash())}).Encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.raw, DefaultMaxMessageSize)
			if err != nil {
				t.Fatal(err)
			}
			var again []byte
			switch m := m.(type) {
			case *Proposal:
				again = m.Encode()
				if signer, err := m.Signer(testChainID); err != nil || !h.vals.Has(signer) {
					t.Fatalf("proposal signer %v, %v", signer, err)
				}
			case *Vote:
				again = m.Encode()
				if signer, err := m.Signer(testChainID); err != nil || signer != addrOf(key) {
					t.Fatalf("vote signer %v, %v", signer, err)
				}
			case *CommitMessage:
				again = m.Encode()
			}
			if !bytes.Equal(again, tt.raw) {
				t.Fatal("re-encoding differs")
			}
		})
	}
	// ValidRound -1 travels as 0.
	p := signProposal(t, h.proposerKey(0), 0, -1, b)
	var enc proposalRLP
	if err := rlp.DecodeBytes(p.Encode()[1:], &enc); err != nil || enc.ValidRound != 0 {
		t.Fatalf("wire valid round: have %d, %v", enc.ValidRound, err)
	}
}

func TestDecodeExtraStrict(t *testing.T) {
	good := (&Extra{Round: 2, LastCommit: Commit{Round: 1, Signatures: []Signature{{1}}}, Seal: make([]byte, 65)}).Encode()
	if _, err := DecodeExtra(good); err != nil {
		t.Fatal(err)
	}
	badSeal := (&Extra{Seal: make([]byte, 64)}).Encode()
	nonCanonical, _ := rlp.EncodeToBytes([]any{[]byte{0, 1}, []any{uint64(0), []any{}}, []byte{}})
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"trailing byte", append(good, 0)},
		{"short seal", badSeal},
		{"round with leading zero", nonCanonical},
		{"round above MaxRound", (&Extra{Round: MaxRound + 1}).Encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeExtra(tt.raw); !errors.Is(err, errInvalidExtra) {
				t.Fatalf("have %v, want %v", err, errInvalidExtra)
			}
		})
	}
}
