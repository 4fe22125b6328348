package pos

import (
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// absentRun is what a cluster with validator D down did over absentHeights
// heights.
type absentRun struct {
	ticks uint64 // cluster ticks (logical time) to decide them
	late  []uint64
	c     *cluster
}

const absentHeights = 24

// runWithDDown runs four equal validators with D (index 3) down from the
// start until A, B and C have decided absentHeights heights, and records
// the heights decided after round 0.
func runWithDDown(t *testing.T, cfg func(*Config)) absentRun {
	t.Helper()
	c := newCluster(t, []uint64{1, 1, 1, 1}, withConfig(cfg))
	c.crash(3)
	start := c.now
	if !c.run(20_000, c.allAt(absentHeights, 0, 1, 2)) {
		t.Fatalf("heights %v, want A, B, C at %d", c.heights(), absentHeights)
	}
	r := absentRun{ticks: c.now - start, c: c}
	for h := uint64(1); h <= absentHeights; h++ {
		if c.nodes[0].commits[h].Round > 0 {
			r.late = append(r.late, h)
		}
	}
	c.checkNoDoubleSigns()
	return r
}

// TestClusterAbsentProposerCostsLittle: with one of four validators down,
// every height whose round 0 it should propose is decided in round 1
// either way (the proposer schedule is not changed), but once each node has
// seen it miss a turn, round 0 of its later turns waits the short
// TimeoutProposeAbsent instead of the full TimeoutPropose. The figure is
// logical time (cluster ticks), which the cores count deterministically.
func TestClusterAbsentProposerCostsLittle(t *testing.T) {
	full := runWithDDown(t, func(cfg *Config) { cfg.TimeoutProposeAbsent = cfg.TimeoutPropose })
	short := runWithDDown(t, func(*Config) {})

	if len(full.late) == 0 {
		t.Fatalf("no height decided after round 0 with D down: the test does not exercise a missing proposer")
	}
	if have, want := short.late, full.late; !slices.Equal(have, want) {
		t.Fatalf("heights decided after round 0: have %v, want %v (same as with full timeouts)", have, want)
	}
	for _, h := range short.late {
		if have := short.c.nodes[0].commits[h].Round; have != 1 {
			t.Fatalf("height %d decided in round %d, want 1", h, have)
		}
	}
	// Every turn of D after its first saves the difference between the
	// two timeouts of round 0.
	cfg := testConfig(nil)
	perTurn := cfg.TimeoutPropose.Base - max(cfg.TimeoutPropose.Base/4, 1)
	if saved, want := int64(full.ticks)-int64(short.ticks), int64(len(short.late)-1)*int64(perTurn); saved < want {
		t.Fatalf("ticks for %d heights: full timeouts %d, short %d; saved %d, want at least %d", absentHeights, full.ticks, short.ticks, saved, want)
	}
	t.Logf("%d heights with D down: %d ticks with full propose timeouts, %d with short ones; %d heights decided in round 1",
		absentHeights, full.ticks, short.ticks, len(short.late))

	// D comes back and catches up by commits: its first proposal clears
	// its mark, and from then on every height is decided in round 0.
	c := short.c
	d := c.nodes[3].addr
	for _, i := range []int{0, 1, 2} {
		if !c.nodes[i].core.absent.missed[d] {
			t.Fatalf("node %s: D not marked absent after missing its turns", c.nodes[i].name)
		}
	}
	c.restart(3)
	target := uint64(absentHeights + 24)
	if !c.run(5_000, c.allAt(target)) {
		t.Fatalf("heights %v after D restarted, want all at %d", c.heights(), target)
	}
	for _, i := range []int{0, 1, 2} {
		if c.nodes[i].core.absent.missed[d] {
			t.Fatalf("node %s: D still marked absent after it proposed", c.nodes[i].name)
		}
	}
	for h := target - 8; h <= target; h++ {
		if have := c.nodes[0].commits[h].Round; have != 0 {
			t.Fatalf("height %d after D's return decided in round %d, want 0", h, have)
		}
	}
	c.checkNoDoubleSigns()
}

// TestAbsentMarks checks the marks of one core: a proposer is marked only
// when its round's propose step times out without anything from it, never
// the core itself, and a proposal from it clears the mark.
func TestAbsentMarks(t *testing.T) {
	self, other := common.Address{1}, common.Address{2}
	tests := []struct {
		name      string
		proposer  common.Address
		proposals int
		proposed  bool // a proposal from the proposer arrives afterwards
		want      bool
	}{
		{"nothing arrived", other, 0, false, true},
		{"a proposal arrived", other, 1, false, false},
		{"own round", self, 0, false, false},
		{"proposal after the miss", other, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a absentProposers
			rs := newRoundState(tt.proposer)
			for range tt.proposals {
				rs.proposals = append(rs.proposals, nil)
			}
			a.timedOut(rs, self)
			if tt.proposed {
				a.proposed(tt.proposer)
			}
			if have := a.missed[tt.proposer]; have != tt.want {
				t.Fatalf("marked: have %v, want %v", have, tt.want)
			}
		})
	}
}

// checkNoCorrectAbsent counts the correct validators that a correct node
// holds as having missed their last turn to propose (absent.go). The
// cluster's network delivers every message before any timeout, so only a
// faulty proposer can miss a turn: a mark on a correct one would mean the
// faulty nodes found a way to shorten an honest proposer's rounds.
func checkNoCorrectAbsent(t *testing.T, c *cluster) int {
	t.Helper()
	violations := 0
	for _, n := range c.nodes {
		if n.byz != nil || n.core == nil {
			continue
		}
		for _, m := range c.nodes {
			if m.byz == nil && n.core.absent.missed[m.addr] {
				t.Errorf("node %s holds correct validator %s as an absent proposer", n.name, m.name)
				violations++
			}
		}
	}
	return violations
}
