package chessrules

import (
	"errors"
	"fmt"
)

// Errors callers tell apart with errors.Is. Every error returned by this
// package wraps exactly one of them.
var (
	// ErrInvalidFEN is returned for a FEN that is malformed, too long, or
	// describes an impossible position, and for the zero Position.
	ErrInvalidFEN = errors.New("chess: invalid FEN")

	// ErrMalformedMove is returned for a move that is not UCI notation.
	ErrMalformedMove = errors.New("chess: malformed UCI move")

	// ErrIllegalMove is returned for a well-formed move that is not legal in
	// the position.
	ErrIllegalMove = errors.New("chess: illegal move")

	// ErrGameOver is returned when a move is applied to a position in which
	// the side to move has no legal move (checkmate or stalemate).
	ErrGameOver = errors.New("chess: game over")
)

// Detailed causes; each wraps one of the exported errors above.
var (
	errFENTooLong      = fmt.Errorf("%w: longer than %d bytes", ErrInvalidFEN, MaxFENLength)
	errFENFields       = fmt.Errorf("%w: want 6 fields separated by single spaces", ErrInvalidFEN)
	errFENPlacement    = fmt.Errorf("%w: bad piece placement", ErrInvalidFEN)
	errFENSide         = fmt.Errorf("%w: bad side to move", ErrInvalidFEN)
	errFENCastling     = fmt.Errorf("%w: bad castling rights", ErrInvalidFEN)
	errFENEnPassant    = fmt.Errorf("%w: bad en-passant square", ErrInvalidFEN)
	errFENCounter      = fmt.Errorf("%w: bad move counter", ErrInvalidFEN)
	errFENKings        = fmt.Errorf("%w: want exactly one king per side", ErrInvalidFEN)
	errFENPawnRank     = fmt.Errorf("%w: pawn on first or last rank", ErrInvalidFEN)
	errFENOppInCheck   = fmt.Errorf("%w: side not to move is in check", ErrInvalidFEN)
	errZeroPosition    = fmt.Errorf("%w: zero Position", ErrInvalidFEN)
	errEngine          = fmt.Errorf("%w: rejected by move generator", ErrInvalidFEN)
	errCounterOverflow = fmt.Errorf("%w: move counter would exceed %d", ErrIllegalMove, maxCounter)
)
