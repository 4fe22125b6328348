package chessrules

import (
	"errors"
	"testing"
)

// status is the expected outcome of Status, flattened for table tests.
type status struct {
	side                                   Color
	check, move, mate, stale, insuff, fift bool
	winner                                 Color
}

func flatten(r Result) status {
	return status{
		side:   r.SideToMove(),
		check:  r.IsCheck(),
		move:   r.HasLegalMove(),
		mate:   r.IsCheckmate(),
		stale:  r.IsStalemate(),
		insuff: r.IsInsufficientMaterial(),
		fift:   r.IsFiftyMove(),
		winner: r.Winner(),
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name  string
		fen   string
		moves []string
		want  status
	}{
		{"start", StartFEN, nil, status{side: White, move: true}},
		{"fool's mate", StartFEN, []string{"f2f3", "e7e5", "g2g4", "d8h4"},
			status{side: White, check: true, mate: true, winner: Black}},
		{"scholar's mate", StartFEN, []string{"e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7"},
			status{side: Black, check: true, mate: true, winner: White}},
		{"scholar's mate one move early", StartFEN, []string{"e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6"},
			status{side: White, move: true}},
		{"check but not mate", "4k3/8/8/8/8/8/8/4R2K b - - 0 1", nil, status{side: Black, check: true, move: true}},
		{"back rank mate", "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1", []string{"a1a8"},
			status{side: Black, check: true, mate: true, winner: White}},
		{"stalemate after queen move", "7k/8/6K1/8/8/8/5Q2/8 w - - 0 1", []string{"f2f7"},
			status{side: Black, stale: true}},
		{"stalemate with pawns", "8/8/8/8/8/6k1/6p1/6K1 w - - 0 1", nil, status{side: White, stale: true}},
		{"king against king", "8/8/4k3/8/8/3K4/8/8 w - - 0 1", nil, status{side: White, move: true, insuff: true}},
		{"king against king after capture", "4k3/8/8/8/8/3K4/3r4/8 w - - 7 30", []string{"d3d2"},
			status{side: Black, move: true, insuff: true}},
		{"king and knight against king", "8/8/4k3/8/8/3K4/3N4/8 b - - 0 1", nil, status{side: Black, move: true, insuff: true}},
		{"king and bishop against king", "8/8/4k3/8/8/3K4/3b4/8 w - - 0 1", nil, status{side: White, move: true, insuff: true}},
		{"bishops on same colour", "5b2/8/4k3/8/8/3K4/8/2B5 w - - 0 1", nil, status{side: White, move: true, insuff: true}},
		{"bishops on opposite colours", "2b5/8/4k3/8/8/3K4/8/2B5 w - - 0 1", nil, status{side: White, move: true}},
		{"knight against knight", "8/8/4k3/3n4/8/3K4/3N4/8 w - - 0 1", nil, status{side: White, move: true}},
		{"two knights", "8/8/4k3/8/8/3K4/3NN3/8 w - - 0 1", nil, status{side: White, move: true}},
		{"knight against bishop", "8/8/4k3/3b4/8/3K4/3N4/8 w - - 0 1", nil, status{side: White, move: true}},
		{"lone pawn", "8/8/4k3/8/8/3K4/3P4/8 w - - 0 1", nil, status{side: White, move: true}},
		{"lone rook", "8/8/4k3/8/8/3K4/3R4/8 w - - 0 1", nil, status{side: White, move: true}},
		{"halfmove 99", "8/8/4k3/8/8/3K4/3R4/8 w - - 99 60", nil, status{side: White, move: true}},
		{"fifty moves after quiet move", "8/8/4k3/8/8/3K4/3R4/8 w - - 99 60", []string{"d2d1"},
			status{side: Black, move: true, fift: true}},
		{"pawn move resets clock", "8/8/4k3/8/8/3K4/3RP3/8 w - - 99 60", []string{"e2e3"},
			status{side: Black, move: true}},
		{"clock beyond 100", "8/8/4k3/8/8/3K4/3R4/8 b - - 120 70", nil, status{side: Black, move: true, fift: true}},
		{"mate beats fifty-move rule", "6k1/5ppp/8/8/8/8/8/R5K1 w - - 99 80", []string{"a1a8"},
			status{side: Black, check: true, mate: true, fift: true, winner: White}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Status(play(t, tt.fen, tt.moves...))
			if err != nil {
				t.Fatalf("have %v, want nil", err)
			}
			if have := flatten(r); have != tt.want {
				t.Errorf("have %+v, want %+v", have, tt.want)
			}
		})
	}
}

func TestMovesAfterMateRejected(t *testing.T) {
	mated := play(t, StartFEN, "e2e4", "e7e5", "f1c4", "b8c6", "d1h5", "g8f6", "h5f7")
	for _, m := range []string{"e8f7", "e8e7", "a7a6", "g7g6"} {
		t.Run(m, func(t *testing.T) {
			if _, err := ApplyUCI(mated, m); !errors.Is(err, ErrGameOver) {
				t.Errorf("have %v, want %v", err, ErrGameOver)
			}
		})
	}
}

func TestColor(t *testing.T) {
	tests := []struct {
		name  string
		c     Color
		other Color
		str   string
	}{
		{"white", White, Black, "white"},
		{"black", Black, White, "black"},
		{"none", NoColor, NoColor, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := tt.c.Other(); have != tt.other {
				t.Errorf("Other: have %v, want %v", have, tt.other)
			}
			if have := tt.c.String(); have != tt.str {
				t.Errorf("String: have %v, want %v", have, tt.str)
			}
		})
	}
}

// middlegame is a Queen's Gambit Declined position after 7 moves each.
const middlegame = "r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N2N2/PP2BPPP/R2QKB1R w KQ - 0 8"

func BenchmarkApplyUCIStatus(b *testing.B) {
	pos, err := ParseFEN(middlegame)
	if err != nil {
		b.Fatalf("ParseFEN: have %v, want nil", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		next, err := ApplyUCI(pos, "c4d5")
		if err != nil {
			b.Fatalf("ApplyUCI: have %v, want nil", err)
		}
		if _, err := Status(next); err != nil {
			b.Fatalf("Status: have %v, want nil", err)
		}
	}
}
