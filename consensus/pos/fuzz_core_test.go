package pos

import (
	"crypto/ecdsa"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// coreFuzz is a validator's core at height 1 among five equal validators
// (as in coreHarness: the core proposes in round 4), with a table of
// messages the four others may send, signed once for all inputs.
type coreFuzz struct {
	self     *ecdsa.PrivateKey
	others   []*ecdsa.PrivateKey
	vals     *ValidatorSet
	genesis  *types.Block
	verifier *Engine
	// own is a block the core's key proposes in round 4, for Build.
	own *types.Block
	// msgs are encoded messages of the others: proposals, votes and
	// commits at heights 0 to 2, in rounds up to far ahead.
	msgs [][]byte
	// decideByVotes and decideByCommit are scripts that make the core
	// decide: round 0's proposal with three others' prevotes and
	// precommits, or a catch-up commit.
	decideByVotes, decideByCommit []byte
}

// fuzzRounds are the rounds of the message table: the first rounds, the
// core's own round 4, one just within maxRoundsAhead and one beyond it.
var fuzzRounds = []uint32{0, 1, 2, 3, 4, 5, maxRoundsAhead + 1, 40}

var (
	coreFuzzOnce sync.Once
	coreFuzzVal  *coreFuzz
)

// newCoreFuzz builds the table once per process: signing is the costly
// part and the table never changes.
func newCoreFuzz(t testing.TB) *coreFuzz {
	t.Helper()
	coreFuzzOnce.Do(func() { coreFuzzVal = buildCoreFuzz(t) })
	if coreFuzzVal == nil {
		t.Fatal("building the core fuzz table failed")
	}
	return coreFuzzVal
}

func buildCoreFuzz(t testing.TB) *coreFuzz {
	keys := make([]*ecdsa.PrivateKey, 5)
	byAddr := make(map[common.Address]*ecdsa.PrivateKey)
	for i := range keys {
		keys[i] = testKey(t, "core-"+string(rune('A'+i)))
		byAddr[addrOf(keys[i])] = keys[i]
	}
	c := &coreFuzz{vals: mustSet(t, 1, keys, nil), genesis: testGenesis()}
	c.self = byAddr[c.vals.Proposer(1, 4)]
	for _, k := range keys {
		if k != c.self {
			c.others = append(c.others, k)
		}
	}
	sets := mustSchedule(t, c.vals)
	c.verifier = New(testChainID, sets, nil, WithClock(func() time.Time { return testNow }))
	engine := func(k *ecdsa.PrivateKey) *Engine {
		return New(testChainID, sets, k, WithClock(func() time.Time { return testNow }))
	}
	c.own = buildBlock(t, engine(c.self), c.genesis, 4, Commit{}, 0)

	// Two blocks per round from that round's proposer (valid when the
	// proposer is one of the others), and one from a wrong signer.
	blocks := map[uint32][2]*types.Block{}
	for _, r := range fuzzRounds {
		p := byAddr[c.vals.Proposer(1, r)]
		pair := [2]*types.Block{buildBlock(t, engine(p), c.genesis, r, Commit{}, 0), buildBlock(t, engine(p), c.genesis, r, Commit{}, 1)}
		blocks[r] = pair
	}
	add := func(raw []byte) int {
		c.msgs = append(c.msgs, raw)
		return len(c.msgs) - 1
	}
	b0 := blocks[0][0]
	var prevotes, precommits []int
	c.decideByVotes = script(add(signProposal(t, byAddr[c.vals.Proposer(1, 0)], 0, -1, b0).Encode()))
	for _, k := range c.others[:3] {
		prevotes = append(prevotes, add(signVote(t, k, Prevote, 1, 0, b0.Hash()).Encode()))
		precommits = append(precommits, add(signVote(t, k, Precommit, 1, 0, b0.Hash()).Encode()))
	}
	c.decideByVotes = append(c.decideByVotes, script(append(prevotes, precommits...)...)...)
	c.decideByCommit = script(add((&CommitMessage{Block: b0, Commit: commitOf(t, c.others, 1, 0, b0.Hash())}).Encode()))
	for _, r := range fuzzRounds {
		p := byAddr[c.vals.Proposer(1, r)]
		for _, b := range blocks[r] {
			c.msgs = append(c.msgs, signProposal(t, p, r, -1, b).Encode())
			if r > 0 {
				c.msgs = append(c.msgs, signProposal(t, p, r, 0, b).Encode())
			}
		}
		c.msgs = append(c.msgs, signProposal(t, c.others[0], r, -1, blocks[r][0]).Encode())
		for _, k := range c.others {
			for _, vt := range []VoteType{Prevote, Precommit} {
				for _, h := range []common.Hash{{}, blocks[0][0].Hash(), blocks[r][0].Hash(), blocks[r][1].Hash()} {
					c.msgs = append(c.msgs, signVote(t, k, vt, 1, r, h).Encode())
				}
			}
		}
	}
	c.msgs = append(c.msgs,
		(&CommitMessage{Block: b0, Commit: commitOf(t, c.others[:2], 1, 0, b0.Hash())}).Encode(),
		signVote(t, c.others[1], Prevote, 0, 0, c.genesis.Hash()).Encode(),
		signVote(t, c.others[2], Prevote, 2, 0, common.Hash{}).Encode(),
		signVote(t, testKey(t, "outsider"), Prevote, 1, 0, common.Hash{}).Encode(),
	)
	return c
}

// start returns a started core for one input, with validation by the
// verify-only engine.
func (c *coreFuzz) start(t *testing.T) *Core {
	t.Helper()
	core, err := NewCore(Config{
		ChainID:          testChainID,
		Key:              c.self,
		TimeoutPropose:   Timeout{Base: 3, Delta: 1},
		TimeoutPrevote:   Timeout{Base: 2, Delta: 1},
		TimeoutPrecommit: Timeout{Base: 2, Delta: 1},
		RebroadcastTicks: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.StartHeight(c.genesis, c.vals, &Commit{}); err != nil {
		t.Fatal(err)
	}
	return core
}

// ready returns the core's Ready with its validation requests answered by
// the verify-only engine.
func (c *coreFuzz) ready(core *Core) Ready {
	return settle(core, func(b *types.Block) error {
		return c.verifier.VerifyHeader(nil, b.Header(), c.genesis.Header())
	}, nil)
}

// coreStepErrors are the sentinels Core.Step refuses a message with.
var coreStepErrors = []error{
	errOversized, errMalformed, errUnknownType, errBlockMismatch, errBadSignature, errNotValidator,
	errNotProposer, errStaleHeight, errFutureHeight, errFutureRound, errBufferFull,
	errCommitSignature, errDuplicateSigner, errInsufficientPower, errCommitTooLarge,
}

// FuzzCoreStep steps a started core with one fuzzed message. A refusal
// wraps a sentinel and signs nothing.
func FuzzCoreStep(f *testing.F) {
	c := newCoreFuzz(f)
	for i := 0; i < len(c.msgs); i += 7 {
		f.Add(c.msgs[i])
	}
	f.Add([]byte{msgCommit, 0xc0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		core := c.start(t)
		c.ready(core)
		var err error
		within(t, "Step", func() { err = core.Step(raw) })
		if err == nil {
			return
		}
		if !wrapsOne(err, coreStepErrors...) && !wrapsOne(err, headerErrors...) {
			t.Fatalf("error %q wraps no sentinel", err)
		}
		if rd := c.ready(core); len(rd.Signed) > 0 || rd.Decided != nil {
			t.Fatalf("a refused message made the core sign %d messages (decided %v)", len(rd.Signed), rd.Decided != nil)
		}
	})
}

// ownKey identifies an own signed message: a vote's type, height and
// round, or a proposal's height and round (type 1).
type ownKey struct {
	kind   uint8
	height uint64
	round  uint32
}

// run drives a started core with script (see FuzzCoreScript), checks the
// invariants after every input and reports whether the core decided.
func (c *coreFuzz) run(t *testing.T, script []byte) bool {
	t.Helper()
	core := c.start(t)
	signed := map[ownKey][]byte{}
	decided := false
	// check runs inside within's goroutine, so it reports with Errorf
	// and returns false, never with Fatalf.
	check := func() bool {
		rd := c.ready(core)
		for _, raw := range rd.Signed {
			m, err := DecodeMessage(raw, DefaultMaxMessageSize)
			if err != nil {
				t.Errorf("own message does not decode: %v", err)
				return false
			}
			var k ownKey
			switch m := m.(type) {
			case *Vote:
				k = ownKey{uint8(m.Type), m.Height, m.Round}
			case *Proposal:
				k = ownKey{signedProposal, m.Height, m.Round}
			default:
				t.Errorf("signed a %T", m)
				return false
			}
			if prev, ok := signed[k]; ok && string(prev) != string(raw) {
				t.Errorf("signed two different messages for %+v", k)
				return false
			}
			signed[k] = raw
		}
		if rd.Build != nil {
			if rd.Build.Height != 1 || c.vals.Proposer(1, rd.Build.Round) != addrOf(c.self) {
				t.Errorf("asked to build %d/%d, not the core's round", rd.Build.Height, rd.Build.Round)
				return false
			}
			if rd.Build.Round == 4 {
				_ = core.Propose(c.own)
			}
		}
		if d := rd.Decided; d != nil {
			if decided {
				t.Errorf("decided twice")
				return false
			}
			decided = true
			if _, err := VerifyCommit(testChainID, c.vals, 1, d.Block.Hash(), &d.Commit); err != nil {
				t.Errorf("decided with a commit that does not verify: %v", err)
				return false
			}
			if err := c.verifier.VerifyHeader(nil, d.Block.Header(), c.genesis.Header()); err != nil {
				t.Errorf("decided an invalid block: %v", err)
				return false
			}
		}
		return true
	}
	within(t, "script", func() {
		for i := 0; i < len(script); i++ {
			op := script[i]
			if op&0x80 != 0 {
				for range int(op&0x3f) + 1 {
					core.Tick()
					if !check() {
						return
					}
				}
				continue
			}
			idx := int(op)
			if i+1 < len(script) {
				i++
				idx = idx<<8 | int(script[i])
			}
			_ = core.Step(c.msgs[idx%len(c.msgs)])
			if !check() {
				return
			}
		}
		check() // what Propose queued at the end
	})
	return decided
}

// script encodes the deliveries of the table's messages idx.
func script(idx ...int) []byte {
	var out []byte
	for _, i := range idx {
		out = append(out, byte(i>>8), byte(i))
	}
	return out
}

// FuzzCoreScript drives a started core with a script: a byte with the top
// bit set advances logical time by its low six bits plus one ticks; any
// other byte and the next one index a message of the table (the other
// four validators, any of them Byzantine) to deliver. Whatever the script,
// the core never signs two different messages for one (type, height,
// round), decides at most once and only a block that is valid with a
// commit that verifies, and asks to build only in its own round.
func FuzzCoreScript(f *testing.F) {
	c := newCoreFuzz(f)
	f.Add(c.decideByVotes)
	f.Add(c.decideByCommit)
	f.Add([]byte{0x80 | 63, 0x80 | 63, 0x80 | 63})
	f.Add(append([]byte{0x80 | 10}, script(9, 10, 11, 12, 13, 14, 15, 16, 17, 18)...))
	f.Fuzz(func(t *testing.T, s []byte) { c.run(t, s) })
}

// TestCoreScriptDecides checks that the fuzz table can reach a decision,
// so that FuzzCoreScript's checks of decisions are not vacuous.
func TestCoreScriptDecides(t *testing.T) {
	c := newCoreFuzz(t)
	tests := []struct {
		name   string
		script []byte
		want   bool
	}{
		{"proposal and votes", c.decideByVotes, true},
		{"catch-up commit", c.decideByCommit, true},
		{"time only", []byte{0x80 | 63}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have := c.run(t, tt.script); have != tt.want {
				t.Fatalf("decided: have %v, want %v", have, tt.want)
			}
		})
	}
}
