package p2p

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestParsePeers(t *testing.T) {
	a, b := peerOf(t, "A"), peerOf(t, "B")
	tests := []struct {
		name  string
		addrs []string
		want  map[peer.ID]int // addresses per peer
		err   error
	}{
		{"one", []string{"/ip4/127.0.0.1/tcp/1/p2p/" + b.String()}, map[peer.ID]int{b: 1}, nil},
		{"merged", []string{"/ip4/127.0.0.1/tcp/1/p2p/" + b.String(), "/ip4/10.0.0.1/tcp/2/p2p/" + b.String()}, map[peer.ID]int{b: 2}, nil},
		{"self left out", []string{"/ip4/127.0.0.1/tcp/1/p2p/" + a.String()}, map[peer.ID]int{}, nil},
		{"no peer id", []string{"/ip4/127.0.0.1/tcp/1"}, nil, ErrBadPeerAddr},
		{"not a multiaddr", []string{"127.0.0.1:30303"}, nil, ErrBadPeerAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := parsePeers(tt.addrs, a)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err: have %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			have := map[peer.ID]int{}
			for _, ai := range infos {
				have[ai.ID] = len(ai.Addrs)
			}
			if len(have) != len(tt.want) {
				t.Fatalf("peers: have %v, want %v", have, tt.want)
			}
			for id, n := range tt.want {
				if have[id] != n {
					t.Fatalf("peer %s: have %d addrs, want %d", id, have[id], n)
				}
			}
		})
	}
}

func TestRedialer(t *testing.T) {
	const lo, hi = time.Second, 8 * time.Second
	p := peer.ID("p")
	t0 := time.Unix(0, 0)
	r := newRedialer([]peer.AddrInfo{{ID: p}}, lo, hi, t0)
	fail := errors.New("dial failed")

	// due dials p at at, expecting it then and not a moment before.
	due := func(at time.Duration) {
		t.Helper()
		if next, ok := r.next(); !ok || !next.Equal(t0.Add(at)) {
			t.Fatalf("next dial: have %v %v, want %v", next.Sub(t0), ok, at)
		}
		if got := r.dueNow(t0.Add(at - time.Millisecond)); len(got) != 0 {
			t.Fatalf("dialled early at %v", at-time.Millisecond)
		}
		if got := r.dueNow(t0.Add(at)); len(got) != 1 || got[0].ID != p {
			t.Fatalf("not dialled at %v: %v", at, got)
		}
		if _, ok := r.next(); ok {
			t.Fatalf("a dial is due while one is in flight")
		}
	}

	due(0) // at start
	r.dialed(p, fail, t0)
	due(1 * time.Second) // backoff doubles ...
	r.dialed(p, fail, t0.Add(1*time.Second))
	due(3 * time.Second)
	r.dialed(p, fail, t0.Add(3*time.Second))
	due(7 * time.Second)
	r.dialed(p, fail, t0.Add(7*time.Second))
	due(15 * time.Second) // ... up to the cap
	r.dialed(p, fail, t0.Add(15*time.Second))
	due(23 * time.Second)

	// A connection that drops at once keeps the backoff.
	r.dialed(p, nil, t0.Add(23*time.Second))
	if _, ok := r.next(); ok {
		t.Fatalf("dial due while connected")
	}
	r.disconnected(p, t0.Add(24*time.Second))
	due(32 * time.Second)

	// A dial failing after an inbound connection won the race changes nothing.
	r.connected(p, t0.Add(32*time.Second))
	r.dialed(p, fail, t0.Add(33*time.Second))
	if _, ok := r.next(); ok {
		t.Fatalf("dial due while connected")
	}

	// A connection that lasted resets the backoff.
	r.disconnected(p, t0.Add(32*time.Second+hi))
	due(33*time.Second + hi)

	// A lost connection whose event never came is found by reconcile; a
	// live one is left alone.
	r.dialed(p, nil, t0.Add(33*time.Second+hi))
	r.reconcile(func(peer.ID) bool { return true }, t0.Add(34*time.Second+hi))
	if _, ok := r.next(); ok {
		t.Fatalf("dial due while connected")
	}
	r.reconcile(func(peer.ID) bool { return false }, t0.Add(35*time.Second+hi))
	due(37*time.Second + hi) // the 2 s backoff: the connection was short
	// A dial in flight is not a connection: reconcile leaves it alone.
	r.reconcile(func(peer.ID) bool { return false }, t0.Add(37*time.Second+hi))
	if _, ok := r.next(); ok {
		t.Fatalf("a second dial is due while one is in flight")
	}
	r.dialed(p, fail, t0.Add(38*time.Second+hi))

	// Peers that are not targets are ignored.
	r.connected("other", t0)
	r.disconnected("other", t0)
	r.dialed("other", fail, t0)
}
