package txpool

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// TestSenderRemembered: the pool remembers the sender of what it admits,
// and of nothing it refuses, so block validation can skip their recovery.
func TestSenderRemembered(t *testing.T) {
	e := newEnv(t, 0)
	tests := []struct {
		name  string
		tx    *types.Transaction
		err   error
		known bool
	}{
		{"admitted", sign(t, e.alice, legacy(0, 1)), nil, true},
		{"admitted behind a gap", sign(t, e.bob, legacy(5, 1)), nil, true},
		{"refused: not allowed", sign(t, e.eve, legacy(0, 1)), rules.ErrNotAllowed, false},
		{"refused: nonce too low", sign(t, e.carol, legacy(1, 1)), rules.ErrNonceTooLow, false},
	}
	p := e.pool(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Add(tt.tx); !errors.Is(err, tt.err) {
				t.Fatalf("add: have %v, want %v", err, tt.err)
			}
			from, ok := p.Sender(tt.tx.Hash())
			if ok != tt.known {
				t.Fatalf("known: have %v, want %v", ok, tt.known)
			}
			if want, _ := types.Sender(testSigner, tt.tx); ok && from != want {
				t.Fatalf("sender: have %v, want %v", from, want)
			}
		})
	}
}

// TestRefusedSendersApart: the senders of refused transactions a node keeps
// (RememberRefused) live in a cache of their own. A member can make the
// pool refuse as many transactions as it likes; remembering them must not
// push out the senders of admitted transactions, which block validation
// counts on.
func TestRefusedSendersApart(t *testing.T) {
	s := NewSenders(16)
	var admitted []common.Hash
	for i := range 16 {
		h := common.Hash{1, byte(i)}
		s.add(h, common.Address{byte(i)})
		admitted = append(admitted, h)
	}
	for i := range 10 * refusedSenders {
		s.RememberRefused(common.Hash{2, byte(i >> 16), byte(i >> 8), byte(i)}, common.Address{0xee})
	}
	for i, h := range admitted {
		if from, ok := s.Sender(h); !ok || from != (common.Address{byte(i)}) {
			t.Fatalf("admitted sender %d: have %v %v after a flood of refusals", i, from, ok)
		}
	}
	last := 10*refusedSenders - 1
	if _, ok := s.Sender(common.Hash{2, byte(last >> 16), byte(last >> 8), byte(last)}); !ok {
		t.Fatal("the newest refused sender is not known")
	}
	if _, ok := s.Sender(common.Hash{2, 0, 0, 0}); ok {
		t.Fatal("the refused cache is not bounded")
	}
}

// TestAddRemembersRefused: a transaction refused for lack of room keeps its
// recovered sender, in the cache of refused senders, since the client
// retries it and peers offer it again; a refusal of another kind does not.
func TestAddRemembersRefused(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{MaxPerSender: 1})
	if err := p.Add(sign(t, e.alice, legacy(0, 1))); err != nil {
		t.Fatal(err)
	}
	over := sign(t, e.alice, legacy(1, 1))
	if err := p.Add(over); !errors.Is(err, ErrSenderLimit) {
		t.Fatalf("add over the limit: %v", err)
	}
	if from, ok := p.Sender(over.Hash()); !ok || from != addrOf(e.alice) {
		t.Fatalf("refused for lack of room: sender %v known %v, want alice", from, ok)
	}
	outsider := sign(t, e.eve, legacy(0, 1))
	if err := p.Add(outsider); !errors.Is(err, rules.ErrNotAllowed) {
		t.Fatalf("add an outsider's: %v", err)
	}
	if _, ok := p.Sender(outsider.Hash()); ok {
		t.Fatal("an outsider's refused transaction has its sender remembered")
	}
}

// TestAddUsesKnownSender: a transaction whose sender the cache knows by
// hash is not recovered again. The entry here names another account than
// the signature's (eve, not allowed, for alice's transaction), so the
// refusal shows which path was taken; a real cache only holds senders
// recovered from the same hash.
func TestAddUsesKnownSender(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	tx := sign(t, e.alice, legacy(0, 1))
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	copyOf := new(types.Transaction) // as from the network: no cached sender
	if err := copyOf.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	p.senders.RememberRefused(tx.Hash(), addrOf(e.eve))
	if err := p.Add(copyOf); !errors.Is(err, rules.ErrNotAllowed) {
		t.Fatalf("add with a known sender: have %v, want %v (the cache was not asked)", err, rules.ErrNotAllowed)
	}
}
