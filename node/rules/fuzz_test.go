package rules

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// staticErrors are the sentinels CheckStatic may fail with.
var staticErrors = []error{
	ErrTxType, ErrUnprotected, ErrWrongChain, ErrBadSignature, ErrOversized,
	ErrContractCreation, ErrTipAboveFeeCap, ErrFeeTooHigh, ErrGasLimit, ErrIntrinsicGas,
}

// rawTxSeeds returns encoded transactions of every type, as
// eth_sendRawTransaction receives them, for chain chainID.
func rawTxSeeds(t testing.TB) [][]byte {
	t.Helper()
	london := types.NewLondonSigner(chainID)
	prague := types.NewPragueSigner(chainID)
	cid := uint256.MustFromBig(chainID)
	signed := func(signer types.Signer, inner types.TxData) *types.Transaction {
		tx, err := types.SignNewTx(key, signer, inner)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	txs := []*types.Transaction{
		signed(london, &types.LegacyTx{Nonce: 1, To: &to, Gas: 21000, GasPrice: big.NewInt(1), Value: big.NewInt(5)}),
		signed(types.HomesteadSigner{}, &types.LegacyTx{To: &to, Gas: 21000}),
		signed(london, &types.AccessListTx{ChainID: chainID, To: &to, Gas: 30000, GasPrice: big.NewInt(2),
			AccessList: types.AccessList{{Address: to, StorageKeys: []common.Hash{{1}, {2}}}}, Data: []byte{0, 1, 2}}),
		signed(london, &types.DynamicFeeTx{ChainID: chainID, Nonce: 7, To: &to, Gas: 50000,
			GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(3), Data: bytes.Repeat([]byte{0xab}, 40)}),
		signed(london, &types.DynamicFeeTx{ChainID: chainID, Gas: 60000}), // creation
		signed(types.NewLondonSigner(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1), To: &to, Gas: 21000}),
		types.NewTx(&types.BlobTx{ChainID: cid, To: to, Gas: 21000}),
		signed(prague, &types.SetCodeTx{ChainID: cid, To: to, Gas: 21000}),
	}
	out := make([][]byte, 0, len(txs))
	for _, tx := range txs {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzRawTransaction feeds bytes to the path of eth_sendRawTransaction and
// of gossiped transactions: binary decoding, then CheckStatic. A
// transaction that decodes must encode to bytes that decode to the same
// transaction; CheckStatic fails only with its sentinels and accepts only
// transactions within the limits.
func FuzzRawTransaction(f *testing.F) {
	for _, b := range rawTxSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x02, 0xc0})
	f.Add([]byte{0xf8, 0x01})
	r := NewStatic(chainID, 1_000_000)
	f.Fuzz(func(t *testing.T, data []byte) {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(data); err != nil {
			return
		}
		enc, err := tx.MarshalBinary()
		if err != nil {
			t.Fatalf("encoding a decoded transaction: %v", err)
		}
		again := new(types.Transaction)
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decoding a re-encoded transaction: %v", err)
		}
		if enc2, _ := again.MarshalBinary(); !bytes.Equal(enc, enc2) || again.Hash() != tx.Hash() {
			t.Fatalf("round trip: have %x, want %x", enc2, enc)
		}

		from, err := r.CheckStatic(tx)
		if err != nil {
			for _, s := range staticErrors {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("CheckStatic error %q wraps none of the sentinels", err)
		}
		if tx.To() == nil || tx.Gas() > r.GasLimit || tx.Gas() < IntrinsicGas(tx) || tx.Size() > MaxTxSize || tx.ChainId().Cmp(chainID) != 0 {
			t.Fatalf("CheckStatic accepted a transaction outside the rules: %+v", tx)
		}
		if from2, err := r.CheckStatic(again); err != nil || from2 != from {
			t.Fatalf("CheckStatic of the re-decoded transaction: have %s, %v; want %s", from2, err, from)
		}
	})
}
