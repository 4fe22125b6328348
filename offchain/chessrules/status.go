package chessrules

import nchess "github.com/notnil/chess"

// Result describes the state of play in one position. It is an immutable
// value; obtain it from Status.
type Result struct {
	turn         Color
	check        bool
	hasMove      bool
	insufficient bool
	fifty        bool
}

// Status evaluates pos: whether the side to move is in check and has a legal
// move, and whether a draw by insufficient material or the fifty-move rule
// applies. It fails only for the zero Position.
func Status(pos Position) (Result, error) {
	if !pos.valid() {
		return Result{}, errZeroPosition
	}
	eng, err := pos.engine()
	if err != nil {
		return Result{}, err
	}
	// notnil's Status stops generating moves at the first legal one.
	return Result{
		turn:         pos.turn,
		check:        pos.board.inCheck(pos.turn),
		hasMove:      eng.Status() == nchess.NoMethod,
		insufficient: pos.board.insufficientMaterial(),
		fifty:        pos.halfmove >= 100,
	}, nil
}

// SideToMove returns the side to move.
func (r Result) SideToMove() Color { return r.turn }

// IsCheck reports whether the side to move is in check.
func (r Result) IsCheck() bool { return r.check }

// HasLegalMove reports whether the side to move has at least one legal move.
func (r Result) HasLegalMove() bool { return r.hasMove }

// IsCheckmate reports whether the side to move is in check and has no legal
// move. The game is then won by the other side.
func (r Result) IsCheckmate() bool { return r.check && !r.hasMove }

// IsStalemate reports whether the side to move is not in check but has no
// legal move. The game is then drawn.
func (r Result) IsStalemate() bool { return !r.check && !r.hasMove }

// IsInsufficientMaterial reports whether neither side can checkmate by any
// sequence of legal moves because only these remain besides the kings: at
// most one knight or bishop in total, or bishops that all stand on squares
// of one colour (for either side). The game is then drawn.
func (r Result) IsInsufficientMaterial() bool { return r.insufficient }

// IsFiftyMove reports whether the halfmove clock has reached 100, so either
// player may claim a draw under the fifty-move rule. The claim is optional;
// play may continue.
func (r Result) IsFiftyMove() bool { return r.fifty }

// Winner returns the side that has checkmated, or NoColor if the position is
// not checkmate.
func (r Result) Winner() Color {
	if r.IsCheckmate() {
		return r.turn.Other()
	}
	return NoColor
}
