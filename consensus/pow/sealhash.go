package pow

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// SealHash returns the hash the seal commits to: keccak256 of the RLP list
//
//	[ParentHash, UncleHash, Coinbase, Root, TxHash, ReceiptHash, Bloom,
//	 Difficulty, Number, GasLimit, GasUsed, Time,
//	 opt(BaseFee), opt(WithdrawalsHash), opt(BlobGasUsed), opt(ExcessBlobGas),
//	 opt(ParentBeaconRoot), opt(RequestsHash), opt(BlockAccessListHash),
//	 opt(SlotNumber)]
//
// i.e. every header field except the seal itself (Extra, Nonce, MixDigest).
// Each optional field is wrapped in a list that is empty when the field is nil
// and holds the value otherwise, so nil and a zero value hash differently and
// no optional field can be added, dropped or changed without changing the
// hash. Integers are RLP integers; a nil big integer encodes as an empty list
// and a negative one (never valid, but not representable in plain RLP) as a
// one-element list of its magnitude, so the encoding stays injective.
//
// When go-ethereum's Header gains a field, this function must be extended; a
// test fails until it is.
func (e *Engine) SealHash(header *types.Header) common.Hash {
	return SealHash(header)
}

// SealHash is the engine-independent form of (*Engine).SealHash.
func SealHash(h *types.Header) (hash common.Hash) {
	hasher := crypto.NewKeccakState()
	w := rlp.NewEncoderBuffer(hasher)
	l := w.List()
	w.WriteBytes(h.ParentHash[:])
	w.WriteBytes(h.UncleHash[:])
	w.WriteBytes(h.Coinbase[:])
	w.WriteBytes(h.Root[:])
	w.WriteBytes(h.TxHash[:])
	w.WriteBytes(h.ReceiptHash[:])
	w.WriteBytes(h.Bloom[:])
	writeBig(w, h.Difficulty)
	writeBig(w, h.Number)
	w.WriteUint64(h.GasLimit)
	w.WriteUint64(h.GasUsed)
	w.WriteUint64(h.Time)
	writeOptBig(w, h.BaseFee)
	writeOptHash(w, h.WithdrawalsHash)
	writeOptUint(w, h.BlobGasUsed)
	writeOptUint(w, h.ExcessBlobGas)
	writeOptHash(w, h.ParentBeaconRoot)
	writeOptHash(w, h.RequestsHash)
	writeOptHash(w, h.BlockAccessListHash)
	writeOptUint(w, h.SlotNumber)
	w.ListEnd(l)
	// Writing to a hash never fails.
	_ = w.Flush()
	_, _ = hasher.Read(hash[:])
	return hash
}

// writeBig writes b as an RLP integer, nil as an empty list and a negative
// value as a list holding its magnitude.
func writeBig(w rlp.EncoderBuffer, b *big.Int) {
	switch {
	case b == nil:
		w.ListEnd(w.List())
	case b.Sign() < 0:
		l := w.List()
		w.WriteBigInt(new(big.Int).Abs(b))
		w.ListEnd(l)
	default:
		w.WriteBigInt(b)
	}
}

func writeOptBig(w rlp.EncoderBuffer, b *big.Int) {
	l := w.List()
	if b != nil {
		writeBig(w, b)
	}
	w.ListEnd(l)
}

func writeOptHash(w rlp.EncoderBuffer, h *common.Hash) {
	l := w.List()
	if h != nil {
		w.WriteBytes(h[:])
	}
	w.ListEnd(l)
}

func writeOptUint(w rlp.EncoderBuffer, v *uint64) {
	l := w.List()
	if v != nil {
		w.WriteUint64(*v)
	}
	w.ListEnd(l)
}

// mixDigest returns keccak256(sealHash || nonce).
func mixDigest(sealHash common.Hash, nonce types.BlockNonce) common.Hash {
	return crypto.Keccak256Hash(sealHash[:], nonce[:])
}

// target is 2^256 / difficulty as a 32-byte big-endian number, or "anything"
// when difficulty is 1 (the quotient 2^256 does not fit).
type target struct {
	any bool
	max [32]byte
}

var two256 = new(big.Int).Lsh(big.NewInt(1), 256)

// newTarget returns the target for a positive difficulty.
func newTarget(difficulty *big.Int) target {
	q := new(big.Int).Div(two256, difficulty)
	if q.Cmp(two256) >= 0 {
		return target{any: true}
	}
	var t target
	q.FillBytes(t.max[:])
	return t
}

// met reports whether mix, as a big-endian integer, is <= the target.
func (t *target) met(mix *common.Hash) bool {
	if t.any {
		return true
	}
	for i := range mix {
		if mix[i] != t.max[i] {
			return mix[i] < t.max[i]
		}
	}
	return true
}
