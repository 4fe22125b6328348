package chessrules

import (
	"slices"
	"testing"
)

// TestLegalMoves checks the move lists of a few positions, and that each
// listed move is accepted by ApplyUCI.
func TestLegalMoves(t *testing.T) {
	tests := []struct {
		name  string
		fen   string
		count int
		has   []string
	}{
		{"start", StartFEN, 20, []string{"e2e4", "g1f3", "b1a3"}},
		{"promotion", "8/P7/8/8/8/8/8/k6K w - - 0 1", 7, []string{"a7a8q", "a7a8n", "h1g2"}},
		{"checkmated", "rnb1kbnr/pppp1ppp/8/4p3/6Pq/5P2/PPPPP2P/RNBQKBNR w KQkq - 1 3", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, err := ParseFEN(tt.fen)
			if err != nil {
				t.Fatal(err)
			}
			got := LegalMoves(pos)
			if len(got) != tt.count {
				t.Fatalf("have %d moves %v, want %d", len(got), got, tt.count)
			}
			for _, m := range tt.has {
				if !slices.Contains(got, m) {
					t.Errorf("have %v, want it to contain %s", got, m)
				}
			}
			for _, m := range got {
				if _, err := ApplyUCI(pos, m); err != nil {
					t.Errorf("ApplyUCI(%s): have %v, want nil", m, err)
				}
			}
		})
	}
	if got := LegalMoves(Position{}); got != nil {
		t.Errorf("zero position: have %v, want none", got)
	}
}
