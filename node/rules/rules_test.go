package rules

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
)

var (
	chainID = big.NewInt(99)
	key, _  = crypto.ToECDSA(crypto.Keccak256([]byte("rules test")))
	sender  = crypto.PubkeyToAddress(key.PublicKey)
	to      = common.Address{1}
)

func sign(t *testing.T, signer types.Signer, inner types.TxData) *types.Transaction {
	t.Helper()
	tx, err := types.SignNewTx(key, signer, inner)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestCheckStatic(t *testing.T) {
	r := NewStatic(chainID, 100_000)
	london := types.NewLondonSigner(chainID)
	tests := []struct {
		name string
		tx   *types.Transaction
		want error
	}{
		{"legacy ok", sign(t, london, &types.LegacyTx{To: &to, Gas: 21000}), nil},
		{"dynamic ok", sign(t, london, &types.DynamicFeeTx{ChainID: chainID, To: &to, Gas: 21000}), nil},
		{"unprotected legacy", sign(t, types.HomesteadSigner{}, &types.LegacyTx{To: &to, Gas: 21000}), ErrUnprotected},
		{"wrong chain", sign(t, types.NewLondonSigner(big.NewInt(1)), &types.LegacyTx{To: &to, Gas: 21000}), ErrWrongChain},
		{"blob type", types.NewTx(&types.BlobTx{ChainID: uint256.MustFromBig(chainID), Gas: 21000}), ErrTxType},
		{"contract creation", sign(t, london, &types.LegacyTx{Gas: 60000}), ErrContractCreation},
		{"tip above cap", sign(t, london, &types.DynamicFeeTx{ChainID: chainID, To: &to, Gas: 21000, GasTipCap: big.NewInt(2), GasFeeCap: big.NewInt(1)}), ErrTipAboveFeeCap},
		{"oversized data", sign(t, london, &types.LegacyTx{To: &to, Gas: 100_000, Data: make([]byte, MaxDataSize+1)}), ErrOversized},
		{"above block gas", sign(t, london, &types.LegacyTx{To: &to, Gas: 100_001}), ErrGasLimit},
		{"intrinsic gas", sign(t, london, &types.LegacyTx{To: &to, Gas: 21000, Data: []byte{1}}), ErrIntrinsicGas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := r.CheckStatic(tt.tx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if err == nil && from != sender {
				t.Fatalf("sender: have %s, want %s", from, sender)
			}
		})
	}
}

func TestCheckState(t *testing.T) {
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	st.SetNonce(sender, 5, tracing.NonceChangeUnspecified)
	st.AddBalance(sender, uint256.NewInt(100_000), tracing.BalanceChangeUnspecified)
	london := types.NewLondonSigner(chainID)
	tx := func(nonce uint64, value int64) *types.Transaction {
		return sign(t, london, &types.LegacyTx{Nonce: nonce, To: &to, Gas: 21000, GasPrice: big.NewInt(1), Value: big.NewInt(value)})
	}
	if err := CheckState(st, sender, tx(5, 1), true); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("non-member: have %v, want %v", err, ErrNotAllowed)
	}
	membership.AddMember(st, sender)
	tests := []struct {
		name  string
		tx    *types.Transaction
		exact bool
		want  error
	}{
		{"next nonce", tx(5, 1), true, nil},
		{"replay", tx(4, 1), true, ErrNonceTooLow},
		{"gap in a block", tx(6, 1), true, ErrNonceTooHigh},
		{"gap in the pool", tx(6, 1), false, nil},
		{"underfunded", tx(5, 100_000-21000+1), true, ErrInsufficientFunds},
		{"exactly funded", tx(5, 100_000-21000), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckState(st, sender, tt.tx, tt.exact); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
	outsider := common.Address{9}
	membership.Allow(st, outsider, sender)
	if !membership.IsAllowed(st, outsider) {
		t.Fatal("vouched account not allowed")
	}
	membership.Revoke(st, outsider)
	if membership.IsAllowed(st, outsider) {
		t.Fatal("revoked account still allowed")
	}
}
