package bridge

import (
	"errors"
	"fmt"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Refusals of the bridge's operations: the sentinels of package wire,
// which also holds their JSON-RPC codes (wire.ErrorCode), under the same
// names. Every error an operation returns wraps at most one of them;
// errors wrapping none are internal (wire.CodeInternal). Test with
// errors.Is.
var (
	ErrBadSignature  = wire.ErrBadSignature
	ErrNotYourTurn   = wire.ErrNotYourTurn
	ErrIllegalMove   = wire.ErrIllegalMove
	ErrFENMismatch   = wire.ErrFENMismatch
	ErrNotNext       = wire.ErrNotNext
	ErrUnknownGame   = wire.ErrUnknownGame
	ErrGameNotActive = wire.ErrGameNotActive
	ErrDuplicate     = wire.ErrDuplicate
	ErrFalseClaim    = wire.ErrFalseClaim
	ErrInvalidParams = wire.ErrInvalidParams
)

// Store errors.
var (
	// ErrNotFound is returned by a Store for a game it does not hold.
	ErrNotFound = errors.New("bridge: not found")

	// ErrConflict is returned by Store.Append when the game's newest
	// stored ply is not the appended ply minus one: another writer got
	// there first.
	ErrConflict = errors.New("bridge: concurrent append")

	// ErrBadRecord is returned by a Store for a game or state it cannot
	// store and read back intact: a stake that is negative or wider than
	// 256 bits, a fen or move over channel's size caps, a signature that
	// is not 65 bytes. Nothing is stored.
	ErrBadRecord = errors.New("bridge: record out of range")
)

var errBridgeClosed = errors.New("bridge: closed")

// transitionError maps an error of channel.CheckTransition to the
// bridge's sentinels, keeping the original in the chain.
func transitionError(err error) error {
	var kind error
	switch {
	case errors.Is(err, channel.ErrWrongGame), errors.Is(err, channel.ErrPlyGap),
		errors.Is(err, channel.ErrPrevHash), errors.Is(err, channel.ErrBadStart):
		kind = ErrNotNext
	case errors.Is(err, channel.ErrWrongSigner):
		kind = ErrNotYourTurn
	case errors.Is(err, channel.ErrIllegalMove), errors.Is(err, channel.ErrGameOver):
		kind = ErrIllegalMove
	case errors.Is(err, channel.ErrBadFEN), errors.Is(err, channel.ErrFENMismatch):
		kind = ErrFENMismatch
	case errors.Is(err, channel.ErrBadSignature):
		kind = ErrBadSignature
	case errors.Is(err, channel.ErrMalformed):
		kind = ErrInvalidParams
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// rpcError is an error with a JSON-RPC code; it implements go-ethereum's
// rpc.Error, so the server sends the code as is.
type rpcError struct {
	code int
	msg  string
}

func (e *rpcError) Error() string  { return e.msg }
func (e *rpcError) ErrorCode() int { return e.code }
