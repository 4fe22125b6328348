package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// errRefusedByPeer is returned when a peer closed the connection during the
// handshake: its gater did not admit us.
var errRefusedByPeer = errors.New("peer closed the connection after the handshake (refused us?)")

// parsePeers turns member multiaddrs into one AddrInfo per peer, leaving
// out self.
func parsePeers(addrs []string, self peer.ID) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadPeerAddr, s, err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(m); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadPeerAddr, s, err)
		}
		mas = append(mas, m)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPeerAddr, err)
	}
	out := infos[:0]
	for _, ai := range infos {
		if ai.ID != self {
			out = append(out, ai)
		}
	}
	return out, nil
}

// muxer is libp2p's yamux with the keepalive of l (decision 39): a ping
// after PingInterval with nothing received, and the connection closed
// when the answer takes longer than PingTimeout. yamux bounds a blocked
// write by the same timeout (each write gets between half of it and all
// of it). libp2p's default pings every 30 s and waits 10 s, so a
// connection left silent by dropped packets would outlast a partition by
// tens of seconds. The muxer's own log lines go to log, through
// muxerLog.
func muxer(l Limits, log *slog.Logger, m *metrics) *yamux.Transport {
	t := *yamux.DefaultTransport
	t.EnableKeepAlive = true
	t.KeepAliveInterval = l.PingInterval
	t.ConnectionWriteTimeout = l.PingTimeout
	t.LogOutput = muxerLog{log: log, m: m}
	return &t
}

// muxerLog turns the lines yamux writes (through a log.Logger, one line a
// write) into the node's log: an unanswered keepalive at warn, since it
// says why the "peer disconnected" after it happened, and counted; the
// rest at debug.
type muxerLog struct {
	log *slog.Logger
	m   *metrics
}

func (w muxerLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if i := strings.Index(line, "yamux:"); i >= 0 {
		line = line[i:] // drop log.Logger's date and time
	}
	if strings.Contains(line, "keepalive failed") {
		w.m.silent.Inc()
		w.log.Warn("closing a peer connection: no answer to keepalive", "muxer", line)
	} else {
		w.log.Debug("muxer", "line", line)
	}
	return len(p), nil
}

type dialState int

const (
	stateIdle dialState = iota
	stateDialing
	stateConnected
)

// target is a peer the node keeps dialling.
type target struct {
	info    peer.AddrInfo
	state   dialState
	backoff time.Duration // wait before the next dial after a failure
	due     time.Time     // when an idle target is dialled next
	since   time.Time     // when it connected
}

// redialer decides when each target peer is dialled: at once at start,
// then after each failed dial or lost connection with a backoff that
// doubles up to max. The backoff resets when a connection lasted max. It
// does no I/O and reads no clock; its owner (the node's loop) does both.
type redialer struct {
	min, max time.Duration
	targets  map[peer.ID]*target
}

func newRedialer(infos []peer.AddrInfo, lo, hi time.Duration, now time.Time) *redialer {
	r := &redialer{min: lo, max: hi, targets: make(map[peer.ID]*target, len(infos))}
	for _, ai := range infos {
		r.targets[ai.ID] = &target{info: ai, backoff: lo, due: now}
	}
	return r
}

// dueNow returns the idle targets whose time has come and marks them dialling.
func (r *redialer) dueNow(now time.Time) []peer.AddrInfo {
	var out []peer.AddrInfo
	for _, t := range r.targets {
		if t.state == stateIdle && !now.Before(t.due) {
			t.state = stateDialing
			out = append(out, t.info)
		}
	}
	return out
}

// next returns when the earliest idle target falls due.
func (r *redialer) next() (time.Time, bool) {
	var (
		at time.Time
		ok bool
	)
	for _, t := range r.targets {
		if t.state == stateIdle && (!ok || t.due.Before(at)) {
			at, ok = t.due, true
		}
	}
	return at, ok
}

// dialed records the outcome of a dial.
func (r *redialer) dialed(p peer.ID, err error, now time.Time) {
	t := r.targets[p]
	if t == nil || t.state != stateDialing {
		return // a connection event came first
	}
	if err == nil {
		t.state, t.since = stateConnected, now
		return
	}
	r.retryLater(t, now)
}

// connected records a connection to p, in either direction.
func (r *redialer) connected(p peer.ID, now time.Time) {
	if t := r.targets[p]; t != nil && t.state != stateConnected {
		t.state, t.since = stateConnected, now
	}
}

// disconnected records that the last connection to p closed.
func (r *redialer) disconnected(p peer.ID, now time.Time) {
	t := r.targets[p]
	if t == nil || t.state != stateConnected {
		return
	}
	if now.Sub(t.since) >= r.max {
		t.backoff = r.min
	}
	r.retryLater(t, now)
}

// reconcile treats a target it counts as connected, but which connected
// says is not, as disconnected now: a connectedness event the node missed
// or has not reached yet must not stop its redials for good.
func (r *redialer) reconcile(connected func(peer.ID) bool, now time.Time) {
	for p, t := range r.targets {
		if t.state == stateConnected && !connected(p) {
			r.disconnected(p, now)
		}
	}
}

func (r *redialer) retryLater(t *target, now time.Time) {
	t.state = stateIdle
	t.due = now.Add(t.backoff)
	t.backoff = min(2*t.backoff, r.max)
}

// Connect dials a peer at a multiaddr ending in /p2p/<peer id> once. It
// fails if this node's gater refuses the peer, or if the peer closes the
// connection during the handshake (its gater refused us).
func (n *Node) Connect(ctx context.Context, addr ma.Multiaddr) error {
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadPeerAddr, err)
	}
	return n.connect(ctx, *ai)
}

func (n *Node) connect(ctx context.Context, ai peer.AddrInfo) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Limits.RequestTimeout)
	defer cancel()
	// The redialer paces dials to members itself; the swarm's own backoff
	// after a failed dial (5 s and growing) would otherwise hold a healed
	// link down for seconds after a partition ends.
	if sw, ok := n.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	if err := n.host.Connect(ctx, ai); err != nil {
		return err
	}
	// With early muxer negotiation the dialer may count a connection as
	// established before the listener's gater closes it. Connect waits for
	// identify, which only a peer that admitted us completes.
	if n.host.Network().Connectedness(ai.ID) != network.Connected {
		return errRefusedByPeer
	}
	if protos, _ := n.host.Peerstore().SupportsProtocols(ai.ID, SyncProtocol); len(protos) == 0 {
		return errRefusedByPeer
	}
	return nil
}
