package txpool

import (
	"errors"
	"testing"

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
