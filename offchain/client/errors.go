package client

import (
	"errors"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/ethereum/go-ethereum/rpc"
)

// Error is a JSON-RPC error returned by the bridge. It unwraps to the
// sentinel of its code (wire.Sentinel), if the code is one of the
// bridge's own, so errors.Is(err, wire.ErrNotYourTurn) and the like tell
// refusals apart.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the JSON-RPC error code.
func (e *Error) ErrorCode() int { return e.Code }

// Unwrap returns the sentinel error of the code, or nil.
func (e *Error) Unwrap() error { return wire.Sentinel(e.Code) }

// wrap turns a JSON-RPC error into an *Error and leaves others alone.
func wrap(err error) error {
	var re rpc.Error
	if errors.As(err, &re) {
		return &Error{Code: re.ErrorCode(), Message: re.Error()}
	}
	return err
}
