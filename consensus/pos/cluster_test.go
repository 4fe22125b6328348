package pos

import (
	"crypto/ecdsa"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// This file is the in-memory test network (STYLE 7): N cores stepped
// deterministically in one goroutine. Broadcasts are queued per link and
// delivered in FIFO order by deliver; links can be cut (Partition, Isolate,
// Disconnect) and messages dropped by a filter. Time is Tick; a node's
// clock may run faster or slower than the others'. A node may be Byzantine:
// its behaviour (byzantine_strategies_test.go) decides what it proposes
// and sends. Nothing sleeps and nothing runs concurrently.

// testTimeouts are small tick counts for the cluster tests.
func testConfig(key *ecdsa.PrivateKey) Config {
	return Config{
		ChainID:          testChainID,
		Key:              key,
		TimeoutPropose:   Timeout{Base: 8, Delta: 2},
		TimeoutPrevote:   Timeout{Base: 4, Delta: 2},
		TimeoutPrecommit: Timeout{Base: 4, Delta: 2},
		RebroadcastTicks: 6,
		// Without a pause between heights the in-memory network would
		// decide heights forever inside one deliver.
		CommitTicks: 1,
	}
}

// signKey identifies a signed message slot.
type signKey struct {
	height uint64
	round  uint32
	step   uint8
}

// testNode is one validator of the cluster with its own copy of the chain.
type testNode struct {
	name   string
	key    *ecdsa.PrivateKey
	addr   common.Address
	engine *Engine
	core   *Core
	rep    *replica // nil without WAL
	wal    string

	blocks  map[uint64]*types.Block
	commits map[uint64]Commit
	head    *types.Block
	down    bool

	signed      map[signKey]common.Hash // every message this node ever sent
	doubleSigns []string
	evidence    []*Evidence

	// byz is the node's Byzantine behaviour; nil for a correct node.
	byz behaviour
	// clock is how fast the node's ticks run against the cluster's; the
	// zero value runs at the cluster's pace.
	clock rate
}

// rate is a clock speed: num core ticks for every den cluster ticks.
type rate struct{ num, den uint64 }

// ticksAt returns how many core ticks a clock of rate r takes at cluster
// tick t (counting from 0): over any den cluster ticks it takes num.
func (r rate) ticksAt(t uint64) uint64 {
	if r.den == 0 {
		return 1
	}
	return (t+1)*r.num/r.den - t*r.num/r.den
}

type envelope struct {
	from, to int
	raw      []byte
}

// cluster is the test network.
type cluster struct {
	t       *testing.T
	nodes   []*testNode
	sets    *Schedule
	genesis *types.Block
	queue   []envelope
	cut     map[[2]int]bool
	drop    func(env envelope) bool
	decided map[uint64]common.Hash // every decision of every node
	cfg     func(*Config)
	useWAL  bool
	now     uint64 // cluster ticks so far

	// onSigned, if set, sees every message a node signed through its core.
	onSigned func(n *testNode, raw []byte)

	// validationTicks delays every validation answer by that many cluster
	// ticks (withSlowValidation); answers waits for them.
	validationTicks uint64
	answers         []answer
}

// answer is a validation answer held back until tick due.
type answer struct {
	node int
	hash common.Hash
	err  error
	due  uint64
}

// withSlowValidation makes every node answer its core's validation
// requests ticks cluster ticks after they were made, as a loaded machine
// executing a large block does.
func withSlowValidation(ticks uint64) clusterOpt {
	return func(c *cluster) { c.validationTicks = ticks }
}

// clusterOpt configures a cluster.
type clusterOpt func(*cluster)

// withWAL gives every node a WAL in a temporary directory.
func withWAL() clusterOpt { return func(c *cluster) { c.useWAL = true } }

// withConfig adjusts every node's core config.
func withConfig(f func(*Config)) clusterOpt { return func(c *cluster) { c.cfg = f } }

// newCluster starts validators named A, B, ... with the given powers.
func newCluster(t *testing.T, powers []uint64, opts ...clusterOpt) *cluster {
	t.Helper()
	c := &cluster{
		t:       t,
		genesis: testGenesis(),
		cut:     make(map[[2]int]bool),
		decided: make(map[uint64]common.Hash),
	}
	for _, o := range opts {
		o(c)
	}
	keys := make([]*ecdsa.PrivateKey, len(powers))
	for i := range powers {
		keys[i] = testKey(t, string(rune('A'+i)))
	}
	c.sets = mustSchedule(t, mustSet(t, 1, keys, powers))
	dir := t.TempDir()
	for i, k := range keys {
		n := &testNode{
			name:    string(rune('A' + i)),
			key:     k,
			addr:    addrOf(k),
			engine:  New(testChainID, c.sets, k, WithClock(func() time.Time { return testNow })),
			blocks:  map[uint64]*types.Block{0: c.genesis},
			commits: make(map[uint64]Commit),
			head:    c.genesis,
			signed:  make(map[signKey]common.Hash),
		}
		if c.useWAL {
			n.wal = filepath.Join(dir, n.name+".wal")
		}
		c.nodes = append(c.nodes, n)
	}
	for i := range c.nodes {
		c.start(i)
	}
	c.deliver()
	return c
}

// validate is node n's answer to its core's validation requests: the
// engine's header rules against the parent the node holds.
func (c *cluster) validate(n *testNode, b *types.Block) error {
	parent := n.blocks[b.NumberU64()-1]
	if parent == nil {
		return fmt.Errorf("unknown parent")
	}
	return n.engine.VerifyHeader(nil, b.Header(), parent.Header())
}

// config returns node n's core config.
func (c *cluster) config(n *testNode) Config {
	cfg := testConfig(n.key)
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	return cfg
}

// start (re)starts node i's core on its head, replaying its WAL if it has one.
func (c *cluster) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	vals, err := c.sets.At(n.head.NumberU64() + 1)
	if err != nil {
		c.t.Fatal(err)
	}
	if n.wal != "" {
		rep, rd, err := openReplica(c.config(n), n.wal, n.head, nil, vals, true)
		if err != nil {
			c.t.Fatalf("node %s: open replica: %v", n.name, err)
		}
		n.rep, n.core = rep, rep.core
		c.handle(i, rd)
		return
	}
	core, err := NewCore(c.config(n))
	if err != nil {
		c.t.Fatal(err)
	}
	n.core = core
	var lc *Commit
	if n.head.NumberU64() == 0 {
		lc = &Commit{}
	} else if cm, ok := n.commits[n.head.NumberU64()]; ok {
		lc = &cm
	}
	if err := core.StartHeight(n.head, vals, lc); err != nil {
		c.t.Fatal(err)
	}
	c.handle(i, core.Ready())
}

// crash stops node i: its core is dropped, messages to it are lost. Its
// chain (and WAL file) survive.
func (c *cluster) crash(i int) {
	n := c.nodes[i]
	n.down = true
	if n.rep != nil {
		if err := n.rep.wal.close(); err != nil {
			c.t.Fatal(err)
		}
		n.rep = nil
	}
	n.core = nil
}

// restart brings node i back from its chain and WAL.
func (c *cluster) restart(i int) {
	c.nodes[i].down = false
	c.start(i)
}

// link reports whether messages flow from i to j.
func (c *cluster) link(i, j int) bool { return !c.cut[[2]int{i, j}] }

// partition splits the nodes into groups that cannot reach each other.
func (c *cluster) partition(groups ...[]int) {
	group := make(map[int]int)
	for g, members := range groups {
		for _, i := range members {
			group[i] = g
		}
	}
	for i := range c.nodes {
		for j := range c.nodes {
			if i != j && group[i] != group[j] {
				c.cut[[2]int{i, j}] = true
			}
		}
	}
}

// heal restores every link.
func (c *cluster) heal() { c.cut = make(map[[2]int]bool) }

// send queues raw from i to every peer reachable from it.
func (c *cluster) send(from int, raw []byte) {
	for to := range c.nodes {
		if to != from {
			c.sendTo(from, to, raw)
		}
	}
}

func (c *cluster) sendTo(from, to int, raw []byte) {
	env := envelope{from: from, to: to, raw: raw}
	if !c.link(from, to) || (c.drop != nil && c.drop(env)) {
		return
	}
	c.queue = append(c.queue, env)
}

// deliver delivers queued messages, and the messages they cause, until the
// network is quiet.
func (c *cluster) deliver() {
	c.t.Helper()
	for steps := 0; len(c.queue) > 0; steps++ {
		if steps > 1_000_000 {
			c.t.Fatalf("network does not quiesce")
		}
		env := c.queue[0]
		c.queue = c.queue[1:]
		n := c.nodes[env.to]
		if n.down || !c.link(env.from, env.to) {
			continue
		}
		if n.byz != nil {
			n.byz.receive(c, env.to, env.raw)
		}
		if n.rep != nil {
			if _, err := n.rep.message(env.raw); err != nil {
				c.t.Fatalf("node %s: wal: %v", n.name, err)
			}
		} else {
			_ = n.core.Step(env.raw)
		}
		c.handle(env.to, n.core.Ready())
	}
}

// tick advances every running node by one tick of the cluster (as many
// core ticks as its clock takes, usually one), lets the Byzantine nodes act
// and delivers what follows.
func (c *cluster) tick() {
	c.t.Helper()
	c.answerDue()
	for i, n := range c.nodes {
		for range n.clock.ticksAt(c.now) {
			if n.down {
				break
			}
			if n.rep != nil {
				if err := n.rep.tick(); err != nil {
					c.t.Fatal(err)
				}
			} else {
				n.core.Tick()
			}
			c.handle(i, n.core.Ready())
		}
		if n.byz != nil && !n.down {
			n.byz.tick(c, i)
		}
	}
	c.now++
	c.deliver()
}

// run ticks until cond holds or maxTicks pass, and reports whether it held.
func (c *cluster) run(maxTicks int, cond func() bool) bool {
	c.t.Helper()
	for range maxTicks {
		if cond() {
			return true
		}
		c.tick()
	}
	return cond()
}

// heights returns each node's committed height.
func (c *cluster) heights() []uint64 {
	hs := make([]uint64, len(c.nodes))
	for i, n := range c.nodes {
		hs[i] = n.head.NumberU64()
	}
	return hs
}

// allAt reports whether every node in idx (all if none) reached height h.
func (c *cluster) allAt(h uint64, idx ...int) func() bool {
	if len(idx) == 0 {
		for i := range c.nodes {
			idx = append(idx, i)
		}
	}
	return func() bool {
		for _, i := range idx {
			if c.nodes[i].head.NumberU64() < h {
				return false
			}
		}
		return true
	}
}

// maxHeight returns the highest committed height.
func (c *cluster) maxHeight() uint64 {
	var m uint64
	for _, n := range c.nodes {
		m = max(m, n.head.NumberU64())
	}
	return m
}

// handle performs a Ready of node i as a driver would, synchronously.
func (c *cluster) handle(i int, rd Ready) {
	c.t.Helper()
	n := c.nodes[i]
	for loops := 0; ; loops++ {
		if loops > 10_000 {
			c.t.Fatalf("node %s: Ready never drains", n.name)
		}
		if n.rep != nil {
			if err := n.rep.persist(&rd); err != nil {
				c.t.Fatalf("node %s: persist: %v", n.name, err)
			}
		}
		c.recordSigned(n, rd.Signed)
		for _, raw := range rd.Messages {
			if n.byz != nil {
				n.byz.send(c, i, raw)
			} else {
				c.send(i, raw)
			}
		}
		n.evidence = append(n.evidence, rd.Evidence...)
		if rd.Build != nil {
			if n.byz != nil {
				n.byz.build(c, i, rd.Build)
			} else {
				c.proposeBuilt(i, rd.Build)
			}
		}
		if rd.Behind != 0 {
			for h := rd.Behind; h < n.head.NumberU64() && h < rd.Behind+maxServedCommits; h++ {
				c.send(i, (&CommitMessage{Block: n.blocks[h], Commit: n.commits[h]}).Encode())
			}
		}
		if rd.Decided != nil {
			c.commit(i, rd.Decided)
		}
		for _, b := range rd.Validate {
			if n.core == nil {
				break
			}
			err := c.validate(n, b)
			if c.validationTicks > 0 {
				c.answers = append(c.answers, answer{node: i, hash: b.Hash(), err: err, due: c.now + c.validationTicks})
				continue
			}
			c.answerValidation(n, b.Hash(), err)
		}
		if n.core == nil || !n.core.HasReady() {
			return
		}
		rd = n.core.Ready()
	}
}

// answerValidation gives node n's core the answer for the block with hash.
func (c *cluster) answerValidation(n *testNode, hash common.Hash, err error) {
	if n.rep != nil {
		if _, werr := n.rep.validated(hash, err); werr != nil {
			c.t.Fatalf("node %s: wal: %v", n.name, werr)
		}
	} else {
		_ = n.core.Validated(hash, err)
	}
}

// answerDue delivers the held-back validation answers due by now, to the
// nodes still running.
func (c *cluster) answerDue() {
	var due []answer
	c.answers = slices.DeleteFunc(c.answers, func(a answer) bool {
		if a.due <= c.now {
			due = append(due, a)
			return true
		}
		return false
	})
	for _, a := range due {
		if n := c.nodes[a.node]; !n.down && n.core != nil {
			c.answerValidation(n, a.hash, a.err)
			c.handle(a.node, n.core.Ready())
		}
	}
}

// recordSigned remembers every message n signed and flags double signs.
func (c *cluster) recordSigned(n *testNode, signed [][]byte) {
	for _, raw := range signed {
		info, ok := signedInfo(testChainID, raw)
		if !ok {
			c.t.Fatalf("node %s signed an undecodable message", n.name)
		}
		k := signKey{info.Height, info.Round, info.Step}
		if d, ok := n.signed[k]; ok && d != info.Digest {
			n.doubleSigns = append(n.doubleSigns, fmt.Sprintf("%+v", k))
		}
		n.signed[k] = info.Digest
		if c.onSigned != nil {
			c.onSigned(n, raw)
		}
	}
}

// proposeBuilt answers node i's build request as a correct node does: it
// builds an empty block and proposes it.
func (c *cluster) proposeBuilt(i int, req *BuildRequest) {
	n := c.nodes[i]
	_ = n.core.Propose(buildBlock(c.t, n.engine, req.Parent, req.Round, req.LastCommit, 0))
}

// commit stores a decision on node i, checks it against every other
// decision at that height, and starts the next height.
func (c *cluster) commit(i int, d *Decision) {
	c.t.Helper()
	n := c.nodes[i]
	h := d.Block.NumberU64()
	if prev, ok := c.decided[h]; ok && prev != d.Block.Hash() {
		c.t.Fatalf("fork at height %d: node %s decided %x, another node %x", h, n.name, d.Block.Hash(), prev)
	}
	c.decided[h] = d.Block.Hash()
	if h != n.head.NumberU64()+1 {
		c.t.Fatalf("node %s decided height %d on head %d", n.name, h, n.head.NumberU64())
	}
	if d.Block.ParentHash() != n.head.Hash() {
		c.t.Fatalf("node %s decided a block not on its head", n.name)
	}
	vals, _ := c.sets.At(h)
	if _, err := VerifyCommit(testChainID, vals, h, d.Block.Hash(), &d.Commit); err != nil {
		c.t.Fatalf("node %s decided with a bad commit: %v", n.name, err)
	}
	n.blocks[h], n.commits[h], n.head = d.Block, d.Commit, d.Block
	next, err := c.sets.At(h + 1)
	if err != nil {
		c.t.Fatal(err)
	}
	if n.rep != nil {
		err = n.rep.startHeight(d.Block, next, &d.Commit)
	} else {
		err = n.core.StartHeight(d.Block, next, &d.Commit)
	}
	if err != nil {
		c.t.Fatalf("node %s: start height %d: %v", n.name, h+1, err)
	}
}

// checkNoDoubleSigns fails if any correct node signed two different
// messages for one height, round and step.
func (c *cluster) checkNoDoubleSigns() {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.byz != nil {
			continue
		}
		if len(n.doubleSigns) > 0 {
			c.t.Errorf("node %s double-signed at %v", n.name, n.doubleSigns)
		}
	}
}
