package pos

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestClusterCommits(t *testing.T) {
	tests := []struct {
		name   string
		powers []uint64
		opts   []clusterOpt
	}{
		{"four equal validators", []uint64{1, 1, 1, 1}, nil},
		{"weighted stakes", []uint64{1, 2, 3, 4}, nil},
		{"single validator", []uint64{5}, nil},
		{"seven validators with WAL", []uint64{1, 1, 1, 1, 1, 1, 1}, []clusterOpt{withWAL()}},
		{"paced by commit ticks", []uint64{1, 1, 1, 1}, []clusterOpt{withConfig(func(c *Config) { c.CommitTicks = 5 })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, tt.powers, tt.opts...)
			if !c.run(200, c.allAt(6)) {
				t.Fatalf("heights %v after 200 ticks, want all at 6", c.heights())
			}
			c.checkNoDoubleSigns()
			for h := uint64(1); h <= 6; h++ {
				want := c.nodes[0].blocks[h].Hash()
				for _, n := range c.nodes[1:] {
					if have := n.blocks[h].Hash(); have != want {
						t.Fatalf("height %d: node %s has %x, node A %x", h, n.name, have, want)
					}
				}
			}
		})
	}
}

func TestClusterCommitTicksPaceBlocks(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1}, withConfig(func(c *Config) { c.CommitTicks = 10 }))
	c.run(35, func() bool { return false })
	// Each height waits 10 ticks before round 0, so 35 ticks give at most
	// 4 heights.
	if h := c.maxHeight(); h < 2 || h > 4 {
		t.Fatalf("height after 35 ticks: have %d, want 2..4", h)
	}
}

// TestClusterSlowClocksKeepUp: validators whose clocks run at half speed
// used to decide a height only once their own CommitTicks wait was over,
// even when the others had decided it long before; they fell a height
// further behind every other height, and when one of them was to propose
// the round timed out. Now a waiting validator decides as soon as it holds
// the commit, so every validator stays at the others' height.
func TestClusterSlowClocksKeepUp(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1, 1, 1, 1})
	for _, i := range adjacentValidators(c, 2) {
		c.nodes[i].clock = rate{1, 2}
	}
	for range 300 {
		c.tick()
		hs := c.heights()
		if low, high := slices.Min(hs), slices.Max(hs); high > low+1 {
			t.Fatalf("tick %d: heights %v, want every validator within one height of the others", c.now, hs)
		}
	}
	// Five of seven heights take a tick, the two slow proposers' two.
	if h := c.maxHeight(); h < 200 {
		t.Fatalf("height after 300 ticks: have %d, want at least 200", h)
	}
	c.checkNoDoubleSigns()
}

func TestClusterCrashes(t *testing.T) {
	t.Run("one crashed validator does not stop the chain", func(t *testing.T) {
		c := newCluster(t, []uint64{1, 1, 1, 1}, withWAL())
		c.run(100, c.allAt(2))
		c.crash(3)
		if !c.run(400, c.allAt(8, 0, 1, 2)) {
			t.Fatalf("heights %v with D down, want A, B, C at 8", c.heights())
		}
		c.restart(3)
		if !c.run(400, c.allAt(c.maxHeight()+2)) {
			t.Fatalf("heights %v after D restarted, want all caught up", c.heights())
		}
		c.checkNoDoubleSigns()
	})
	t.Run("two crashed stop the chain, which resumes when one returns", func(t *testing.T) {
		c := newCluster(t, []uint64{1, 1, 1, 1}, withWAL())
		c.run(100, c.allAt(3))
		c.crash(2)
		c.crash(3)
		stopped := c.maxHeight()
		c.run(300, func() bool { return false })
		if h := c.maxHeight(); h != stopped {
			t.Fatalf("height moved from %d to %d with half the stake down", stopped, h)
		}
		c.restart(2)
		if !c.run(600, c.allAt(stopped+3, 0, 1, 2)) {
			t.Fatalf("heights %v after C returned, want A, B, C at %d", c.heights(), stopped+3)
		}
		c.checkNoDoubleSigns()
	})
	t.Run("validators crashing and restarting from their WAL mid-round", func(t *testing.T) {
		c := newCluster(t, []uint64{1, 1, 1, 1}, withWAL())
		for k := range 12 {
			i := k % 4
			c.run(3+k%5, func() bool { return false })
			c.crash(i)
			c.run(2, func() bool { return false })
			c.restart(i)
		}
		if !c.run(600, c.allAt(c.maxHeight()+2)) {
			t.Fatalf("heights %v after the crashes, want progress", c.heights())
		}
		c.checkNoDoubleSigns()
	})
}

// setPartitions returns every partition of {0..n-1} into at least two
// groups.
func setPartitions(n int) [][][]int {
	var out [][][]int
	var rec func(i int, groups [][]int)
	rec = func(i int, groups [][]int) {
		if i == n {
			if len(groups) > 1 {
				cp := make([][]int, len(groups))
				for g := range groups {
					cp[g] = append([]int(nil), groups[g]...)
				}
				out = append(out, cp)
			}
			return
		}
		for g := range groups {
			groups[g] = append(groups[g], i)
			rec(i+1, groups)
			groups[g] = groups[g][:len(groups[g])-1]
		}
		rec(i+1, append(groups, []int{i}))
	}
	rec(0, nil)
	return out
}

func TestClusterPartitions(t *testing.T) {
	parts := setPartitions(4)
	if len(parts) != 14 {
		t.Fatalf("have %d partitions of 4 nodes, want 14", len(parts))
	}
	for _, groups := range parts {
		t.Run(fmt.Sprint(groups), func(t *testing.T) {
			c := newCluster(t, []uint64{1, 1, 1, 1})
			c.run(100, c.allAt(2))
			before := c.heights()
			c.partition(groups...)
			c.run(150, func() bool { return false })
			during := c.heights()
			for _, g := range groups {
				for _, i := range g {
					switch {
					case len(g) < 3 && during[i] != before[i]:
						t.Fatalf("node %d in minority %v moved from %d to %d", i, g, before[i], during[i])
					case len(g) >= 3 && during[i] < before[i]+2:
						t.Fatalf("node %d in majority %v stuck at %d", i, g, during[i])
					}
				}
			}
			c.heal()
			target := c.maxHeight() + 2
			if !c.run(2000, c.allAt(target)) {
				t.Fatalf("heights %v after healing, want all at %d", c.heights(), target)
			}
			c.checkNoDoubleSigns()
		})
	}
}

func TestClusterLossyNetwork(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1})
	rng := rand.New(rand.NewPCG(1, 2))
	c.drop = func(envelope) bool { return rng.IntN(100) < 30 }
	if !c.run(3000, c.allAt(5)) {
		t.Fatalf("heights %v with 30%% loss, want all at 5", c.heights())
	}
	c.checkNoDoubleSigns()
}

func TestClusterEquivocatingProposer(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1})
	byz := newEquivocator(rand.New(rand.NewPCG(1, 2)), false)
	c.nodes[3].byz = byz
	if !c.run(1500, c.allAt(8, 0, 1, 2)) {
		t.Fatalf("heights %v, want the correct validators at 8", c.heights())
	}
	if len(byz.split) == 0 {
		t.Fatal("the Byzantine validator never proposed; the test proves nothing")
	}
	c.checkNoDoubleSigns()
}

func TestClusterDoubleSignEvidence(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1})
	byz := c.nodes[3]
	byz.byz = doubleVoter{newCoalition(nil)}
	if !c.run(300, c.allAt(3, 0, 1, 2)) {
		t.Fatalf("heights %v, want the correct validators at 3", c.heights())
	}
	for _, n := range c.nodes[:3] {
		if len(n.evidence) == 0 {
			t.Fatalf("node %s saw no evidence", n.name)
		}
		for _, ev := range n.evidence {
			dec, err := DecodeEvidence(ev.Encode())
			if err != nil {
				t.Fatal(err)
			}
			vals, _ := c.sets.At(dec.VoteA.Height)
			offender, err := VerifyEvidence(testChainID, dec, vals)
			if err != nil {
				t.Fatalf("node %s: evidence rejected: %v", n.name, err)
			}
			if offender != byz.addr {
				t.Fatalf("offender: have %v, want %v", offender, byz.addr)
			}
		}
	}
	c.checkNoDoubleSigns()
}

func TestVerifyEvidenceRejects(t *testing.T) {
	a, b, x := testKey(t, "A"), testKey(t, "B"), testKey(t, "X")
	vals := mustSet(t, 1, []*ecdsa.PrivateKey{a, b}, nil)
	h1, h2 := common.Hash{1}, common.Hash{2}
	good := NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, a, Prevote, 5, 1, h2))
	if off, err := VerifyEvidence(testChainID, good, vals); err != nil || off != addrOf(a) {
		t.Fatalf("good evidence: have %v, %v", off, err)
	}
	tests := []struct {
		name string
		ev   *Evidence
		vals *ValidatorSet
		want error
	}{
		{"same block", NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, a, Prevote, 5, 1, h1)), vals, errEvidenceMismatch},
		{"different rounds", NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, a, Prevote, 5, 2, h2)), vals, errEvidenceMismatch},
		{"different heights", NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, a, Prevote, 6, 1, h2)), vals, errEvidenceMismatch},
		{"different types", NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, a, Precommit, 5, 1, h2)), vals, errEvidenceMismatch},
		{"different signers", NewEvidence(signVote(t, a, Prevote, 5, 1, h1), signVote(t, b, Prevote, 5, 1, h2)), vals, errEvidenceSigners},
		{"not a validator", NewEvidence(signVote(t, x, Prevote, 5, 1, h1), signVote(t, x, Prevote, 5, 1, h2)), vals, errNotValidator},
		{"set not yet in force", good, mustSet(t, 10, []*ecdsa.PrivateKey{a, b}, nil), errNoValidatorSet},
		{"bad signature", func() *Evidence {
			ev := *good
			ev.VoteB.Signature[64] = 9
			return &ev
		}(), vals, errBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyEvidence(testChainID, tt.ev, tt.vals); !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
		})
	}
}

// TestClusterSlowValidationKeepsRoundZero: every validator takes longer
// than the propose timeout to execute each proposal (a loaded machine, a
// large block), though the proposal reaches it in time. Each height must
// still be decided in round 0: the timeout waits for a validation already
// under way (decision 36). Before, every node prevoted nil at the timeout
// and no height was decided before its validation time fit a later
// round's longer timeout.
func TestClusterSlowValidationKeepsRoundZero(t *testing.T) {
	slow := testConfig(nil).TimeoutPropose.Ticks(0) + 3 // beyond round 0's timeout, within twice it
	c := newCluster(t, []uint64{1, 1, 1, 1}, withSlowValidation(slow))
	if !c.run(400, c.allAt(8)) {
		t.Fatalf("heights %v after 400 ticks, want all at 8", c.heights())
	}
	c.checkNoDoubleSigns()
	for h := uint64(1); h <= 8; h++ {
		for _, n := range c.nodes {
			if r := n.commits[h].Round; r != 0 {
				t.Fatalf("height %d decided in round %d at node %s, want round 0", h, r, n.name)
			}
		}
	}
}
