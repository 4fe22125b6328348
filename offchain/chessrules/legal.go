package chessrules

import (
	"slices"

	nchess "github.com/notnil/chess"
)

// LegalMoves returns the legal moves of the side to move in pos, in UCI
// notation, sorted; none for the zero Position or a finished game.
func LegalMoves(pos Position) []string {
	if !pos.valid() {
		return nil
	}
	eng, err := pos.engine()
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range eng.ValidMoves() {
		uci := square(m.S1()).String() + square(m.S2()).String()
		switch m.Promo() {
		case nchess.Queen:
			uci += "q"
		case nchess.Rook:
			uci += "r"
		case nchess.Bishop:
			uci += "b"
		case nchess.Knight:
			uci += "n"
		}
		out = append(out, uci)
	}
	slices.Sort(out)
	return out
}
