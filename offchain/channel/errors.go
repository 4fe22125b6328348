package channel

import "errors"

// Errors callers tell apart with errors.Is, for example to map them to
// JSON-RPC error codes or contract revert reasons. Every error returned by
// this package wraps exactly one of them.
var (
	// ErrBadDomain is returned for a Domain whose chain id is missing,
	// negative or wider than 256 bits.
	ErrBadDomain = errors.New("channel: bad EIP-712 domain")

	// ErrBadSignature is returned for a signature that is not 65 bytes,
	// has v other than 0, 1, 27 or 28, has r or s out of range (including
	// high-s malleable signatures), or from which no key can be recovered.
	ErrBadSignature = errors.New("channel: bad signature")

	// ErrMalformed is returned for a state or outcome that cannot be
	// encoded: an oversized FEN or move, an unknown result code, or JSON
	// with bad hex, unknown or missing fields.
	ErrMalformed = errors.New("channel: malformed message")

	// ErrWrongGame is returned when consecutive states carry different
	// game ids.
	ErrWrongGame = errors.New("channel: state belongs to another game")

	// ErrPlyGap is returned when the next state's ply is not the previous
	// ply plus one.
	ErrPlyGap = errors.New("channel: ply does not follow")

	// ErrBadStart is returned when a state at ply 0 is not the StartState.
	ErrBadStart = errors.New("channel: ply 0 is not the start state")

	// ErrPrevHash is returned when the next state's PrevHash is not the
	// struct hash of the previous state.
	ErrPrevHash = errors.New("channel: prevHash does not match previous state")

	// ErrWrongSigner is returned when a state is not signed by the player
	// whose move it records.
	ErrWrongSigner = errors.New("channel: wrong signer")

	// ErrBadFEN is returned when a state's FEN cannot be parsed.
	ErrBadFEN = errors.New("channel: invalid FEN")

	// ErrGameOver is returned for a move made after checkmate or stalemate.
	ErrGameOver = errors.New("channel: game is over")

	// ErrIllegalMove is returned for a move that is malformed or not legal
	// in the previous state's position.
	ErrIllegalMove = errors.New("channel: illegal move")

	// ErrFENMismatch is returned when a state's FEN is valid but is not the
	// position its move leads to.
	ErrFENMismatch = errors.New("channel: FEN does not match move")
)
