package chessrules

import (
	"errors"
	"testing"
)

// fuzzFENs are positions of every kind the parser treats specially.
var fuzzFENs = []string{
	StartFEN,
	"rnbqkbnr/pppppppp/44/8/116/8/PPPPPPPP/RNBQKBNR w qkQK - 0 1",
	"r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1",
	"4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2",
	"8/8/8/KpP4r/8/8/8/4k3 w - b6 0 2",
	"4k3/P7/8/8/8/8/8/4K3 w - - 99999 99999",
	"7k/5Q2/6K1/8/8/8/8/8 b - - 0 1",
	"rnb1kbnr/pppp1ppp/8/4p3/6Pq/5P2/PPPPP2P/RNBQKBNR w KQkq - 1 3",
	"8/8/8/8/8/8/8/8 w - - 0 1",
}

// FuzzParseFEN parses a FEN as it arrives in a signed state. Failures wrap
// ErrInvalidFEN; a parsed position prints a canonical FEN within
// MaxFENLength that parses back to the same position and prints the same,
// and its status can be evaluated.
func FuzzParseFEN(f *testing.F) {
	for _, fen := range fuzzFENs {
		f.Add(fen)
	}
	f.Fuzz(func(t *testing.T, fen string) {
		p, err := ParseFEN(fen)
		if err != nil {
			if !errors.Is(err, ErrInvalidFEN) {
				t.Fatalf("error %q does not wrap ErrInvalidFEN", err)
			}
			return
		}
		canon := p.FEN()
		if len(canon) > MaxFENLength {
			t.Fatalf("canonical FEN of %d bytes", len(canon))
		}
		again, err := ParseFEN(canon)
		if err != nil || !again.Equal(p) || again.FEN() != canon {
			t.Fatalf("round trip of %q: have %q (%v)", canon, again.FEN(), err)
		}
		if _, err := Status(p); err != nil {
			t.Fatalf("Status: %v", err)
		}
	})
}

// FuzzApplyUCI plays a fuzzed move in a fuzzed position. Failures wrap the
// package's sentinels; a move that is played gives the turn to the other
// side and a position whose FEN parses back to it.
func FuzzApplyUCI(f *testing.F) {
	moves := []string{"e2e4", "e1g1", "e1c1", "e5d6", "a7a8q", "a7a8n", "h8g8", "g4h3", "e2e5", "z9z9", "e7e8k"}
	for i, fen := range fuzzFENs {
		f.Add(fen, moves[i%len(moves)])
	}
	f.Fuzz(func(t *testing.T, fen, uci string) {
		p, err := ParseFEN(fen)
		if err != nil {
			p = Position{} // the zero Position must be refused too
		}
		next, err := ApplyUCI(p, uci)
		if err != nil {
			if !errors.Is(err, ErrInvalidFEN) && !errors.Is(err, ErrMalformedMove) && !errors.Is(err, ErrIllegalMove) && !errors.Is(err, ErrGameOver) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if next.SideToMove() != p.SideToMove().Other() {
			t.Fatalf("%s to move after %s's move", next.SideToMove(), p.SideToMove())
		}
		again, err := ParseFEN(next.FEN())
		if err != nil || !again.Equal(next) {
			t.Fatalf("position after %s in %q does not round-trip: %q (%v)", uci, fen, next.FEN(), err)
		}
	})
}
