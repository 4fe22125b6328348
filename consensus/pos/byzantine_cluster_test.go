package pos

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// The Byzantine suite runs every strategy of byzantine_strategies_test.go
// in the in-memory cluster with 1 of 4 and 2 of 7 equal validators faulty,
// for -byz.heights heights, and checks safety (no fork, no correct node
// double-signs, votes for or builds on a bad block, or reports evidence
// against a correct node) and liveness (every correct node reaches the
// height within a tick budget). It prints the rate of each run against a
// run of correct nodes only, and writes it as markdown to the file named
// by ARBITER_BYZ_REPORT.

var (
	byzHeights = flag.Uint64("byz.heights", byzDefaultHeights, "heights each run of the Byzantine suite must reach")
	byzSeed    = flag.Uint64("byz.seed", 9, "seed of the Byzantine strategies' random choices")
)

// Errors of the cluster's model of a node's chain import.
var (
	// errImportConflict is returned for a block at a height the node has
	// already decided, other than the one it decided.
	errImportConflict = errors.New("cluster: block conflicts with a decided block")
	// errImportParent is returned for a block whose parent the node does
	// not hold.
	errImportParent = errors.New("cluster: block's parent not held")
	// errImportHeader is returned for a block whose header does not verify.
	errImportHeader = errors.New("cluster: header does not verify")
	// errImportCertificate is returned for a block whose certificate (the
	// next block's last commit, or the tip's) does not prove it decided.
	errImportCertificate = errors.New("cluster: block is not certified")
)

// importChain is the cluster's model of a node learning blocks by sync or
// gossip (the chain's certified import followed by the driver's Heads):
// each block must extend the block the node holds below it and pass the
// header checks, and must be certified, by the next block's last commit or,
// for the last, by tip. A block the node holds is skipped. A certified
// block past the node's head becomes its head and the core moves to the
// next height, as the driver does.
func (c *cluster) importChain(i int, blocks []*types.Block, tip Commit) error {
	c.t.Helper()
	n := c.nodes[i]
	for k, b := range blocks {
		h := b.NumberU64()
		if held, ok := n.blocks[h]; ok {
			if held.Hash() != b.Hash() {
				return fmt.Errorf("%w: height %d", errImportConflict, h)
			}
			continue
		}
		parent, ok := n.blocks[h-1]
		if !ok || parent.Hash() != b.ParentHash() {
			return fmt.Errorf("%w: height %d", errImportParent, h)
		}
		if err := n.engine.VerifyHeader(nil, b.Header(), parent.Header()); err != nil {
			return fmt.Errorf("%w: %w", errImportHeader, err)
		}
		cert := tip
		if k+1 < len(blocks) {
			ex, err := DecodeExtra(blocks[k+1].Extra())
			if err != nil {
				return fmt.Errorf("%w: %w", errImportCertificate, err)
			}
			cert = ex.LastCommit
		}
		vals, err := c.sets.At(h)
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := VerifyCommit(testChainID, vals, h, b.Hash(), &cert); err != nil {
			return fmt.Errorf("%w: %w", errImportCertificate, err)
		}
		c.commit(i, &Decision{Block: b, Commit: cert})
		c.handle(i, n.core.Ready())
	}
	return nil
}

// importCheck names the check of importChain that refused a block.
func importCheck(err error) string {
	for _, e := range []error{errImportConflict, errImportParent, errImportHeader, errImportCertificate} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "cluster: ")
		}
	}
	return err.Error()
}

func TestClusterImportChain(t *testing.T) {
	c := newCluster(t, []uint64{1, 1, 1, 1})
	c.run(100, c.allAt(2))
	c.partition([]int{0, 1, 2}, []int{3})
	if !c.run(200, c.allAt(6, 0, 1, 2)) {
		t.Fatalf("heights %v, want A, B, C at 6", c.heights())
	}
	a, d := c.nodes[0], c.nodes[3]
	from := d.head.NumberU64() + 1
	var chain []*types.Block
	for h := from; h <= 6; h++ {
		chain = append(chain, a.blocks[h])
	}
	first := chain[0]
	vals, _ := c.sets.At(from)
	short := Commit{Round: a.commits[from].Round}
	for _, k := range c.nodes[:2] {
		short.Signatures = append(short.Signatures, signVote(t, k.key, Precommit, from, short.Round, first.Hash()).Signature)
	}
	if _, err := VerifyCommit(testChainID, vals, from, first.Hash(), &short); err == nil {
		t.Fatal("two of four precommits verify as a commit; the cases below prove nothing")
	}
	other := buildBlock(t, c.nodes[0].engine, c.genesis, 0, Commit{}, 7)
	tests := []struct {
		name   string
		blocks []*types.Block
		tip    Commit
		want   error
	}{
		{"gap below the block", chain[1:2], a.commits[from+1], errImportParent},
		{"another block at a decided height", []*types.Block{other}, Commit{}, errImportConflict},
		{"no certificate", chain[:1], Commit{}, errImportCertificate},
		{"too few precommits", chain[:1], short, errImportCertificate},
		{"the certificate of another height", chain[:1], a.commits[6], errImportCertificate},
		{"certified by the children and the tip", chain, a.commits[6], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.head.NumberU64()
			err := c.importChain(3, tt.blocks, tt.tip)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if tt.want != nil && d.head.NumberU64() != before {
				t.Fatalf("refused import moved the head from %d to %d", before, d.head.NumberU64())
			}
		})
	}
	if d.head.Hash() != a.blocks[6].Hash() || d.core.Height() != 7 {
		t.Fatalf("after the certified import: head %d, core at %d; want 6, 7", d.head.NumberU64(), d.core.Height())
	}
	c.heal()
	if !c.run(200, c.allAt(c.maxHeight()+2)) {
		t.Fatalf("heights %v after healing, want all caught up", c.heights())
	}
	c.checkNoDoubleSigns()
}

// byzStrategy is one row of the suite: what the faulty nodes do.
type byzStrategy struct {
	name string
	// byz returns the coalition's behaviour; nil leaves the faulty nodes
	// correct (only their clock differs).
	byz func(rng *rand.Rand) behaviour
	// wants are the departures a run must show (coalition.acts).
	wants []string
	// clock is the faulty nodes' clock.
	clock rate
	// slowCorrect halves the clock of one correct node.
	slowCorrect bool
}

// byzStrategies are the rows of the suite.
var byzStrategies = []byzStrategy{
	{name: "seal undecided blocks", byz: func(r *rand.Rand) behaviour { return newUndecidedSealer(r) },
		wants: []string{"head without certificate", "head certified by the coalition alone", "head certified by borrowed signatures",
			"head certified by one signature repeated", "sync of an undecided block and its child", "catch-up commit for an undecided block",
			"refused by the certificate check"}},
	{name: "equivocate", byz: func(r *rand.Rand) behaviour { return newEquivocator(r, false) },
		wants: []string{"two proposals", "conflicting votes"}},
	{name: "different block to each peer", byz: func(r *rand.Rand) behaviour {
		return &perPeer{coalition: newCoalition(r), blocks: make(map[common.Hash][]common.Hash)}
	}, wants: []string{"per-peer proposals", "per-peer votes"}},
	{name: "withhold all votes", byz: func(r *rand.Rand) behaviour { return withholder{coalition: newCoalition(r)} },
		wants: []string{"withheld vote"}},
	{name: "votes to some peers only", byz: func(r *rand.Rand) behaviour { return withholder{coalition: newCoalition(r), some: true} },
		wants: []string{"vote to some peers"}},
	{name: "huge rounds", byz: func(r *rand.Rand) behaviour { return hugeRounds{newCoalition(r)} },
		wants: []string{"vote at MaxRound", "vote at a random far round", "vote at the edge of the window",
			"next-height vote at MaxRound", "vote beyond MaxRound", "proposal at its highest round"}},
	{name: "flood junk", byz: func(r *rand.Rand) behaviour { return junkFlood{newCoalition(r)} },
		wants: []string{"signed junk vote", "random bytes", "truncated message", "flipped bit"}},
	{name: "replay old messages", byz: func(r *rand.Rand) behaviour { return &replayer{coalition: newCoalition(r)} },
		wants: []string{"replayed message"}},
	{name: "propose invalid blocks", byz: func(r *rand.Rand) behaviour {
		return &invalidProposer{coalition: newCoalition(r)}
	}, wants: invalidKinds},
	{name: "clock 2x (correct nodes)", clock: rate{2, 1}},
	{name: "clock 0.5x (correct nodes)", clock: rate{1, 2}},
	{name: "equivocate, clock 2x", byz: func(r *rand.Rand) behaviour { return newEquivocator(r, false) },
		wants: []string{"two proposals", "conflicting votes"}, clock: rate{2, 1}},
	{name: "equivocate + withhold", byz: func(r *rand.Rand) behaviour { return newEquivocator(r, true) },
		wants: []string{"two proposals", "withheld vote"}},
	{name: "withhold all + slow correct clock", byz: func(r *rand.Rand) behaviour { return withholder{coalition: newCoalition(r)} },
		wants: []string{"withheld vote"}, slowCorrect: true},
}

// byzSizes are the network sizes of the suite: n validators of which f
// are faulty, the most that n tolerates.
var byzSizes = []struct{ n, f int }{{4, 1}, {7, 2}}

// byzRow is the outcome of one run.
type byzRow struct {
	strategy   string
	n, f       int
	heights    uint64
	ticks      uint64
	maxRound   uint32
	violations int
	elapsed    time.Duration // wall time
	cpu        time.Duration // CPU time of the process
	failed     bool
}

// rate returns heights per 1000 ticks.
func (r byzRow) rate() float64 { return 1000 * float64(r.heights) / float64(max(r.ticks, 1)) }

func TestClusterByzantine(t *testing.T) {
	heights := *byzHeights
	var rows []byzRow
	baseline := make(map[int]float64)
	for _, size := range byzSizes {
		row := byzRow{strategy: "none (all correct)", n: size.n, heights: heights}
		row.failed = !t.Run(fmt.Sprintf("all correct/0 of %d", size.n), func(t *testing.T) {
			runByzantine(t, byzStrategy{}, size.n, 0, *byzSeed, &row)
		})
		baseline[size.n] = row.rate()
		rows = append(rows, row)
	}
	for k, s := range byzStrategies {
		for _, size := range byzSizes {
			row := byzRow{strategy: s.name, n: size.n, f: size.f, heights: heights}
			row.failed = !t.Run(fmt.Sprintf("%s/%d of %d", s.name, size.f, size.n), func(t *testing.T) {
				runByzantine(t, s, size.n, size.f, *byzSeed*1000+uint64(k), &row)
			})
			rows = append(rows, row)
		}
	}
	table := byzTable(rows, baseline)
	t.Log("\n" + table)
	if path := os.Getenv("ARBITER_BYZ_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runByzantine runs strategy s on n validators, f of them faulty, with the
// strategy's random choices drawn from seed, until every correct node has
// decided row.heights heights, and fills row.
func runByzantine(t *testing.T, s byzStrategy, n, f int, seed uint64, row *byzRow) {
	powers := make([]uint64, n)
	for i := range powers {
		powers[i] = 1
	}
	c := newCluster(t, powers)
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	var byz behaviour
	if s.byz != nil {
		byz = s.byz(rng)
	}
	faulty := adjacentValidators(c, f)
	for _, i := range faulty {
		c.nodes[i].byz, c.nodes[i].clock = byz, s.clock
	}
	correct := c.correct()
	if s.slowCorrect {
		c.nodes[correct[0]].clock = rate{1, 2}
	}
	if byz != nil {
		poison := byz.team().poison
		c.onSigned = func(nd *testNode, raw []byte) {
			if nd.byz != nil {
				return
			}
			if why, ok := touchesPoison(poison, raw); ok {
				t.Errorf("node %s signed a message on a bad block (%s)", nd.name, why)
				row.violations++
			}
		}
	}

	// The budget is twice the ticks of heights whose faulty proposers all
	// let their rounds time out in full (they lead at most f rounds in a
	// row) before a correct proposer's round decides in a tick: room for a
	// slow clock and for rounds lost to locks, far less than a stall.
	budget := row.heights * (roundsBound(testConfig(nil), f) + 1) * 2
	start, startCPU := time.Now(), cpuTime()
	live := c.run(int(budget), func() bool {
		for _, i := range correct {
			row.maxRound = max(row.maxRound, c.nodes[i].core.Round())
		}
		return c.allAt(row.heights, correct...)()
	})
	row.elapsed, row.cpu, row.ticks = time.Since(start), cpuTime()-startCPU, c.now
	if !live {
		t.Errorf("heights %v after %d ticks (the budget), want every correct node at %d", c.heights(), budget, row.heights)
	}
	row.violations += checkCorrectNodes(t, c)
	row.violations += checkNoCorrectAbsent(t, c)
	if byz != nil {
		acts := byz.team().acts
		for _, k := range s.wants {
			if acts[k] == 0 {
				t.Errorf("the faulty nodes never did %q; the run proves nothing about it", k)
			}
		}
		t.Logf("departures: %v", acts)
	}
}

// adjacentValidators returns the f nodes that follow each other in
// address order, which is the order in which rounds pass the proposer's
// turn on: faulty proposers then lead f consecutive rounds.
func adjacentValidators(c *cluster, f int) []int {
	idx := make([]int, len(c.nodes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return c.nodes[a].addr.Cmp(c.nodes[b].addr) })
	return idx[:f]
}

// roundsBound is the ticks a height takes if its first rounds rounds all
// time out in full: CommitTicks and each round's three timeouts.
func roundsBound(cfg Config, rounds int) uint64 {
	b := cfg.CommitTicks
	for r := range uint32(rounds) {
		b += cfg.TimeoutPropose.Ticks(r) + cfg.TimeoutPrevote.Ticks(r) + cfg.TimeoutPrecommit.Ticks(r)
	}
	return b
}

// touchesPoison reports whether a signed message votes for, proposes or
// builds on a poisoned block, and why that block is poisoned.
func touchesPoison(poison map[common.Hash]string, raw []byte) (string, bool) {
	m, err := DecodeMessage(raw, DefaultMaxMessageSize)
	if err != nil {
		return "", false
	}
	var hashes []common.Hash
	switch m := m.(type) {
	case *Proposal:
		hashes = []common.Hash{m.Block.Hash(), m.Block.ParentHash()}
	case *Vote:
		hashes = []common.Hash{m.BlockHash}
	}
	for _, h := range hashes {
		if why, ok := poison[h]; ok {
			return why, true
		}
	}
	return "", false
}

// checkCorrectNodes counts the safety violations of the correct nodes
// beyond forks (which stop the run at once): double signs, and evidence
// that does not verify or names a node that is not Byzantine.
func checkCorrectNodes(t *testing.T, c *cluster) int {
	t.Helper()
	violations := 0
	for _, n := range c.nodes {
		if n.byz != nil {
			continue
		}
		if len(n.doubleSigns) > 0 {
			t.Errorf("node %s double-signed at %v", n.name, n.doubleSigns)
			violations += len(n.doubleSigns)
		}
		for _, ev := range n.evidence {
			vals, _ := c.sets.At(ev.VoteA.Height)
			offender, err := VerifyEvidence(testChainID, ev, vals)
			if err != nil {
				t.Errorf("node %s reported evidence that does not verify: %v", n.name, err)
				violations++
				continue
			}
			if k := slices.IndexFunc(c.nodes, func(m *testNode) bool { return m.addr == offender }); k < 0 || c.nodes[k].byz == nil {
				t.Errorf("node %s reported evidence against %v, a correct validator", n.name, offender)
				violations++
			}
		}
	}
	return violations
}

// byzTable formats rows as a markdown table.
func byzTable(rows []byzRow, baseline map[int]float64) string {
	var b strings.Builder
	b.WriteString("| strategy | faulty | heights | ticks | heights per 1000 ticks | vs all correct | max round | safety violations | wall | CPU |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		status := fmt.Sprint(r.violations)
		if r.failed {
			status += " (run failed)"
		}
		fmt.Fprintf(&b, "| %s | %d of %d | %d | %d | %.0f | %.2f | %d | %s | %.1fs | %.1fs |\n",
			r.strategy, r.f, r.n, r.heights, r.ticks, r.rate(), r.rate()/baseline[r.n], r.maxRound, status, r.elapsed.Seconds(), r.cpu.Seconds())
	}
	return b.String()
}
