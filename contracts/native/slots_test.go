package native

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestSlot pins the slot derivation: the contracts' state layout (and so
// every state root) depends on these exact bytes.
func TestSlot(t *testing.T) {
	addr := common.HexToAddress("0x00000000000000000000000000000000000010aa")
	tests := []struct {
		name string
		have common.Hash
		want common.Hash
	}{
		{"tag only", Slot("count"), crypto.Keccak256Hash([]byte("count"))},
		{"tag and number", Slot("list", U64(7)), crypto.Keccak256Hash([]byte("list"), []byte{0, 0, 0, 0, 0, 0, 0, 7})},
		{"tag and address", Slot("index", addr[:]), crypto.Keccak256Hash(append([]byte("index"), addr[:]...))},
		{"game field", Slot("game", common.Hash{1}.Bytes(), []byte{3}),
			crypto.Keccak256Hash([]byte("game"), common.Hash{1}.Bytes(), []byte{3})},
		{"known value", Slot("count"), common.HexToHash("0x" + "c82306b6ab1b4c67429442feb1e6d238135a6cfcaa471a01b0e336f01b048e38")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.have != tt.want {
				t.Errorf("have %x, want %x", tt.have, tt.want)
			}
		})
	}
}

func TestWords(t *testing.T) {
	addr := common.HexToAddress("0x1234567890abcdef1234567890abcdef12345678")
	t.Run("u64 word", func(t *testing.T) {
		w := U64Word(0x0102030405060708)
		if want := common.HexToHash("0x0102030405060708"); w != want {
			t.Errorf("have %x, want %x", w, want)
		}
		if have := WordU64(w); have != 0x0102030405060708 {
			t.Errorf("have %#x, want %#x", have, 0x0102030405060708)
		}
	})
	t.Run("address word", func(t *testing.T) {
		w := AddressWord(addr)
		if want := common.BytesToHash(addr.Bytes()); w != want || w[11] != 0 || w[12] != 0x12 {
			t.Errorf("have %x, want %x right-aligned", w, want)
		}
		if have := WordAddress(w); have != addr {
			t.Errorf("have %v, want %v", have, addr)
		}
	})
	t.Run("bool word", func(t *testing.T) {
		if WordBool(BoolWord(false)) || BoolWord(false) != (common.Hash{}) {
			t.Errorf("have %x for false, want the zero word", BoolWord(false))
		}
		if !WordBool(BoolWord(true)) || BoolWord(true) != U64Word(1) {
			t.Errorf("have %x for true, want the word 1", BoolWord(true))
		}
	})
	t.Run("packed fields", func(t *testing.T) {
		var h common.Hash
		PutU64(&h, 0, 1)
		PutU64(&h, 8, 2)
		PutU32(&h, 16, 3)
		PutU32(&h, 25, 4)
		if have := [4]uint64{GetU64(h, 0), GetU64(h, 8), uint64(GetU32(h, 16)), uint64(GetU32(h, 25))}; have != [4]uint64{1, 2, 3, 4} {
			t.Errorf("have %v, want [1 2 3 4]", have)
		}
		if h[7] != 1 || h[15] != 2 || h[19] != 3 || h[28] != 4 {
			t.Errorf("have %x, want big-endian fields at bytes 0, 8, 16 and 25", h)
		}
	})
}
