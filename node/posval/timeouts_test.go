package posval

import (
	"testing"
	"time"
)

// TestConsensusTimeouts checks that a proposer that missed its last turn
// is awaited less than a present one, but never less than a vote timeout.
func TestConsensusTimeouts(t *testing.T) {
	tests := []struct {
		name      string
		blockTime time.Duration
	}{
		{"fast blocks", 100 * time.Millisecond},
		{"one second", time.Second},
		{"slow blocks", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := consensusTimeouts(tt.blockTime)
			absent, full, vote := c.TimeoutProposeAbsent.Ticks(0), c.TimeoutPropose.Ticks(0), c.TimeoutPrevote.Ticks(0)
			if absent >= full {
				t.Fatalf("absent proposer's timeout: have %d ticks, want less than the full %d", absent, full)
			}
			if absent < vote {
				t.Fatalf("absent proposer's timeout: have %d ticks, want at least a vote timeout (%d)", absent, vote)
			}
			if have, want := c.TimeoutProposeAbsent.Delta, c.TimeoutPropose.Delta; have != want {
				t.Fatalf("growth per round: have %d, want %d", have, want)
			}
		})
	}
}
