package chain

import (
	"errors"
	"fmt"
)

// Errors a block is rejected with. Each validation step has its own error so
// that a peer's bad block can be diagnosed from the log alone. Engine errors
// (seal, difficulty, timestamp, membership) come from the consensus package.
var (
	// ErrKnownBlock is returned when the block is already stored.
	ErrKnownBlock = errors.New("block already known")
	// ErrGasLimit is returned when a header's gas limit differs from genesis.
	ErrGasLimit = errors.New("invalid gas limit")
	// ErrGasUsedExceeds is returned when gas used is above the gas limit.
	ErrGasUsedExceeds = errors.New("gas used exceeds gas limit")
	// ErrGasUsed is returned when the header's gas used differs from execution.
	ErrGasUsed = errors.New("gas used mismatch")
	// ErrBaseFee is returned when a header's base fee is not zero.
	ErrBaseFee = errors.New("base fee must be zero")
	// ErrUncles is returned for a block with uncles: the chain has none.
	ErrUncles = errors.New("uncles not allowed")
	// ErrExtraTooLong is returned for oversized extra data.
	ErrExtraTooLong = errors.New("extra data too long")
	// ErrTxRoot is returned when the transactions root does not match the body.
	ErrTxRoot = errors.New("transactions root mismatch")
	// ErrReceiptRoot is returned when the receipts root does not match execution.
	ErrReceiptRoot = errors.New("receipts root mismatch")
	// ErrBloom is returned when the logs bloom does not match execution.
	ErrBloom = errors.New("logs bloom mismatch")
	// ErrStateRoot is returned when the state root does not match execution.
	ErrStateRoot = errors.New("state root mismatch")
	// ErrBlockTooLarge is returned for a block over MaxBlockSize.
	ErrBlockTooLarge = errors.New("block too large")
	// ErrUnsupportedFields is returned for headers carrying post-London fields
	// (withdrawals, blobs, beacon root, requests) this chain does not use.
	ErrUnsupportedFields = errors.New("header has fields this chain does not use")
	// ErrGenesisMismatch is returned when a database was initialised from another genesis.
	ErrGenesisMismatch = errors.New("database belongs to another genesis")
	// ErrFinalizedConflict is returned for a block that would undo a final block.
	ErrFinalizedConflict = errors.New("conflicts with a final block")
	// ErrNoState is returned when the state for a root is not stored.
	ErrNoState = errors.New("state not available")
)

// TxError is a block rejected because one of its transactions is invalid.
type TxError struct {
	Index int
	Err   error
}

func (e *TxError) Error() string { return fmt.Sprintf("invalid transaction %d: %v", e.Index, e.Err) }

// Unwrap lets errors.Is reach the transaction's own error.
func (e *TxError) Unwrap() error { return e.Err }

var errBalanceOverflow = errors.New("genesis balance overflows 256 bits")
