package rules

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
)

// Limits on a single transaction.
const (
	// MaxTxSize bounds the encoded size of a transaction.
	MaxTxSize = 128 * 1024
	// MaxDataSize bounds a transaction's calldata.
	MaxDataSize = 96 * 1024

	txGas                  = 21000
	txDataZeroGas          = 4
	txDataNonZeroGas       = 16
	txAccessListAddrGas    = 2400
	txAccessListStorageGas = 1900
)

// Errors a transaction is refused with, by the pool and by block import
// alike. Each failure has its own error so clients can tell them apart.
var (
	// ErrTxType: only legacy (EIP-155), access-list and dynamic-fee transactions are accepted.
	ErrTxType = errors.New("transaction type not supported")
	// ErrUnprotected: a legacy transaction without an EIP-155 chain id could be replayed on any chain.
	ErrUnprotected = errors.New("transaction is not replay-protected (EIP-155 chain id required)")
	// ErrWrongChain: the transaction is signed for another chain.
	ErrWrongChain = errors.New("transaction is for another chain id")
	// ErrBadSignature: the signature does not recover to a sender.
	ErrBadSignature = errors.New("invalid transaction signature")
	// ErrNotAllowed: the sender is neither a member nor an account a member vouches for.
	ErrNotAllowed = errors.New("sender is not a member or allowed account")
	// ErrNonceTooLow: the sender already used this nonce (a replay).
	ErrNonceTooLow = errors.New("nonce too low")
	// ErrNonceTooHigh: the nonce skips ahead of the sender's next nonce (in a block).
	ErrNonceTooHigh = errors.New("nonce too high")
	// ErrInsufficientFunds: the sender cannot pay value plus gas.
	ErrInsufficientFunds = errors.New("insufficient funds for gas * price + value")
	// ErrIntrinsicGas: the gas limit is below the transaction's intrinsic cost.
	ErrIntrinsicGas = errors.New("intrinsic gas too low")
	// ErrGasLimit: the gas limit exceeds the block gas limit.
	ErrGasLimit = errors.New("exceeds block gas limit")
	// ErrOversized: the transaction or its data is larger than the limits.
	ErrOversized = errors.New("oversized transaction")
	// ErrContractCreation: there is no VM, contracts are native and fixed.
	ErrContractCreation = errors.New("contract creation is not supported")
	// ErrTipAboveFeeCap: the priority fee exceeds the fee cap.
	ErrTipAboveFeeCap = errors.New("max priority fee per gas higher than max fee per gas")
	// ErrFeeTooHigh: gas * price overflows 256 bits.
	ErrFeeTooHigh = errors.New("fee overflows")
)

// Static is what is fixed for a chain: its id, the signer and the block gas limit.
type Static struct {
	ChainID  *big.Int
	Signer   types.Signer
	GasLimit uint64
}

// NewStatic returns the rules for a chain id and block gas limit.
func NewStatic(chainID *big.Int, gasLimit uint64) Static {
	return Static{ChainID: chainID, Signer: types.NewLondonSigner(chainID), GasLimit: gasLimit}
}

// IntrinsicGas is the gas a transaction costs before execution: a base fee,
// its calldata bytes and its access list.
func IntrinsicGas(tx *types.Transaction) uint64 {
	gas := uint64(txGas)
	for _, b := range tx.Data() {
		if b == 0 {
			gas += txDataZeroGas
		} else {
			gas += txDataNonZeroGas
		}
	}
	for _, t := range tx.AccessList() {
		gas += txAccessListAddrGas + uint64(len(t.StorageKeys))*txAccessListStorageGas
	}
	return gas
}

// KnownSender caches from in tx as its sender under r's signer, as a
// recovery would, so that CheckStatic does not recover it. The caller must
// have learnt from by the transaction's hash (a sender cache): a hash
// commits to the signature, so it names the sender recovery would give.
func (r Static) KnownSender(tx *types.Transaction, from common.Address) {
	_, _ = types.Sender(knownSigner{Signer: r.Signer, from: from}, tx)
}

// knownSigner answers Sender with a sender known in advance. Cached in a
// transaction, it stands for the signer it wraps (Equal), so a later
// types.Sender with that signer finds the sender without recovering it.
type knownSigner struct {
	types.Signer
	from common.Address
}

func (s knownSigner) Sender(*types.Transaction) (common.Address, error) { return s.from, nil }
func (s knownSigner) Equal(o types.Signer) bool                         { return s.Signer.Equal(o) }

// CheckStatic checks everything about tx that does not depend on state and
// returns its sender. The sender is cached in tx, so a transaction recovered
// once (in the pool) is not recovered again at import.
func (r Static) CheckStatic(tx *types.Transaction) (common.Address, error) {
	switch tx.Type() {
	case types.LegacyTxType:
		if !tx.Protected() {
			return common.Address{}, ErrUnprotected
		}
	case types.AccessListTxType, types.DynamicFeeTxType:
	default:
		return common.Address{}, fmt.Errorf("%w: type %d", ErrTxType, tx.Type())
	}
	if tx.ChainId().Cmp(r.ChainID) != 0 {
		return common.Address{}, fmt.Errorf("%w: have %v, want %v", ErrWrongChain, tx.ChainId(), r.ChainID)
	}
	if tx.Size() > MaxTxSize || len(tx.Data()) > MaxDataSize {
		return common.Address{}, fmt.Errorf("%w: %d bytes, %d of data", ErrOversized, tx.Size(), len(tx.Data()))
	}
	if tx.To() == nil {
		return common.Address{}, ErrContractCreation
	}
	if tx.GasTipCap().Cmp(tx.GasFeeCap()) > 0 {
		return common.Address{}, ErrTipAboveFeeCap
	}
	if tx.GasFeeCap().BitLen() > 256 || tx.Value().BitLen() > 256 {
		return common.Address{}, ErrFeeTooHigh
	}
	if tx.Gas() > r.GasLimit {
		return common.Address{}, fmt.Errorf("%w: %d > %d", ErrGasLimit, tx.Gas(), r.GasLimit)
	}
	if ig := IntrinsicGas(tx); tx.Gas() < ig {
		return common.Address{}, fmt.Errorf("%w: have %d, want %d", ErrIntrinsicGas, tx.Gas(), ig)
	}
	from, err := types.Sender(r.Signer, tx)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return from, nil
}

// State is the part of the state the stateful checks read; *state.StateDB
// satisfies it.
type State interface {
	membership.Reader
	GetNonce(common.Address) uint64
	GetBalance(common.Address) *uint256.Int
}

// Cost returns the most a transaction can take from its sender: value plus
// gas limit times fee cap.
func Cost(tx *types.Transaction) (*uint256.Int, error) {
	cost, overflow := uint256.FromBig(tx.Cost())
	if overflow {
		return nil, ErrFeeTooHigh
	}
	return cost, nil
}

// CheckState checks tx from sender against state: the sender is allowed to
// send, the nonce is the next one exactly (exact is false for the pool, which
// also admits future nonces), and the balance covers the cost.
func CheckState(st State, from common.Address, tx *types.Transaction, exact bool) error {
	if !membership.IsAllowed(st, from) {
		return fmt.Errorf("%w: %s", ErrNotAllowed, from)
	}
	return CheckAccount(st, from, tx, exact)
}

// CheckAccount is CheckState without the membership check, for a sender
// already found allowed in the same state: the nonce and the balance.
func CheckAccount(st State, from common.Address, tx *types.Transaction, exact bool) error {
	next := st.GetNonce(from)
	if tx.Nonce() < next {
		return fmt.Errorf("%w: address %s, tx %d, state %d", ErrNonceTooLow, from, tx.Nonce(), next)
	}
	if exact && tx.Nonce() > next {
		return fmt.Errorf("%w: address %s, tx %d, state %d", ErrNonceTooHigh, from, tx.Nonce(), next)
	}
	cost, err := Cost(tx)
	if err != nil {
		return err
	}
	if bal := st.GetBalance(from); bal.Cmp(cost) < 0 {
		return fmt.Errorf("%w: address %s have %v want %v", ErrInsufficientFunds, from, bal, cost)
	}
	return nil
}

// EffectiveGasPrice is what a transaction pays per gas unit. The base fee is
// always zero on this chain, so a dynamic-fee transaction pays its tip.
func EffectiveGasPrice(tx *types.Transaction) *uint256.Int {
	p, _ := uint256.FromBig(tx.GasTipCap())
	if tx.Type() == types.LegacyTxType || tx.Type() == types.AccessListTxType {
		p, _ = uint256.FromBig(tx.GasPrice())
	}
	return p
}
