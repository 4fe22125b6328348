package txpool

import (
	"crypto/ecdsa"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestDigest: senders with executable transactions appear with their next
// nonce, most recently extended first; a sender with only gapped
// transactions does not; k bounds the answer.
func TestDigest(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	mustAdd(t, p,
		sign(t, e.alice, legacy(0, 1)),
		sign(t, e.bob, legacy(0, 1)),
		sign(t, e.bob, legacy(1, 1)),
		sign(t, e.dave, legacy(4, 1)), // behind a gap
		sign(t, e.alice, legacy(1, 1)),
		sign(t, e.carol, legacy(3, 1)),
	)
	tests := []struct {
		k    int
		want string
	}{
		{0, "[]"},
		{1, fmt.Sprintf("[{%s 4}]", addrOf(e.carol).Hex())},
		{9, fmt.Sprintf("[{%s 4} {%s 2} {%s 2}]", addrOf(e.carol).Hex(), addrOf(e.alice).Hex(), addrOf(e.bob).Hex())},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.k), func(t *testing.T) {
			got := p.Digest(tt.k)
			s := "["
			for i, sn := range got {
				if i > 0 {
					s += " "
				}
				s += fmt.Sprintf("{%s %d}", sn.Sender.Hex(), sn.Next)
			}
			if s += "]"; s != tt.want {
				t.Fatalf("have %s, want %s", s, tt.want)
			}
		})
	}
}

// TestRange: a range stops at a gap, at count and at the byte bound (one
// transaction always).
func TestRange(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	txs := make([]*types.Transaction, 0, 6)
	for _, n := range []uint64{0, 1, 2, 3, 5, 6} {
		txs = append(txs, sign(t, e.alice, legacy(n, 1)))
	}
	mustAdd(t, p, txs...)
	one := txs[0].Size()
	tests := []struct {
		name     string
		key      *ecdsa.PrivateKey
		from     uint64
		count    int
		maxBytes uint64
		want     []uint64
	}{
		{"to the gap", e.alice, 1, 10, 1 << 20, []uint64{1, 2, 3}},
		{"after the gap", e.alice, 5, 10, 1 << 20, []uint64{5, 6}},
		{"at the gap", e.alice, 4, 10, 1 << 20, nil},
		{"count", e.alice, 0, 2, 1 << 20, []uint64{0, 1}},
		{"bytes", e.alice, 0, 10, 2 * one, []uint64{0, 1}},
		{"one always", e.alice, 0, 10, 1, []uint64{0}},
		{"unknown sender", e.bob, 0, 10, 1 << 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			for _, tx := range p.Range(addrOf(tt.key), tt.from, tt.count, tt.maxBytes) {
				got = append(got, tx.Nonce())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("have %v, want %v", got, tt.want)
			}
		})
	}
}
