package pos

import (
	"testing"
	"time"
)

// TestStatusTracker feeds the tracker a sequence of core positions at
// known times and checks the rounds it records.
func TestStatusTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type pos struct {
		ms      int
		height  uint64
		round   uint32
		step    step
		waiting bool
	}
	tests := []struct {
		name  string
		steps []pos
		want  []RoundTiming
		cur   ConsensusStatus
	}{
		{
			name: "decided in round 0",
			steps: []pos{
				{0, 5, 0, stepPropose, true},
				{100, 5, 0, stepPropose, false},
				{300, 5, 0, stepPrevote, false},
				{350, 5, 0, stepPrecommit, false},
				{400, 6, 0, stepPropose, true},
			},
			want: []RoundTiming{{Height: 5, Round: 0, Start: at(100), Propose: 200 * time.Millisecond, Prevote: 50 * time.Millisecond, Precommit: 50 * time.Millisecond, Decided: true}},
			cur:  ConsensusStatus{Height: 6, Step: StepCommitWait, Since: at(400)},
		},
		{
			name: "round 0 times out, round 1 decides",
			steps: []pos{
				{0, 5, 0, stepPropose, false},
				{1000, 5, 0, stepPrevote, false},
				{2000, 5, 1, stepPropose, false},
				{2100, 5, 1, stepPrevote, false},
				{2200, 5, 1, stepPrecommit, false},
				{2300, 6, 0, stepPropose, true},
				{2500, 6, 0, stepPropose, false},
			},
			want: []RoundTiming{
				{Height: 5, Round: 0, Start: at(0), Propose: time.Second, Prevote: time.Second},
				{Height: 5, Round: 1, Start: at(2000), Propose: 100 * time.Millisecond, Prevote: 100 * time.Millisecond, Precommit: 100 * time.Millisecond, Decided: true},
			},
			cur: ConsensusStatus{Height: 6, Step: StepPropose, Since: at(2500)},
		},
		{
			name: "an unchanged position records nothing",
			steps: []pos{
				{0, 5, 0, stepPropose, false},
				{10, 5, 0, stepPropose, false},
				{20, 5, 0, stepPropose, false},
			},
			cur: ConsensusStatus{Height: 5, Step: StepPropose, Since: at(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr statusTracker
			c := &Core{vals: &ValidatorSet{}}
			for _, p := range tt.steps {
				c.height, c.round, c.step, c.waiting = p.height, p.round, p.step, p.waiting
				tr.observe(c, at(p.ms))
			}
			got := tr.snapshot()
			if len(got.Rounds) != len(tt.want) {
				t.Fatalf("rounds: have %+v, want %+v", got.Rounds, tt.want)
			}
			for i := range tt.want {
				if got.Rounds[i] != tt.want[i] {
					t.Errorf("round %d: have %+v, want %+v", i, got.Rounds[i], tt.want[i])
				}
			}
			got.Rounds = nil
			if got.Height != tt.cur.Height || got.Round != tt.cur.Round || got.Step != tt.cur.Step || !got.Since.Equal(tt.cur.Since) {
				t.Errorf("current: have %+v, want %+v", got, tt.cur)
			}
		})
	}
}

// TestStatusTrackerBounded checks that only the last rounds are kept.
func TestStatusTrackerBounded(t *testing.T) {
	var tr statusTracker
	c := &Core{vals: &ValidatorSet{}}
	now := time.Unix(0, 0)
	for h := uint64(1); h <= 3*maxRoundTimings; h++ {
		for _, s := range []step{stepPropose, stepPrevote, stepPrecommit} {
			c.height, c.step = h, s
			now = now.Add(time.Millisecond)
			tr.observe(c, now)
		}
	}
	got := tr.snapshot().Rounds
	if len(got) != maxRoundTimings {
		t.Fatalf("kept %d rounds, want %d", len(got), maxRoundTimings)
	}
	if last := got[len(got)-1].Height; last != 3*maxRoundTimings-1 {
		t.Errorf("newest kept round is of height %d, want %d", last, 3*maxRoundTimings-1)
	}
}
