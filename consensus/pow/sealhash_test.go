package pow

import (
	"math/big"
	"reflect"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// sealFields are the header fields the seal itself lives in.
var sealFields = []string{"Extra", "MixDigest", "Nonce"}

// committedFields are the header fields SealHash encodes, in order.
var committedFields = []string{
	"ParentHash", "UncleHash", "Coinbase", "Root", "TxHash", "ReceiptHash", "Bloom",
	"Difficulty", "Number", "GasLimit", "GasUsed", "Time",
	"BaseFee", "WithdrawalsHash", "BlobGasUsed", "ExcessBlobGas",
	"ParentBeaconRoot", "RequestsHash", "BlockAccessListHash", "SlotNumber",
}

// TestSealHashCoversHeader fails when go-ethereum's Header gains a field that
// SealHash does not know about.
func TestSealHashCoversHeader(t *testing.T) {
	typ := reflect.TypeFor[types.Header]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if !slices.Contains(committedFields, name) && !slices.Contains(sealFields, name) {
			t.Errorf("types.Header.%s is neither committed by SealHash nor part of the seal; extend SealHash", name)
		}
	}
}

// mutateField changes field v of a header to a different value; for pointer
// fields it cycles nil -> zero -> non-zero.
func mutateField(t *testing.T, v reflect.Value, step int) {
	t.Helper()
	switch p := v.Addr().Interface().(type) {
	case *common.Hash:
		p[step%32] ^= 1
	case *common.Address:
		p[step%20] ^= 1
	case *types.Bloom:
		p[step%256] ^= 1
	case *types.BlockNonce:
		p[step%8] ^= 1
	case *uint64:
		*p++
	case *[]byte:
		*p = append(*p, byte(step))
	case **big.Int:
		switch {
		case *p == nil:
			*p = new(big.Int)
		case (*p).Sign() == 0:
			*p = big.NewInt(-1) // not valid, but must not collide with 1
		case (*p).Sign() > 0:
			*p = new(big.Int).Neg(*p) // same magnitude, other sign
		default:
			*p = new(big.Int).Sub(common.Big1, *p) // -n -> n+1
		}
	case **common.Hash:
		if *p == nil {
			*p = new(common.Hash)
		} else {
			h := **p
			h[step%32] ^= 1
			*p = &h
		}
	case **uint64:
		if *p == nil {
			*p = new(uint64)
		} else {
			u := **p + 1
			*p = &u
		}
	default:
		t.Fatalf("no mutation for %s", v.Type())
	}
}

// TestSealHashCommitsEveryField mutates each field in turn, repeatedly, and
// checks that every non-seal change yields a new seal hash while seal-field
// changes do not.
func TestSealHashCommitsEveryField(t *testing.T) {
	base := &types.Header{Difficulty: big.NewInt(1), Number: big.NewInt(1), Extra: []byte{}}
	typ := reflect.TypeFor[types.Header]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		t.Run(name, func(t *testing.T) {
			h := types.CopyHeader(base)
			seen := map[common.Hash]bool{SealHash(h): true}
			for step := range 4 {
				mutateField(t, reflect.ValueOf(h).Elem().Field(i), step)
				got := SealHash(h)
				if slices.Contains(sealFields, name) {
					if got != SealHash(base) {
						t.Fatalf("step %d: seal field %s changed the seal hash", step, name)
					}
					continue
				}
				if seen[got] {
					t.Fatalf("step %d: changing %s gave an already seen seal hash", step, name)
				}
				seen[got] = true
			}
		})
	}
}

// TestSealHashOptionalPosition checks that the same value in different
// optional slots hashes differently (no shifting between fields).
func TestSealHashOptionalPosition(t *testing.T) {
	x := common.HexToHash("0x42")
	a := &types.Header{Difficulty: big.NewInt(1), Number: big.NewInt(1), WithdrawalsHash: &x}
	b := &types.Header{Difficulty: big.NewInt(1), Number: big.NewInt(1), ParentBeaconRoot: &x}
	c := &types.Header{Difficulty: big.NewInt(1), Number: big.NewInt(1), RequestsHash: &x}
	if SealHash(a) == SealHash(b) || SealHash(b) == SealHash(c) || SealHash(a) == SealHash(c) {
		t.Fatal("the same hash in different optional fields gives the same seal hash")
	}
}

func TestTarget(t *testing.T) {
	maxHash := common.Hash{}
	for i := range maxHash {
		maxHash[i] = 0xff
	}
	half := common.Hash{0x80} // 2^255
	belowHalf := common.Hash{0x7f}
	for i := 1; i < 32; i++ {
		belowHalf[i] = 0xff
	}
	tests := []struct {
		name string
		diff int64
		mix  common.Hash
		want bool
	}{
		{"difficulty 1 accepts the maximum", 1, maxHash, true},
		{"difficulty 2 accepts 2^255", 2, half, true},
		{"difficulty 2 accepts 2^255-1", 2, belowHalf, true},
		{"difficulty 2 rejects 2^255+1", 2, func() common.Hash { h := half; h[31] = 1; return h }(), false},
		{"difficulty 3 rejects 2^255", 3, half, false},
		{"zero mix meets any target", 1 << 62, common.Hash{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt := newTarget(big.NewInt(tt.diff))
			if got := tgt.met(&tt.mix); got != tt.want {
				t.Fatalf("met = %v, want %v", got, tt.want)
			}
		})
	}
}
