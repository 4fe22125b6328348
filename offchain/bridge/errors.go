package bridge

import (
	"errors"
	"fmt"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// JSON-RPC error codes. Codes -32010 to -32018 are the bridge's own; each
// belongs to exactly one sentinel error below. offchain/client defines the
// same numbers for callers.
const (
	CodeBadSignature  = -32010 // ErrBadSignature
	CodeNotYourTurn   = -32011 // ErrNotYourTurn
	CodeIllegalMove   = -32012 // ErrIllegalMove
	CodeFENMismatch   = -32013 // ErrFENMismatch
	CodeNotNext       = -32014 // ErrNotNext
	CodeUnknownGame   = -32015 // ErrUnknownGame
	CodeGameNotActive = -32016 // ErrGameNotActive
	CodeDuplicate     = -32017 // ErrDuplicate
	CodeFalseClaim    = -32018 // ErrFalseClaim

	CodeInternal       = -32000 // anything else: store or chain failure
	CodeLimitExceeded  = -32005 // too many subscriptions on one connection
	CodeInvalidRequest = -32600 // oversized body, batch too large
	CodeInvalidParams  = -32602 // ErrInvalidParams; also undecodable parameters
)

// Errors returned by the bridge's operations. Every error an operation
// returns wraps at most one of them; errors wrapping none are internal
// (CodeInternal). Test with errors.Is.
var (
	// ErrBadSignature: the signature is malformed or recovers (in the
	// bridge's EIP-712 domain) to an address that is neither player of the
	// game. A state signed for another game, contract or chain id lands
	// here, since its signature recovers to an unrelated address.
	ErrBadSignature = errors.New("bridge: bad signature or signer")

	// ErrNotYourTurn: the state is signed by a player of the game, but the
	// newest accepted state leaves the other player to move.
	ErrNotYourTurn = errors.New("bridge: not this player's turn")

	// ErrIllegalMove: the move is not UCI, not legal in the previous
	// position, or the previous position is already checkmate or
	// stalemate.
	ErrIllegalMove = errors.New("bridge: illegal move")

	// ErrFENMismatch: the state's FEN is unparsable or is not the position
	// its move leads to.
	ErrFENMismatch = errors.New("bridge: FEN does not follow from the move")

	// ErrNotNext: the state's ply is not the newest accepted ply plus one,
	// or its prevHash is not the struct hash of the newest accepted state
	// (the start state before the first move), or it differs from the
	// state already accepted at its ply.
	ErrNotNext = errors.New("bridge: ply or prevHash does not continue the game")

	// ErrUnknownGame: no game with this id was opened on the bridge.
	ErrUnknownGame = errors.New("bridge: unknown game")

	// ErrGameNotActive: the arbiter does not report the game as active
	// (or, for moves, active or claimed).
	ErrGameNotActive = errors.New("bridge: game not active")

	// ErrDuplicate: the state is exactly one already accepted.
	ErrDuplicate = errors.New("bridge: duplicate of an accepted state")

	// ErrFalseClaim: the arbiter would reject the claim built from the
	// states the bridge holds.
	ErrFalseClaim = errors.New("bridge: claim would be false")

	// ErrInvalidParams: a request parameter is out of range (claim kind,
	// claimant who is not a player, oversized field).
	ErrInvalidParams = errors.New("bridge: invalid parameters")
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

// codes maps each sentinel to its code, in the order ErrorCode tries them.
var codes = []struct {
	err  error
	code int
}{
	{ErrBadSignature, CodeBadSignature},
	{ErrNotYourTurn, CodeNotYourTurn},
	{ErrIllegalMove, CodeIllegalMove},
	{ErrFENMismatch, CodeFENMismatch},
	{ErrNotNext, CodeNotNext},
	{ErrUnknownGame, CodeUnknownGame},
	{ErrGameNotActive, CodeGameNotActive},
	{ErrDuplicate, CodeDuplicate},
	{ErrFalseClaim, CodeFalseClaim},
	{ErrInvalidParams, CodeInvalidParams},
}

// ErrorCode returns the JSON-RPC error code for an error returned by an
// operation: the code of the sentinel it wraps, or CodeInternal.
func ErrorCode(err error) int {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

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
