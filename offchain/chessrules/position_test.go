package chessrules

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFENCanonical(t *testing.T) {
	tests := []struct {
		name string
		fen  string
		want string
	}{
		{"start", StartFEN, StartFEN},
		{"split digit runs", "rnbqkbnr/pppppppp/44/8/116/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", StartFEN},
		{"castling order", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w qkQK - 0 1", StartFEN},
		{"castling without rook dropped", "rnbqkbn1/pppppppp/8/8/8/8/PPPPPPPP/1NBQKBNR w KQkq - 0 1",
			"rnbqkbn1/pppppppp/8/8/8/8/PPPPPPPP/1NBQKBNR w Kq - 0 1"},
		{"castling with moved king dropped", "r3k2r/8/8/8/8/8/8/R4K1R w KQkq - 0 1",
			"r3k2r/8/8/8/8/8/8/R4K1R w kq - 0 1"},
		{"unusable en passant dropped", "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1",
			"rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"},
		{"usable en passant kept", "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2", "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2"},
		{"en passant of pinned pawn dropped", "8/8/8/KpP4r/8/8/8/4k3 w - b6 0 2", "8/8/8/KpP4r/8/8/8/4k3 w - - 0 2"},
		{"en passant from h file", "4k3/8/8/6Pp/8/8/8/4K3 w - h6 0 2", "4k3/8/8/6Pp/8/8/8/4K3 w - h6 0 2"},
		{"large counters", "4k3/8/8/8/8/8/8/4K3 b - - 99999 99999", "4k3/8/8/8/8/8/8/4K3 b - - 99999 99999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFEN(tt.fen)
			if err != nil {
				t.Fatalf("ParseFEN: have %v, want nil", err)
			}
			if have := p.FEN(); have != tt.want {
				t.Errorf("FEN: have %q, want %q", have, tt.want)
			}
			again, err := ParseFEN(p.FEN())
			if err != nil || !again.Equal(p) {
				t.Errorf("round trip: have %v (err %v), want %v", again, err, p)
			}
		})
	}
}

func TestParseFENErrors(t *testing.T) {
	tests := []struct {
		name string
		fen  string
		want error
	}{
		{"empty", "", errFENFields},
		{"oversized", StartFEN + strings.Repeat(" ", MaxFENLength), errFENTooLong},
		{"oversized digits", "4k3/8/8/8/8/8/8/4K3 w - - 0 " + strings.Repeat("1", 80), errFENTooLong},
		{"five fields", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0", errFENFields},
		{"double space", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w  KQkq - 0 1", errFENFields},
		{"trailing space", StartFEN + " ", errFENFields},
		{"seven ranks", "rnbqkbnr/pppppppp/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"rank too long", "rnbqkbnr/pppppppp/9/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"rank overflows", "rnbqkbnr/ppppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"rank too short", "rnbqkbnr/ppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"bad piece", "rnbqkbnr/ppppxppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"zero digit", "rnbqkbnr/pppppppp/08/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1", errFENPlacement},
		{"bad side", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR W KQkq - 0 1", errFENSide},
		{"duplicate castling", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KKkq - 0 1", errFENCastling},
		{"castling with dash", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w K- - 0 1", errFENCastling},
		{"castling letter", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkx - 0 1", errFENCastling},
		{"en passant on rank 4", "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e4 0 1", errFENEnPassant},
		{"en passant wrong side", "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR w KQkq e3 0 1", errFENEnPassant},
		{"en passant without pawn", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR b KQkq e3 0 1", errFENEnPassant},
		{"en passant bad square", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR b KQkq e9 0 1", errFENEnPassant},
		{"negative halfmove", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - -1 1", errFENCounter},
		{"plus halfmove", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - +1 1", errFENCounter},
		{"leading zero", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 01 1", errFENCounter},
		{"fullmove zero", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 0", errFENCounter},
		{"counter too large", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 100000 1", errFENCounter},
		{"no black king", "rnbq1bnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQ - 0 1", errFENKings},
		{"two white kings", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBKKBNR w kq - 0 1", errFENKings},
		{"pawn on last rank", "rnbqkbnP/pppppppp/8/8/8/8/PPPPPPP1/RNBQKBNR w KQq - 0 1", errFENPawnRank},
		{"side to move in check is fine", "4k3/8/8/8/8/8/8/4R2K b - - 0 1", nil},
		{"side not to move in check", "4k3/8/8/8/8/8/8/4R2K w - - 0 1", errFENOppInCheck},
		{"adjacent kings", "8/8/8/3kK3/8/8/8/8 w - - 0 1", errFENOppInCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFEN(tt.fen)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, ErrInvalidFEN) {
				t.Errorf("have %v, want it to wrap %v", err, ErrInvalidFEN)
			}
		})
	}
}

func TestSamePosition(t *testing.T) {
	const afterE4 = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"
	const afterE4EP = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 1"
	const epLegal = "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2"
	const epLegalDash = "4k3/8/8/3pP3/8/8/8/4K3 w - - 0 2"
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", StartFEN, StartFEN, true},
		{"unusable en passant, target then dash", afterE4EP, afterE4, true},
		{"unusable en passant, dash then target", afterE4, afterE4EP, true},
		{"usable en passant differs from dash", epLegal, epLegalDash, false},
		{"usable en passant differs from dash, reversed", epLegalDash, epLegal, false},
		{"castling order", StartFEN, "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w kqQK - 0 1", true},
		{"castling rights differ", StartFEN, "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w Qkq - 0 1", false},
		{"side to move differs", StartFEN, "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR b KQkq - 0 1", false},
		{"halfmove differs", StartFEN, "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 1 1", false},
		{"fullmove differs", StartFEN, "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 2", false},
		{"placement differs", StartFEN, afterE4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := SamePosition(tt.a, tt.b)
			if err != nil {
				t.Fatalf("have %v, want nil", err)
			}
			if have != tt.want {
				t.Errorf("have %v, want %v", have, tt.want)
			}
		})
	}
	t.Run("invalid second FEN", func(t *testing.T) {
		if _, err := SamePosition(StartFEN, "junk"); !errors.Is(err, ErrInvalidFEN) {
			t.Errorf("have %v, want %v", err, ErrInvalidFEN)
		}
	})
}

func TestZeroPosition(t *testing.T) {
	var zero Position
	if have := zero.FEN(); have != "" {
		t.Errorf("FEN: have %q, want empty", have)
	}
	if _, err := ApplyUCI(zero, "e2e4"); !errors.Is(err, ErrInvalidFEN) {
		t.Errorf("ApplyUCI: have %v, want %v", err, ErrInvalidFEN)
	}
	if _, err := Status(zero); !errors.Is(err, ErrInvalidFEN) {
		t.Errorf("Status: have %v, want %v", err, ErrInvalidFEN)
	}
}
