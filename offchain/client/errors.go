package client

import (
	"errors"

	"github.com/ethereum/go-ethereum/rpc"
)

// The bridge's JSON-RPC error codes (see docs/bridge.md).
const (
	CodeBadSignature  = -32010
	CodeNotYourTurn   = -32011
	CodeIllegalMove   = -32012
	CodeFENMismatch   = -32013
	CodeNotNext       = -32014
	CodeUnknownGame   = -32015
	CodeGameNotActive = -32016
	CodeDuplicate     = -32017
	CodeFalseClaim    = -32018
)

// Errors a bridge call can fail with; test with errors.Is. The error
// itself is an *Error carrying the code and the bridge's message.
var (
	ErrBadSignature  = errors.New("bad signature or signer")
	ErrNotYourTurn   = errors.New("not this player's turn")
	ErrIllegalMove   = errors.New("illegal move")
	ErrFENMismatch   = errors.New("FEN does not follow from the move")
	ErrNotNext       = errors.New("ply or prevHash does not continue the game")
	ErrUnknownGame   = errors.New("unknown game")
	ErrGameNotActive = errors.New("game not active")
	ErrDuplicate     = errors.New("duplicate of an accepted state")
	ErrFalseClaim    = errors.New("claim would be false")
)

var sentinels = map[int]error{
	CodeBadSignature:  ErrBadSignature,
	CodeNotYourTurn:   ErrNotYourTurn,
	CodeIllegalMove:   ErrIllegalMove,
	CodeFENMismatch:   ErrFENMismatch,
	CodeNotNext:       ErrNotNext,
	CodeUnknownGame:   ErrUnknownGame,
	CodeGameNotActive: ErrGameNotActive,
	CodeDuplicate:     ErrDuplicate,
	CodeFalseClaim:    ErrFalseClaim,
}

// Error is a JSON-RPC error returned by the bridge. It unwraps to the
// sentinel of its code, if the code is one of the bridge's own.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the JSON-RPC error code.
func (e *Error) ErrorCode() int { return e.Code }

// Unwrap returns the sentinel error of the code, or nil.
func (e *Error) Unwrap() error { return sentinels[e.Code] }

// wrap turns a JSON-RPC error into an *Error and leaves others alone.
func wrap(err error) error {
	var re rpc.Error
	if errors.As(err, &re) {
		return &Error{Code: re.ErrorCode(), Message: re.Error()}
	}
	return err
}
