package chessrules

import (
	"errors"
	"testing"
)

// play applies moves in order from fen and returns the final position.
func play(t *testing.T, fen string, moves ...string) Position {
	t.Helper()
	p, err := ParseFEN(fen)
	if err != nil {
		t.Fatalf("ParseFEN(%q): have %v, want nil", fen, err)
	}
	for _, m := range moves {
		if p, err = ApplyUCI(p, m); err != nil {
			t.Fatalf("ApplyUCI(%q): have %v, want nil", m, err)
		}
	}
	return p
}

func TestApplyUCI(t *testing.T) {
	const castle = "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"
	const castleBlack = "r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1"
	tests := []struct {
		name  string
		fen   string
		moves []string
		want  string
	}{
		{"pawn double step drops unusable en passant", StartFEN, []string{"e2e4"},
			"rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"},
		{"knight move counts halfmove and fullmove", StartFEN, []string{"g1f3", "g8f6"},
			"rnbqkb1r/pppppppp/5n2/8/8/5N2/PPPPPPPP/RNBQKB1R w KQkq - 2 2"},
		{"double step keeps usable en passant", "4k3/3p4/8/4P3/8/8/8/4K3 b - - 0 1", []string{"d7d5"},
			"4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2"},
		{"en passant capture", "4k3/3p4/8/4P3/8/8/8/4K3 b - - 0 1", []string{"d7d5", "e5d6"},
			"4k3/8/3P4/8/8/8/8/4K3 b - - 0 2"},
		{"black en passant capture", "4k3/8/8/8/3p4/8/4P3/4K3 w - - 0 1", []string{"e2e4", "d4e3"},
			"4k3/8/8/8/8/4p3/8/4K3 w - - 0 2"},
		{"promotion to queen", "4k3/P7/8/8/8/8/8/4K3 w - - 5 40", []string{"a7a8q"},
			"Q3k3/8/8/8/8/8/8/4K3 b - - 0 40"},
		{"underpromotion to knight", "4k3/P7/8/8/8/8/8/4K3 w - - 0 1", []string{"a7a8n"},
			"N3k3/8/8/8/8/8/8/4K3 b - - 0 1"},
		{"underpromotion with capture", "1r2k3/P7/8/8/8/8/8/4K3 w - - 0 1", []string{"a7b8r"},
			"1R2k3/8/8/8/8/8/8/4K3 b - - 0 1"},
		{"black underpromotion to bishop", "4k3/8/8/8/8/8/p7/4K3 b - - 0 1", []string{"a2a1b"},
			"4k3/8/8/8/8/8/8/b3K3 w - - 0 2"},
		{"white castles king side", castle, []string{"e1g1"}, "r3k2r/8/8/8/8/8/8/R4RK1 b kq - 1 1"},
		{"white castles queen side", castle, []string{"e1c1"}, "r3k2r/8/8/8/8/8/8/2KR3R b kq - 1 1"},
		{"black castles king side", castleBlack, []string{"e8g8"}, "r4rk1/8/8/8/8/8/8/R3K2R w KQ - 1 2"},
		{"black castles queen side", castleBlack, []string{"e8c8"}, "2kr3r/8/8/8/8/8/8/R3K2R w KQ - 1 2"},
		{"queen side castling allowed when b1 attacked", "1r2k3/8/8/8/8/8/8/R3K3 w Q - 0 1", []string{"e1c1"},
			"1r2k3/8/8/8/8/8/8/2KR4 b - - 1 1"},
		{"rook move drops one right", castle, []string{"h1h2"}, "r3k2r/8/8/8/8/8/7R/R3K3 b Qkq - 1 1"},
		{"rook capture drops opponent right", castle, []string{"a1a8"}, "R3k2r/8/8/8/8/8/8/4K2R b Kk - 0 1"},
		{"capture resets halfmove", "4k3/8/8/8/8/3K4/3r4/8 w - - 7 30", []string{"d3d2"},
			"4k3/8/8/8/8/8/3K4/8 b - - 0 30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := play(t, tt.fen, tt.moves...)
			if have := p.FEN(); have != tt.want {
				t.Errorf("have %q, want %q", have, tt.want)
			}
			want, err := ParseFEN(tt.want)
			if err != nil {
				t.Fatalf("ParseFEN(want): have %v, want nil", err)
			}
			if !p.Equal(want) {
				t.Errorf("Equal: have false, want true")
			}
		})
	}
}

func TestApplyUCIErrors(t *testing.T) {
	const foolsMate = "rnb1kbnr/pppp1ppp/8/4p3/6Pq/5P2/PPPPP2P/RNBQKBNR w KQkq - 1 3"
	const stalemate = "7k/5Q2/6K1/8/8/8/8/8 b - - 1 1"
	tests := []struct {
		name string
		fen  string
		move string
		want error
	}{
		{"empty move", StartFEN, "", ErrMalformedMove},
		{"too short", StartFEN, "e2e", ErrMalformedMove},
		{"too long", StartFEN, "e2e4qq", ErrMalformedMove},
		{"upper case", StartFEN, "E2E4", ErrMalformedMove},
		{"off board", StartFEN, "e2e9", ErrMalformedMove},
		{"bad promotion letter", StartFEN, "e2e4k", ErrMalformedMove},
		{"upper case promotion", "4k3/P7/8/8/8/8/8/4K3 w - - 0 1", "a7a8Q", ErrMalformedMove},
		{"null move", StartFEN, "0000", ErrMalformedMove},
		{"san notation", StartFEN, "Nf3", ErrMalformedMove},
		{"wrong side", StartFEN, "e7e5", ErrIllegalMove},
		{"empty origin", StartFEN, "e3e4", ErrIllegalMove},
		{"impossible pawn move", StartFEN, "e2e5", ErrIllegalMove},
		{"needless promotion suffix", StartFEN, "e2e4q", ErrIllegalMove},
		{"promotion without piece", "4k3/P7/8/8/8/8/8/4K3 w - - 0 1", "a7a8", ErrIllegalMove},
		{"moving into check", "4k3/8/8/8/8/8/3r4/4K3 w - - 0 1", "e1d1", ErrIllegalMove},
		{"pinned piece", "4k3/4r3/8/8/8/8/4B3/4K3 w - - 0 1", "e2d3", ErrIllegalMove},
		{"ignoring check", "4k3/4r3/8/8/8/8/P7/4K3 w - - 0 1", "a2a3", ErrIllegalMove},
		{"castling through check", "r3kr2/8/8/8/8/8/8/R3K2R w KQq - 0 1", "e1g1", ErrIllegalMove},
		{"castling out of check", "4r1k1/8/8/8/8/8/8/R3K2R w KQ - 0 1", "e1g1", ErrIllegalMove},
		{"castling into check", "k5r1/8/8/8/8/8/P6P/R3K2R w KQ - 0 1", "e1g1", ErrIllegalMove},
		{"castling through piece", "r3k2r/8/8/8/8/8/8/RN2K2R w KQkq - 0 1", "e1c1", ErrIllegalMove},
		{"castling without right", "r3k2r/8/8/8/8/8/8/R3K2R w Qkq - 0 1", "e1g1", ErrIllegalMove},
		{"king side castling to rook square", "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1h1", ErrIllegalMove},
		{"en passant target dropped from FEN", "4k3/8/8/3pP3/8/8/8/4K3 w - - 0 2", "e5d6", ErrIllegalMove},
		{"pinned en passant", "8/8/8/KpP4r/8/8/8/4k3 w - b6 0 2", "c5b6", ErrIllegalMove},
		{"move after checkmate", foolsMate, "e2e4", ErrGameOver},
		{"malformed after checkmate", foolsMate, "zz", ErrMalformedMove},
		{"move after stalemate", stalemate, "h8g8", ErrGameOver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFEN(tt.fen)
			if err != nil {
				t.Fatalf("ParseFEN: have %v, want nil", err)
			}
			if _, err := ApplyUCI(p, tt.move); !errors.Is(err, tt.want) {
				t.Errorf("have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestApplyUCIDoesNotChangeInput(t *testing.T) {
	p := play(t, StartFEN)
	before := p
	if _, err := ApplyUCI(p, "e2e4"); err != nil {
		t.Fatalf("have %v, want nil", err)
	}
	if !p.Equal(before) || p.FEN() != StartFEN {
		t.Errorf("have %q, want %q", p.FEN(), StartFEN)
	}
}

func TestApplyUCICounterOverflow(t *testing.T) {
	p := play(t, "4k3/8/8/8/8/8/8/R3K3 b - - 0 99999")
	if _, err := ApplyUCI(p, "e8d8"); !errors.Is(err, ErrIllegalMove) {
		t.Errorf("have %v, want %v", err, ErrIllegalMove)
	}
}
