package p2p

import (
	"context"
	"errors"
	"math/big"
	"math/bits"
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

func newTestSyncer(t *testing.T, local *fakeChain, f fetcher, logs *logBuffer, peers ...peer.ID) *syncer {
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
