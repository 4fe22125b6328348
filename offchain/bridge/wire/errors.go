package wire

import "errors"

// JSON-RPC error codes. Codes -32010 to -32018 are the bridge's own; each
// belongs to exactly one sentinel error below.
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

// Refusals of the bridge's operations, one per code. The bridge returns
// errors wrapping them; a client gets them back from the code with
// Sentinel. Test with errors.Is.
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

// ErrorCode returns the JSON-RPC error code for an error returned by a
// bridge operation: the code of the sentinel it wraps, or CodeInternal.
func ErrorCode(err error) int {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// Sentinel returns the sentinel error of a JSON-RPC error code, or nil
// for a code that is not one of the bridge's refusals.
func Sentinel(code int) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}
