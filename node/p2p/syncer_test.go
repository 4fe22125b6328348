package p2p

import (
	"context"
	"errors"
	"math/big"
	"math/bits"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sameChains returns a local and a remote fake chain sharing common blocks
// after genesis, then diverging with local and remote blocks of their own
// (the remote's of difficulty remoteDiff).
func sameChains(t *testing.T, common, local, remote int, remoteDiff int64) (*fakeChain, *fakeChain) {
	t.Helper()
	l := newFakeChain().extend(t, common, "shared")
	r := newFakeChain().extend(t, common, "shared")
	l.extend(t, local, "local")
	if _, err := r.InsertChain(r.build(r.CurrentBlock(), remote, "remote", remoteDiff), nil); err != nil {
		t.Fatal(err)
	}
	return l, r
}

func newTestSyncer(t *testing.T, local syncChain, f fetcher, logs *logBuffer, peers ...peer.ID) *syncer {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	l := Limits{SyncBatch: 64}.withDefaults()
	return newSyncer(local, f, func() []peer.ID { return peers }, fakeGenesis().Hash(), l, newTestLogger(logs), m, func(common.Hash) {})
}

func TestFindAncestor(t *testing.T) {
	tests := []struct {
		name                  string
		common, local, remote int
		want                  uint64
		maxRequests           int
	}{
		{"we are behind", 100, 0, 200, 100, 1},
		{"we are ahead", 100, 200, 0, 100, 1},
		{"same head", 50, 0, 0, 50, 1},
		{"both at genesis", 0, 0, 0, 0, 1},
		{"fork within the window", 180, 20, 40, 180, 1},
		{"deep fork", 10, 190, 250, 10, 2 + bits.Len(200)},
		{"fork at genesis, short", 0, 50, 80, 0, 1},
		{"fork at genesis, long", 0, 150, 300, 0, 3 + bits.Len(150)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := sameChains(t, tt.common, tt.local, tt.remote, 1)
			f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"r": remote})
			s := newTestSyncer(t, local, f, &logBuffer{})
			got, hash, err := s.findAncestor(context.Background(), "r", remote.CurrentBlock().NumberU64())
			if err != nil {
				t.Fatalf("findAncestor: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ancestor: have %d, want %d", got, tt.want)
			}
			if want := local.GetHeaderByNumber(got).Hash(); hash != want {
				t.Fatalf("ancestor hash: have %x, want %x", hash, want)
			}
			if n := f.count(kindHeaders); n > tt.maxRequests {
				t.Fatalf("header requests: have %d, want at most %d", n, tt.maxRequests)
			}
		})
	}
}

func TestFindAncestorOtherGenesis(t *testing.T) {
	for _, n := range []int{10, 200} {
		local := newFakeChain().extend(t, n, "a")
		other := types.NewBlockWithHeader(&types.Header{Number: new(big.Int), Difficulty: big.NewInt(1), Extra: []byte("other")})
		remote := newFakeChainFrom(other).extend(t, n+50, "a")
		f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"r": remote})
		s := newTestSyncer(t, local, f, &logBuffer{})
		if _, _, err := s.findAncestor(context.Background(), "r", remote.CurrentBlock().NumberU64()); !errors.Is(err, errNoAncestor) {
			t.Fatalf("length %d: have %v, want %v", n, err, errNoAncestor)
		}
	}
}

func TestSyncRound(t *testing.T) {
	tests := []struct {
		name                   string
		common, local, remote  int
		remoteDiff             int64
		wantHead               func(local, remote *fakeChain) common.Hash
		wantBlockRequestsAtMin int
	}{
		{"catch up 300 blocks", 0, 0, 300, 1, remoteHead, 5},
		{"reorg to a heavier fork", 100, 100, 60, 2, remoteHead, 1},
		{"lighter peer is left alone", 100, 50, 20, 1, localHead, 0},
		{"equal peer is left alone", 100, 0, 0, 1, localHead, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := sameChains(t, tt.common, tt.local, tt.remote, tt.remoteDiff)
			want := tt.wantHead(local, remote)
			f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"r": remote})
			logs := &logBuffer{}
			s := newTestSyncer(t, local, f, logs, "r")
			s.round(context.Background(), []peer.ID{"r"})
			if have := local.CurrentBlock().Hash(); have != want {
				t.Fatalf("head: have %d %x, want %x", local.CurrentBlock().NumberU64(), have, want)
			}
			if n := f.count(kindBlocks); n < tt.wantBlockRequestsAtMin || (tt.wantBlockRequestsAtMin == 0 && n != 0) {
				t.Fatalf("block requests: have %d, want at least %d", n, tt.wantBlockRequestsAtMin)
			}
			if tt.wantBlockRequestsAtMin > 0 && len(logs.lines("sync finished", "blocks_per_sec")) == 0 {
				t.Fatalf("no progress log in:\n%s", logs)
			}
		})
	}
}

func remoteHead(_, r *fakeChain) common.Hash { return r.CurrentBlock().Hash() }
func localHead(l, _ *fakeChain) common.Hash  { return l.CurrentBlock().Hash() }

func TestSyncPicksHeaviestPeer(t *testing.T) {
	local := newFakeChain()
	light := newFakeChain().extend(t, 100, "shared")
	heavy := newFakeChain().extend(t, 250, "shared")
	f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"light": light, "heavy": heavy})
	s := newTestSyncer(t, local, f, &logBuffer{})
	s.round(context.Background(), []peer.ID{"light", "heavy"})
	if have, want := local.CurrentBlock().Hash(), heavy.CurrentBlock().Hash(); have != want {
		t.Fatalf("head: have %x, want %x", have, want)
	}
	if v := counterValue(s.metrics.target); v != 250 {
		t.Fatalf("sync target: have %v, want 250", v)
	}
}

func TestSyncMisbehavingPeer(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(req request, payload []byte) []byte
	}{
		{"blocks skip a number", func(req request, p []byte) []byte {
			if req.Kind != kindBlocks {
				return p
			}
			var raws []rlp.RawValue
			_ = rlp.DecodeBytes(p, &raws)
			b, _ := rlp.EncodeToBytes(raws[1:])
			return b
		}},
		{"no blocks at all", func(req request, p []byte) []byte {
			if req.Kind == kindBlocks {
				return rlp.EmptyList
			}
			return p
		}},
		{"status claims more work than served", func(req request, p []byte) []byte {
			if req.Kind != kindStatus {
				return p
			}
			st, _ := decodeStatus(p)
			st.TD = new(big.Int).Lsh(big.NewInt(1), 100)
			st.Number = 20 // what the peer really has
			b, _ := rlp.EncodeToBytes(st)
			return b
		}},
		{"garbage headers", func(req request, p []byte) []byte {
			if req.Kind == kindHeaders {
				return []byte{0xc3, 0x01, 0x02, 0x03}
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := newFakeChain().extend(t, 20, "shared")
			remote := newFakeChain().extend(t, 200, "shared")
			before := local.CurrentBlock().Hash()
			if tt.name == "status claims more work than served" {
				remote = newFakeChain().extend(t, 20, "shared")
			}
			f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"bad": remote})
			f.tamper = tt.tamper
			logs := &logBuffer{}
			s := newTestSyncer(t, local, f, logs, "bad")
			now := time.Unix(1000, 0)
			s.now = func() time.Time { return now }
			s.round(context.Background(), []peer.ID{"bad"})
			if have := local.CurrentBlock().Hash(); have != before {
				t.Fatalf("head moved to %d", local.CurrentBlock().NumberU64())
			}
			if len(logs.lines("sync from peer failed")) == 0 {
				t.Fatalf("failure not logged:\n%s", logs)
			}
			// The peer is left alone during its cooldown, asked again after.
			statuses := f.count(kindStatus)
			s.round(context.Background(), []peer.ID{"bad"})
			if have := f.count(kindStatus); have != statuses {
				t.Fatalf("status requests during cooldown: have %d, want %d", have, statuses)
			}
			now = now.Add(peerCooldown)
			s.round(context.Background(), []peer.ID{"bad"})
			if have := f.count(kindStatus); have == statuses {
				t.Fatalf("peer not asked again after its cooldown")
			}
		})
	}
}

func TestSyncRetriesWhenRateLimited(t *testing.T) {
	local := newFakeChain()
	remote := newFakeChain().extend(t, 10, "shared")
	rl := &rateLimitedFetcher{memFetcher: newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"r": remote}), refusals: 2}
	s := newTestSyncer(t, local, rl, &logBuffer{})
	s.wait = time.Millisecond
	s.round(context.Background(), []peer.ID{"r"})
	if have, want := local.CurrentBlock().Hash(), remote.CurrentBlock().Hash(); have != want {
		t.Fatalf("head: have %x, want %x", have, want)
	}
}

// rateLimitedFetcher refuses the first block requests for their rate.
type rateLimitedFetcher struct {
	*memFetcher
	refusals int
}

func (f *rateLimitedFetcher) blocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error) {
	if f.refusals > 0 {
		f.refusals--
		return nil, nil, errRateLimited
	}
	return f.memFetcher.blocks(ctx, p, from, count)
}

// certifyingFake is a fake chain that reports a certifying engine, as a
// proof-of-stake *chain.Chain does.
type certifyingFake struct{ *fakeChain }

func (certifyingFake) Certifying() bool { return true }

// TestSyncRefusesImpossibleStatus: a status whose total difficulty no chain
// of its head number can have puts the peer on cooldown before any header
// or block is asked of it; a possible one is synced.
func TestSyncRefusesImpossibleStatus(t *testing.T) {
	tests := []struct {
		name       string
		certifying bool
		remoteDiff int64
		td         int64 // claimed total difficulty; 0 for the real one
		wantSync   bool
	}{
		// 200 blocks after a genesis of difficulty 1 weigh at least 201.
		{"pow: less than one a block", false, 1, 150, false},
		{"pow: heavier blocks", false, 2, 0, true},
		{"pos: one a block", true, 1, 0, true},
		{"pos: more than one a block", true, 2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := sameChains(t, 20, 0, 180, tt.remoteDiff)
			before := local.CurrentBlock().Hash()
			f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"r": remote})
			if tt.td != 0 {
				f.tamper = func(req request, p []byte) []byte {
					if req.Kind != kindStatus {
						return p
					}
					st, _ := decodeStatus(p)
					st.TD = big.NewInt(tt.td)
					b, _ := rlp.EncodeToBytes(st)
					return b
				}
			}
			var chain syncChain = local
			if tt.certifying {
				chain = certifyingFake{local}
			}
			logs := &logBuffer{}
			s := newTestSyncer(t, chain, f, logs)
			s.round(context.Background(), []peer.ID{"r"})
			if tt.wantSync {
				if have, want := local.CurrentBlock().Hash(), remote.CurrentBlock().Hash(); have != want {
					t.Fatalf("head: have %d, want the peer's %d\n%s", local.CurrentBlock().NumberU64(), remote.CurrentBlock().NumberU64(), logs)
				}
				return
			}
			if have := local.CurrentBlock().Hash(); have != before {
				t.Fatalf("head moved to %d", local.CurrentBlock().NumberU64())
			}
			if n := f.count(kindHeaders) + f.count(kindBlocks); n != 0 {
				t.Fatalf("header and block requests: have %d, want 0", n)
			}
			if _, ok := s.cooldown["r"]; !ok || len(logs.lines("sync from peer failed", errImplausibleStatus.Error())) == 0 {
				t.Fatalf("peer not put on cooldown for its status:\n%s", logs)
			}
		})
	}
}

// liarAhead is how far past the real head a lying peer claims its head.
const liarAhead = 1_000_000

// liarMode is how the lying peer of a liarFetcher serves.
type liarMode int

const (
	oneBlockAnswers liarMode = iota // every block answer holds one block
	holdAncestor                    // header requests are held
	holdAfterTwo                    // two full block answers, then block requests are held
)

// liarFetcher is a memFetcher with one lying peer: it holds the honest
// chain, but its status claims a head liarAhead blocks further on with the
// total difficulty to match, and it serves as mode says.
type liarFetcher struct {
	*memFetcher
	liar peer.ID
	mode liarMode

	mu        sync.Mutex
	blockReqs int  // block requests the liar was sent
	outlasted bool // a held request outlasted waitTimeout
}

func (f *liarFetcher) status(ctx context.Context, p peer.ID) (*statusMsg, error) {
	st, err := f.memFetcher.status(ctx, p)
	if err != nil || p != f.liar {
		return st, err
	}
	st.Number += liarAhead
	st.TD = new(big.Int).Add(st.TD, big.NewInt(liarAhead))
	return st, nil
}

func (f *liarFetcher) headers(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Header, error) {
	if p == f.liar && f.mode == holdAncestor {
		return nil, f.hold(ctx)
	}
	return f.memFetcher.headers(ctx, p, from, count)
}

func (f *liarFetcher) blocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error) {
	if p != f.liar {
		return f.memFetcher.blocks(ctx, p, from, count)
	}
	f.mu.Lock()
	f.blockReqs++
	n := f.blockReqs
	f.mu.Unlock()
	switch {
	case f.mode == oneBlockAnswers:
		count = 1
	case f.mode == holdAfterTwo && n > 2:
		return nil, nil, f.hold(ctx)
	}
	return f.memFetcher.blocks(ctx, p, from, count)
}

// hold keeps a request until ctx ends, as a peer answering just inside the
// request timeout does, request after request. It gives up after
// waitTimeout so that a syncer that never cuts the peer short fails the
// test rather than hanging it.
func (f *liarFetcher) hold(ctx context.Context) error {
	t := time.NewTimer(waitTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		f.mu.Lock()
		f.outlasted = true
		f.mu.Unlock()
		return errors.New("liar gave up holding the request")
	}
}

// TestSyncPastLyingPeer: a peer that claims a head far ahead of the honest
// one (always the heaviest) and then starves the sync with short answers or
// holds its requests is dropped within one round, and the node reaches the
// honest peer's head in that round.
func TestSyncPastLyingPeer(t *testing.T) {
	tests := []struct {
		name          string
		mode          liarMode
		maxLiarBlocks int // most block requests the liar may get; 0: unchecked
	}{
		{"one block an answer", oneBlockAnswers, maxShortAnswers},
		{"holds the ancestor search", holdAncestor, 0},
		{"holds blocks after two batches", holdAfterTwo, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := newFakeChain()
			honest := newFakeChain().extend(t, 300, "shared")
			f := &liarFetcher{
				memFetcher: newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"liar": honest, "honest": honest}),
				liar:       "liar", mode: tt.mode,
			}
			logs := &logBuffer{}
			s := newTestSyncer(t, local, f, logs)
			// The held requests end with the session. The honest peer's
			// session must also fit its 300 blocks: 200 ms did not, once,
			// under -race on two loaded cores.
			s.session = time.Second
			s.round(context.Background(), []peer.ID{"liar", "honest"})
			if have, want := local.CurrentBlock().Hash(), honest.CurrentBlock().Hash(); have != want {
				t.Fatalf("head: have %d, want the honest %d\n%s", local.CurrentBlock().NumberU64(), honest.CurrentBlock().NumberU64(), logs)
			}
			if f.outlasted {
				t.Fatalf("a held request outlasted %v: nothing cut the liar short", waitTimeout)
			}
			if tt.maxLiarBlocks > 0 && f.blockReqs > tt.maxLiarBlocks {
				t.Fatalf("block requests to the liar: have %d, want at most %d", f.blockReqs, tt.maxLiarBlocks)
			}
			if _, ok := s.cooldown["liar"]; !ok {
				t.Fatalf("liar not on cooldown:\n%s", logs)
			}
			if _, ok := s.cooldown["honest"]; ok {
				t.Fatalf("honest peer on cooldown:\n%s", logs)
			}
		})
	}
}

// TestSyncBestTakesTurns: among peers heavier than us, one without a
// session in the round goes first, then the one whose session was longest
// ago, then the heaviest.
func TestSyncBestTakesTurns(t *testing.T) {
	local := newFakeChain()
	light := newFakeChain().extend(t, 100, "shared")
	heavy := newFakeChain().extend(t, 250, "shared")
	f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"light": light, "heavy": heavy})
	s := newTestSyncer(t, local, f, &logBuffer{})
	tests := []struct {
		name  string
		turns map[peer.ID]int
		want  peer.ID
	}{
		{"no turns yet", map[peer.ID]int{}, "heavy"},
		{"heavy had a turn", map[peer.ID]int{"heavy": 0}, "light"},
		{"both had one, heavy first", map[peer.ID]int{"heavy": 0, "light": 1}, "heavy"},
		{"both had one, light first", map[peer.ID]int{"light": 0, "heavy": 1}, "light"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if have, _ := s.best(context.Background(), []peer.ID{"light", "heavy"}, tt.turns); have != tt.want {
				t.Fatalf("best: have %q, want %q", have, tt.want)
			}
		})
	}
}

// TestSyncCooldownDoubles: a peer that fails again after its cooldown is
// left alone twice as long.
func TestSyncCooldownDoubles(t *testing.T) {
	local := newFakeChain().extend(t, 20, "shared")
	remote := newFakeChain().extend(t, 200, "shared")
	f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"bad": remote})
	f.tamper = func(req request, p []byte) []byte {
		if req.Kind == kindBlocks {
			return rlp.EmptyList
		}
		return p
	}
	s := newTestSyncer(t, local, f, &logBuffer{})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	asked := func() bool {
		n := f.count(kindStatus)
		s.round(context.Background(), []peer.ID{"bad"})
		return f.count(kindStatus) != n
	}
	steps := []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},                 // first fault: cooldown peerCooldown
		{peerCooldown, true},      // second fault: cooldown 2 x peerCooldown
		{peerCooldown, false},     // half way through it
		{peerCooldown, true},      // third fault: 4 x peerCooldown
		{3 * peerCooldown, false}, // not yet
		{peerCooldown, true},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if have := asked(); have != st.want {
			t.Fatalf("step %d: peer asked: have %v, want %v", i, have, st.want)
		}
	}
}

// TestIsShort: an answer is short only under a quarter of the blocks
// asked for, under shortAnswerBlocks and under fullAnswerBytes, so an
// honest server configured with a smaller answer than our batch (down to
// shortAnswerBlocks blocks) or stopping at its byte bound is never at
// fault for it.
func TestIsShort(t *testing.T) {
	blocks := func(n, extra int) []*types.Block {
		bs := make([]*types.Block, n)
		for i := range bs {
			bs[i] = types.NewBlockWithHeader(&types.Header{Number: big.NewInt(int64(i)), Extra: make([]byte, extra)})
		}
		return bs
	}
	tests := []struct {
		name  string
		bs    []*types.Block
		count uint64
		want  bool
	}{
		{"one small block of 256", blocks(1, 0), 256, true},
		{"15 small blocks of 256", blocks(15, 0), 256, true},
		{"16 blocks of 256 (a server answering 16 at a time)", blocks(16, 0), 256, false},
		{"a quarter", blocks(4, 0), 16, false},
		{"one block of 2 MiB (a server's byte bound)", blocks(1, 2<<20), 256, false},
		{"all asked for", blocks(3, 0), 3, false},
	}
	for _, tt := range tests {
		if got := isShort(tt.bs, tt.count); got != tt.want {
			t.Errorf("%s: have %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSyncTargetIgnoresFaultyClaims: the reported sync target (the
// arbiter_status sync.highest, the sync_target metric) takes a peer's
// claimed head only while the peer has no faults since its last clean
// session, so a peer that claims a far head it never serves does not show
// the node as syncing again each time its cooldown ends.
func TestSyncTargetIgnoresFaultyClaims(t *testing.T) {
	local := newFakeChain().extend(t, 20, "shared")
	remote := newFakeChain().extend(t, 200, "shared")
	f := newMemFetcher(fakeGenesis().Hash(), map[peer.ID]blockSource{"bad": remote})
	var s *syncer
	var during []uint64 // the target while the peer was asked for blocks
	f.tamper = func(req request, p []byte) []byte {
		if req.Kind == kindBlocks {
			during = append(during, s.metrics.targetN.Load())
			return rlp.EmptyList
		}
		return p
	}
	s = newTestSyncer(t, local, f, &logBuffer{})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	s.round(context.Background(), []peer.ID{"bad"})
	if len(during) == 0 || during[0] != 200 {
		t.Fatalf("target while syncing from the first claim: have %v, want 200", during)
	}
	for i := range 3 {
		now = now.Add(peerCooldown << maxCooldownShift)
		during = nil
		s.round(context.Background(), []peer.ID{"bad"})
		if len(during) == 0 {
			t.Fatalf("round %d after the cooldown: the peer was not asked for blocks", i)
		}
		for _, have := range during {
			if have != 20 {
				t.Fatalf("round %d after the cooldown: target %d, want the local head 20", i, have)
			}
		}
	}
}
