package native

import "errors"

// Errors a call reverts with. A Revert carries the reason string clients
// see; these are the reasons the engine itself produces.
var (
	// ErrOutOfGas is returned when a call needs more gas than it was given.
	ErrOutOfGas = errors.New("out of gas")
	// ErrShortInput is returned for input shorter than a 4-byte selector.
	ErrShortInput = errors.New("input shorter than a 4-byte selector")
	// ErrUnknownSelector is returned for a selector the ABI does not define.
	ErrUnknownSelector = errors.New("unknown method selector")
	// ErrNotPayable is returned when value is sent to a non-payable method.
	ErrNotPayable = errors.New("method is not payable")
	// ErrBadArguments is returned when the arguments cannot be ABI-decoded.
	ErrBadArguments = errors.New("cannot decode arguments")
	// ErrInsufficientBalance is returned when a contract transfers more than it holds.
	ErrInsufficientBalance = errors.New("contract balance too low")
	// ErrInternal is returned for a contract bug: an output or event that
	// does not match the ABI. It should never be seen.
	ErrInternal = errors.New("internal contract error")
)

// Errors Compile rejects a contract with.
var (
	// ErrBadABI is returned when a contract's ABI JSON does not parse.
	ErrBadABI = errors.New("contract ABI does not parse")
	// ErrHandlers is returned when the handlers do not match the ABI's methods one to one.
	ErrHandlers = errors.New("contract handlers do not match its ABI")
)

// Revert is a failed call: its state changes are undone and Reason is
// returned to the caller (as Error(string) revert data on the chain).
type Revert struct {
	Reason string
	// Err is the error the call failed with; errors.Is reaches it.
	Err error
}

func (r *Revert) Error() string { return "execution reverted: " + r.Reason }

// Unwrap returns the error the call failed with.
func (r *Revert) Unwrap() error { return r.Err }
