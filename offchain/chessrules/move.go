package chessrules

import (
	"fmt"

	nchess "github.com/notnil/chess"
)

// ApplyUCI plays one move, given in UCI notation, in pos and returns the
// resulting position. UCI moves name the origin and destination squares in
// lower case, plus a promotion piece (q, r, b or n) when a pawn reaches the
// last rank: "e2e4", "e7e8q", "a2a1n". Castling is the king's move, "e1g1"
// or "e1c1" (and "e8g8", "e8c8" for black).
//
// The error wraps ErrInvalidFEN for the zero Position, ErrMalformedMove if
// uci is not UCI notation, ErrGameOver if the side to move has no legal move
// at all, and ErrIllegalMove if the move is not among the legal ones.
// Draws by insufficient material or the fifty-move rule do not stop play
// here; the caller decides when those end the game (see Status).
func ApplyUCI(pos Position, uci string) (Position, error) {
	if !pos.valid() {
		return Position{}, errZeroPosition
	}
	from, to, promo, err := parseUCI(uci)
	if err != nil {
		return Position{}, err
	}
	eng, err := pos.engine()
	if err != nil {
		return Position{}, err
	}
	moves := eng.ValidMoves()
	if len(moves) == 0 {
		return Position{}, fmt.Errorf("%w: %s to move has no legal move", ErrGameOver, pos.turn)
	}
	var found *nchess.Move
	for _, m := range moves {
		if square(m.S1()) == from && square(m.S2()) == to && m.Promo() == promo {
			found = m
			break
		}
	}
	if found == nil {
		return Position{}, fmt.Errorf("%w: %q in %s", ErrIllegalMove, uci, pos.FEN())
	}

	next := Position{turn: pos.turn.Other(), halfmove: pos.halfmove + 1, fullmove: pos.fullmove}
	if pos.board[from].kind() == pawn || pos.board[to] != empty {
		next.halfmove = 0
	}
	if pos.turn == Black {
		next.fullmove++
	}
	if next.halfmove > maxCounter || next.fullmove > maxCounter {
		return Position{}, errCounterOverflow
	}
	after := eng.Update(found)
	for s := range next.board {
		next.board[s] = fromEngine(after.Board().Piece(nchess.Square(s)))
	}
	// Castling rights only ever shrink; normalize drops those whose king or
	// rook has moved or been captured.
	next.castling = pos.castling
	next.ep = square(after.EnPassantSquare())
	if after.EnPassantSquare() == nchess.NoSquare {
		next.ep = noSquare
	}
	return next.normalize()
}

// parseUCI parses a move such as "e2e4" or "e7e8q".
func parseUCI(s string) (from, to square, promo nchess.PieceType, err error) {
	if len(s) != 4 && len(s) != 5 {
		return 0, 0, 0, fmt.Errorf("%w: %q", ErrMalformedMove, truncate(s))
	}
	from, ok1 := parseSquare(s[0:2])
	to, ok2 := parseSquare(s[2:4])
	if !ok1 || !ok2 {
		return 0, 0, 0, fmt.Errorf("%w: %q", ErrMalformedMove, s)
	}
	promo = nchess.NoPieceType
	if len(s) == 5 {
		switch s[4] {
		case 'q':
			promo = nchess.Queen
		case 'r':
			promo = nchess.Rook
		case 'b':
			promo = nchess.Bishop
		case 'n':
			promo = nchess.Knight
		default:
			return 0, 0, 0, fmt.Errorf("%w: %q", ErrMalformedMove, s)
		}
	}
	return from, to, promo, nil
}

// truncate shortens untrusted input before it goes into an error message.
func truncate(s string) string {
	const max = 16
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// engine builds a fresh notnil position for p. notnil values cache move
// lists internally, so one is built per call and never shared.
func (p Position) engine() (*nchess.Position, error) {
	eng := new(nchess.Position)
	if err := eng.UnmarshalText([]byte(p.format())); err != nil {
		return nil, fmt.Errorf("%w: %w", errEngine, err)
	}
	return eng, nil
}

// hasEnPassantCapture reports whether any legal move in eng captures en
// passant.
func hasEnPassantCapture(eng *nchess.Position) bool {
	for _, m := range eng.ValidMoves() {
		if m.HasTag(nchess.EnPassant) {
			return true
		}
	}
	return false
}

// fromEngine converts a notnil piece.
func fromEngine(p nchess.Piece) piece {
	c := White
	if p.Color() == nchess.Black {
		c = Black
	}
	switch p.Type() {
	case nchess.Pawn:
		return mkPiece(pawn, c)
	case nchess.Knight:
		return mkPiece(knight, c)
	case nchess.Bishop:
		return mkPiece(bishop, c)
	case nchess.Rook:
		return mkPiece(rook, c)
	case nchess.Queen:
		return mkPiece(queen, c)
	case nchess.King:
		return mkPiece(king, c)
	default:
		return empty
	}
}
