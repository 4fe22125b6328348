package p2p

import (
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSyncPastSlowLyingPeer: a member whose status claims a head far past
// the real one, and who answers each block request with one block just
// inside the request timeout, cannot keep a node that is behind from an
// honest member: the node drops it and syncs the honest chain over libp2p.
func TestSyncPastSlowLyingPeer(t *testing.T) {
	const (
		requestTimeout = time.Second
		// liarDelay is "just inside the timeout", with room for a loaded
		// machine: at this pace the 300 blocks would take minutes.
		liarDelay = requestTimeout / 2
	)
	g := testGenesis(t)
	leaderChain := newTestChain(t, g, "A")
	leaderChain.extend(300, nil)
	genesis := leaderChain.chain.GenesisHash()

	// The liar is member C on a bare host, serving A's chain.
	liar := newRogue(t, "C", genesis)
	var served atomic.Int64
	limits := Limits{}.withDefaults()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	liar.host.SetStreamHandler(SyncProtocol, func(st network.Stream) {
		serveRequest(st, time.Now().Add(time.Minute), func(st network.Stream, _ peer.ID) (uint64, string, rlp.RawValue) {
			raw, err := readFrame(st, maxRequestFrame)
			if err != nil {
				return codeBadRequest, err.Error(), nil
			}
			req, err := decodeRequest(raw)
			if err != nil {
				return codeBadRequest, err.Error(), nil
			}
			switch req.Kind {
			case kindStatus:
				head := leaderChain.chain.CurrentBlock()
				td := leaderChain.chain.GetTD(head.Hash(), head.NumberU64())
				b, err := rlp.EncodeToBytes(&statusMsg{
					Number: head.NumberU64() + liarAhead, Hash: head.Hash(),
					TD: new(big.Int).Add(td, big.NewInt(liarAhead)), Genesis: genesis,
				})
				if err != nil {
					return codeUnavailable, err.Error(), nil
				}
				return codeOK, "", b
			case kindBlocks:
				req.Count = 1
				time.Sleep(liarDelay)
				served.Add(1)
			}
			return serve(leaderChain.chain, genesis, req, limits)
		}, quiet, "liar request")
	})
	liarAddrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: liar.host.ID(), Addrs: liar.host.Addrs()})
	if err != nil {
		t.Fatal(err)
	}

	// The follower knows only the liar at first, so its sync starts there.
	followerChain := newTestChain(t, g, "B")
	follower := startNode(t, "B", followerChain, nil, func(c *Config) {
		for _, a := range liarAddrs {
			c.Peers = append(c.Peers, a.String())
		}
		c.Limits.RequestTimeout = requestTimeout
	})
	waitFor(t, "the liar to serve the follower a block", func() bool { return served.Load() > 0 })

	startNode(t, "A", leaderChain, nil, withPeers(follower))
	waitForOr(t, "the follower to reach the honest head", func() bool {
		return followerChain.chain.CurrentBlock().Hash() == leaderChain.chain.CurrentBlock().Hash()
	}, func() string {
		return fmt.Sprintf("follower at %d of %d, the liar served %d blocks", followerChain.head(), leaderChain.head(), served.Load())
	})
	if len(follower.logs.lines("sync from peer failed", liar.host.ID().String(), errShortAnswers.Error())) == 0 {
		t.Fatalf("the liar's short answers not held against it:\n%s", follower.logs)
	}
}
