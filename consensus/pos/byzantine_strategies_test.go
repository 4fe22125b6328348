package pos

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// This file holds the Byzantine behaviours of the cluster's nodes. A
// Byzantine node keeps a correct core underneath, so it always knows the
// height, the round and what it received; its behaviour decides what it
// proposes and to whom its messages go, and may inject messages of its own
// once a tick. The faulty nodes of a run share one behaviour value (a
// coalition), so they can agree on whom to tell what.

// behaviour is how a Byzantine node departs from the protocol.
type behaviour interface {
	// build answers a build request of node i's core.
	build(c *cluster, i int, req *BuildRequest)
	// send sends raw, a message of node i's core, to the peers it
	// chooses.
	send(c *cluster, i int, raw []byte)
	// receive sees a message delivered to node i.
	receive(c *cluster, i int, raw []byte)
	// tick acts once a cluster tick, after node i's core ticked.
	tick(c *cluster, i int)
	// team returns the state the coalition shares.
	team() *coalition
}

// coalition is the state shared by the Byzantine nodes of a run, and the
// behaviour of a node that follows the protocol: Byzantine behaviours embed
// it and replace what they change.
type coalition struct {
	rng *rand.Rand
	// acts counts departures from the protocol by kind; a run must show
	// every kind its strategy names, or it proves nothing.
	acts map[string]int
	// poison holds blocks no correct node may vote for, propose or build
	// on (invalid or never decided), with the reason.
	poison map[common.Hash]string
}

func newCoalition(rng *rand.Rand) *coalition {
	return &coalition{rng: rng, acts: make(map[string]int), poison: make(map[common.Hash]string)}
}

func (co *coalition) team() *coalition { return co }

func (co *coalition) build(c *cluster, i int, req *BuildRequest) { c.proposeBuilt(i, req) }

func (co *coalition) send(c *cluster, i int, raw []byte) { c.send(i, raw) }

func (co *coalition) receive(*cluster, int, []byte) {}

func (co *coalition) tick(*cluster, int) {}

// act records n departures of kind.
func (co *coalition) act(kind string, n int) { co.acts[kind] += n }

// correct returns the indices of the nodes without a Byzantine behaviour.
func (c *cluster) correct() []int {
	var out []int
	for i, n := range c.nodes {
		if n.byz == nil {
			out = append(out, i)
		}
	}
	return out
}

// sendAll sends raw from i to every node in to.
func (c *cluster) sendAll(from int, to []int, raw []byte) {
	for _, j := range to {
		if j != from {
			c.sendTo(from, j, raw)
		}
	}
}

// faultyPeers returns the Byzantine nodes other than i.
func (c *cluster) faultyPeers(i int) []int {
	var out []int
	for j, n := range c.nodes {
		if j != i && n.byz != nil {
			out = append(out, j)
		}
	}
	return out
}

// halves splits the correct nodes in two, alternately, so that every
// member of a coalition splits them alike.
func (c *cluster) halves() (first, second []int) {
	for k, j := range c.correct() {
		if k%2 == 0 {
			first = append(first, j)
		} else {
			second = append(second, j)
		}
	}
	return first, second
}

// proposerRound returns the lowest round of height h whose proposer is
// addr: a round r places the validator r after round 0's proposer, so
// every validator proposes one of the first Len() rounds.
func proposerRound(t testing.TB, vals *ValidatorSet, h uint64, addr common.Address) uint32 {
	t.Helper()
	for r := uint32(0); r < uint32(vals.Len()); r++ {
		if vals.Proposer(h, r) == addr {
			return r
		}
	}
	t.Fatalf("%v proposes no round of height %d", addr, h)
	return 0
}

// equivocator proposes two blocks, one to each half of the correct nodes,
// and signs two conflicting votes wherever it votes: the half that saw a
// block gets the vote for it, the other half a vote for its twin (or, for
// a vote on another block or nil, for a hash of its own making). With
// withhold set, the second half gets no vote at all.
type equivocator struct {
	*coalition
	split    map[common.Hash]common.Hash // block -> twin
	withhold bool
}

func newEquivocator(rng *rand.Rand, withhold bool) *equivocator {
	return &equivocator{coalition: newCoalition(rng), split: make(map[common.Hash]common.Hash), withhold: withhold}
}

func (e *equivocator) build(c *cluster, i int, req *BuildRequest) {
	n := c.nodes[i]
	b := buildBlock(c.t, n.engine, req.Parent, req.Round, req.LastCommit, 0)
	twin := buildBlock(c.t, n.engine, req.Parent, req.Round, req.LastCommit, 1)
	e.split[b.Hash()], e.split[twin.Hash()] = twin.Hash(), b.Hash()
	p1 := signProposal(c.t, n.key, req.Round, -1, b).Encode()
	p2 := signProposal(c.t, n.key, req.Round, -1, twin).Encode()
	_ = n.core.Step(p1)
	first, second := c.halves()
	c.sendAll(i, append(first, c.faultyPeers(i)...), p1)
	c.sendAll(i, second, p2)
	e.act("two proposals", 1)
}

func (e *equivocator) send(c *cluster, i int, raw []byte) {
	n := c.nodes[i]
	first, second := c.halves()
	c.sendAll(i, c.faultyPeers(i), raw)
	switch m := decodeOwn(c.t, raw).(type) {
	case *Proposal:
		if _, ok := e.split[m.Block.Hash()]; ok {
			c.sendAll(i, first, raw) // the other half has the twin
			return
		}
		c.sendAll(i, append(first, second...), raw)
	case *Vote:
		c.sendAll(i, first, raw)
		if e.withhold {
			e.act("withheld vote", 1)
			return
		}
		other, ok := e.split[m.BlockHash]
		if !ok {
			other = m.BlockHash
			other[0] ^= 0xff
		}
		c.sendAll(i, second, signVote(c.t, n.key, m.Type, m.Height, m.Round, other).Encode())
		e.act("conflicting votes", 1)
	default:
		c.sendAll(i, append(first, second...), raw)
	}
}

// doubleVoter sends each vote to everyone together with a conflicting
// copy, so that every node holds evidence against it.
type doubleVoter struct{ *coalition }

func (d doubleVoter) send(c *cluster, i int, raw []byte) {
	c.send(i, raw)
	if v, ok := decodeOwn(c.t, raw).(*Vote); ok {
		other := v.BlockHash
		other[0] ^= 0xff
		c.send(i, signVote(c.t, c.nodes[i].key, v.Type, v.Height, v.Round, other).Encode())
		d.act("conflicting votes", 1)
	}
}

// perPeer proposes a different block to every correct node, and votes to
// each node for the block that node was given.
type perPeer struct {
	*coalition
	blocks map[common.Hash][]common.Hash // any of a round's blocks -> the block of each correct node
}

func (p *perPeer) build(c *cluster, i int, req *BuildRequest) {
	n := c.nodes[i]
	peers := c.correct()
	hashes := make([]common.Hash, len(peers))
	for k, j := range peers {
		b := buildBlock(c.t, n.engine, req.Parent, req.Round, req.LastCommit, uint64(k)+1)
		hashes[k] = b.Hash()
		raw := signProposal(c.t, n.key, req.Round, -1, b).Encode()
		c.sendTo(i, j, raw)
		if k == 0 {
			_ = n.core.Step(raw)
			c.sendAll(i, c.faultyPeers(i), raw)
		}
	}
	for _, h := range hashes {
		p.blocks[h] = hashes
	}
	p.act("per-peer proposals", 1)
}

func (p *perPeer) send(c *cluster, i int, raw []byte) {
	v, ok := decodeOwn(c.t, raw).(*Vote)
	var blocks []common.Hash
	if ok {
		blocks = p.blocks[v.BlockHash]
	}
	if blocks == nil {
		c.send(i, raw)
		return
	}
	c.sendAll(i, c.faultyPeers(i), raw)
	for k, j := range c.correct() {
		c.sendTo(i, j, signVote(c.t, c.nodes[i].key, v.Type, v.Height, v.Round, blocks[k]).Encode())
	}
	p.act("per-peer votes", 1)
}

// withholder proposes as a correct node does but never sends a vote, or,
// with some set, sends each vote to a random part of its peers only.
type withholder struct {
	*coalition
	some bool
}

func (w withholder) send(c *cluster, i int, raw []byte) {
	if _, ok := decodeOwn(c.t, raw).(*Vote); !ok {
		c.send(i, raw)
		return
	}
	if !w.some {
		w.act("withheld vote", 1)
		return
	}
	for j := range c.nodes {
		if j != i && w.rng.IntN(2) == 0 {
			c.sendTo(i, j, raw)
		}
	}
	w.act("vote to some peers", 1)
}

// hugeRounds follows the protocol and, every tick, sends validly signed
// messages at rounds far ahead: up to MaxRound (votes, and proposals of
// the rounds it proposes), at the edge of the tallied window, for the next
// height, and beyond MaxRound (malformed).
type hugeRounds struct{ *coalition }

func (hr hugeRounds) tick(c *cluster, i int) {
	n := c.nodes[i]
	h, r := n.core.Height(), n.core.Round()
	farFrom := r + maxRoundsAhead + 1
	peers := c.correct()
	vote := func(kind string, height uint64, round uint32) {
		vt := []VoteType{Prevote, Precommit}[hr.rng.IntN(2)]
		c.sendAll(i, peers, signVote(c.t, n.key, vt, height, round, common.Hash{byte(round), 1}).Encode())
		hr.act(kind, 1)
	}
	switch hr.rng.IntN(5) {
	case 0:
		vote("vote at MaxRound", h, MaxRound)
	case 1:
		if farFrom <= MaxRound {
			vote("vote at a random far round", h, farFrom+hr.rng.Uint32N(MaxRound-farFrom+1))
		}
	case 2:
		vote("vote at the edge of the window", h, r+maxRoundsAhead)
	case 3:
		vote("next-height vote at MaxRound", h+1, MaxRound-hr.rng.Uint32N(8))
	case 4:
		v := &Vote{Type: Prevote, Height: h, Round: MaxRound + 1 + hr.rng.Uint32N(1<<31), BlockHash: common.Hash{2}}
		v.Signature, _ = sign(v.Digest(testChainID), n.key)
		c.sendAll(i, peers, v.Encode())
		hr.act("vote beyond MaxRound", 1)
	}
	if n.core.parent != nil && n.core.lastCommit != nil && hr.rng.IntN(8) == 0 {
		vals, _ := c.sets.At(h)
		first := proposerRound(c.t, vals, h, n.addr)
		round := first + (MaxRound-first)/uint32(vals.Len())*uint32(vals.Len())
		b := buildBlock(c.t, n.engine, n.core.parent, round, *n.core.lastCommit, 2)
		c.sendAll(i, peers, signProposal(c.t, n.key, round, -1, b).Encode())
		hr.act("proposal at its highest round", 1)
	}
}

// junkFlood follows the protocol and, every tick, sends validly signed
// votes for random blocks, rounds and heights around its own, and garbage:
// random bytes, truncated messages and messages with a flipped bit.
type junkFlood struct{ *coalition }

// junkPerTick is how many signed votes and how many garbage messages each
// flooding node sends a tick.
const junkPerTick = 4

func (jf junkFlood) tick(c *cluster, i int) {
	n := c.nodes[i]
	h, r := n.core.Height(), n.core.Round()
	peers := c.correct()
	var last []byte
	for range junkPerTick {
		var hash common.Hash
		if jf.rng.IntN(4) > 0 {
			for k := range hash {
				hash[k] = byte(jf.rng.Uint32())
			}
		}
		height := max(h+uint64(jf.rng.IntN(3)), 2) - 1
		vt := []VoteType{Prevote, Precommit}[jf.rng.IntN(2)]
		last = signVote(c.t, n.key, vt, height, jf.rng.Uint32N(r+maxRoundsAhead+4), hash).Encode()
		c.sendAll(i, peers, last)
	}
	jf.act("signed junk vote", junkPerTick)
	for range junkPerTick {
		var raw []byte
		switch jf.rng.IntN(3) {
		case 0:
			raw = make([]byte, 1+jf.rng.IntN(300))
			for k := range raw {
				raw[k] = byte(jf.rng.Uint32())
			}
			raw[0] = byte(jf.rng.IntN(5))
			jf.act("random bytes", 1)
		case 1:
			raw = slices.Clone(last[:1+jf.rng.IntN(len(last)-1)])
			jf.act("truncated message", 1)
		case 2:
			raw = slices.Clone(last)
			raw[1+jf.rng.IntN(len(raw)-1)] ^= 1 << jf.rng.IntN(8)
			jf.act("flipped bit", 1)
		}
		c.sendAll(i, peers, raw)
	}
}

// replayer follows the protocol, remembers the messages it receives and
// every tick re-sends some of them, from earlier rounds and heights, to
// random correct nodes.
type replayer struct {
	*coalition
	seen [][]byte // ring of received messages
	next int
}

// Sizes of the replayer's memory and of its replays a tick.
const (
	replayMemory  = 2048
	replayPerTick = 8
)

func (rp *replayer) receive(_ *cluster, _ int, raw []byte) {
	if len(rp.seen) < replayMemory {
		rp.seen = append(rp.seen, raw)
		return
	}
	rp.seen[rp.next] = raw
	rp.next = (rp.next + 1) % replayMemory
}

func (rp *replayer) tick(c *cluster, i int) {
	if len(rp.seen) == 0 {
		return
	}
	peers := c.correct()
	for range replayPerTick {
		c.sendTo(i, peers[rp.rng.IntN(len(peers))], rp.seen[rp.rng.IntN(len(rp.seen))])
	}
	rp.act("replayed message", replayPerTick)
}

// invalidProposer proposes, in its rounds, blocks that fail validation,
// one kind after another, and the coalition prevotes and precommits them.
type invalidProposer struct {
	*coalition
	outsider *testNode // a key that is no validator's
	next     int
}

// invalidKinds are the ways invalidProposer breaks a block.
var invalidKinds = []string{
	"wrong parent", "bad seal", "wrong height", "not the round's proposer",
	"forged last commit", "timestamp in the future", "timestamp before the parent",
}

func (ip *invalidProposer) build(c *cluster, i int, req *BuildRequest) {
	n := c.nodes[i]
	if ip.outsider == nil {
		ip.outsider = &testNode{key: testKey(c.t, "byz-outsider")}
	}
	kind := invalidKinds[ip.next%len(invalidKinds)]
	ip.next++
	height, round := req.Height, req.Round
	var b *types.Block
	switch kind {
	case "wrong parent":
		fake := types.CopyHeader(req.Parent.Header())
		fake.Time++
		b = buildBlock(c.t, n.engine, types.NewBlockWithHeader(fake), round, req.LastCommit, 0)
	case "bad seal":
		b = resealed(c, buildBlock(c.t, n.engine, req.Parent, round, req.LastCommit, 0), ip.outsider)
	case "wrong height":
		// A block one height up in a proposal for this height.
		fake := types.CopyHeader(req.Parent.Header())
		fake.Number.Add(fake.Number, common.Big1)
		b = buildBlock(c.t, n.engine, types.NewBlockWithHeader(fake), round, req.LastCommit, 0)
	case "not the round's proposer":
		vals, _ := c.sets.At(height)
		other := round + 1
		for vals.Proposer(height, other) == n.addr {
			other++
		}
		b = buildBlock(c.t, n.engine, req.Parent, other, req.LastCommit, 0)
	case "forged last commit":
		forged := Commit{Round: req.LastCommit.Round}
		for _, j := range append(c.faultyPeers(i), i) {
			forged.Signatures = append(forged.Signatures, signVote(c.t, c.nodes[j].key, Precommit, height-1, forged.Round, req.Parent.Hash()).Signature)
		}
		b = buildBlock(c.t, n.engine, req.Parent, round, forged, 0)
	case "timestamp in the future":
		b = buildBlock(c.t, n.engine, req.Parent, round, req.LastCommit, uint64(testNow.Unix()))
	case "timestamp before the parent":
		early := types.CopyHeader(req.Parent.Header())
		early.Time -= 2
		b = buildBlock(c.t, n.engine, types.NewBlockWithHeader(early), round, req.LastCommit, 0)
		b = rebased(c, n, b, req.Parent)
	}
	ip.poison[b.Hash()] = kind
	p := &Proposal{Height: height, Round: round, ValidRound: -1, Block: b}
	p.Signature, _ = sign(p.Digest(testChainID), n.key)
	c.send(i, p.Encode())
	for _, j := range append(c.faultyPeers(i), i) {
		for _, vt := range []VoteType{Prevote, Precommit} {
			c.send(j, signVote(c.t, c.nodes[j].key, vt, height, round, b.Hash()).Encode())
		}
	}
	ip.act(kind, 1)
}

// resealed returns b with its proposer seal made by key's node instead.
func resealed(c *cluster, b *types.Block, by *testNode) *types.Block {
	h := b.Header()
	ex, err := DecodeExtra(h.Extra)
	if err != nil {
		c.t.Fatal(err)
	}
	sig, err := sign(sealDigest(testChainID, SealHash(h)), by.key)
	if err != nil {
		c.t.Fatal(err)
	}
	ex.Seal = sig[:]
	h.Extra = ex.Encode()
	return b.WithSeal(h)
}

// rebased returns b moved onto parent (keeping its time) and sealed again
// by n.
func rebased(c *cluster, n *testNode, b *types.Block, parent *types.Block) *types.Block {
	h := b.Header()
	h.ParentHash = parent.Hash()
	return resealed(c, b.WithSeal(h), n)
}

// undecidedSealer follows the protocol and, at every height, seals a block
// of its own that nobody votes for (in a round it proposes, on the right
// parent, with the right last commit, so that its header verifies) and a
// child of that block; it offers both to every correct node as if they were
// decided, each time with a different forged certificate: none, its
// coalition's precommits, correct validators' signatures from other
// messages, its own signature repeated, and as a catch-up commit message.
type undecidedSealer struct {
	*coalition
	sealedAt map[int]uint64 // node -> last height it sealed at
	// refused counts the correct nodes' refusals by the check that
	// refused: the run must show the certificate check at work.
	refused map[string]int
}

func newUndecidedSealer(rng *rand.Rand) *undecidedSealer {
	return &undecidedSealer{coalition: newCoalition(rng), sealedAt: make(map[int]uint64), refused: make(map[string]int)}
}

func (us *undecidedSealer) tick(c *cluster, i int) {
	n := c.nodes[i]
	h := n.core.Height()
	if us.sealedAt[i] == h || n.core.lastCommit == nil || n.core.parent == nil {
		return
	}
	us.sealedAt[i] = h
	vals, _ := c.sets.At(h)
	b := buildBlock(c.t, n.engine, n.core.parent, proposerRound(c.t, vals, h, n.addr), *n.core.lastCommit, 1000)
	us.poison[b.Hash()] = "sealed, never voted for"

	faulty := append(c.faultyPeers(i), i)
	ownCommit := func(height uint64, hash common.Hash) Commit {
		var cm Commit
		for _, j := range faulty {
			cm.Signatures = append(cm.Signatures, signVote(c.t, c.nodes[j].key, Precommit, height, 0, hash).Signature)
		}
		return cm
	}
	coalitionOnly := ownCommit(h, b.Hash())
	borrowed := Commit{Round: n.core.lastCommit.Round, Signatures: n.core.lastCommit.Signatures}
	repeated := Commit{}
	for range vals.Len() {
		repeated.Signatures = append(repeated.Signatures, coalitionOnly.Signatures[0])
	}
	nextVals, _ := c.sets.At(h + 1)
	child := buildBlock(c.t, n.engine, b, proposerRound(c.t, nextVals, h+1, n.addr), coalitionOnly, 1000)
	us.poison[child.Hash()] = "child of an undecided block"

	offers := []struct {
		kind   string
		blocks []*types.Block
		tip    Commit
	}{
		{"head without certificate", []*types.Block{b}, Commit{}},
		{"head certified by the coalition alone", []*types.Block{b}, coalitionOnly},
		{"head certified by borrowed signatures", []*types.Block{b}, borrowed},
		{"head certified by one signature repeated", []*types.Block{b}, repeated},
		{"sync of an undecided block and its child", []*types.Block{b, child}, ownCommit(h+1, child.Hash())},
	}
	for _, j := range c.correct() {
		for _, o := range offers {
			err := c.importChain(j, o.blocks, o.tip)
			if err == nil {
				c.t.Errorf("node %s accepted %s at height %d", c.nodes[j].name, o.kind, h)
				continue
			}
			us.refused[importCheck(err)]++
			if errors.Is(err, errImportCertificate) {
				us.act("refused by the certificate check", 1)
			}
			us.act(o.kind, 1)
		}
	}
	c.sendAll(i, c.correct(), (&CommitMessage{Block: b, Commit: coalitionOnly}).Encode())
	us.act("catch-up commit for an undecided block", 1)
}
