package p2p

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// refusalLogEvery bounds how often the refusal of one peer is logged, so a
// peer retrying in a loop cannot flood the log.
const refusalLogEvery = 30 * time.Second

var _ connmgr.ConnectionGater = (*gater)(nil)

// gater admits only current members, at the handshake: outbound dials to a
// non-member are not even attempted, and a connection whose authenticated
// peer is not a member is closed before any protocol runs on it.
type gater struct {
	members Members
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	logged map[refusal]time.Time // last refusal logged
}

// refusal is what refusal logs are throttled by.
type refusal struct {
	peer peer.ID
	dir  string
}

func newGater(m Members, log *slog.Logger) *gater {
	return &gater{members: m, log: log, now: time.Now, logged: make(map[refusal]time.Time)}
}

// admit reports whether p is a member, and why not.
func (g *gater) admit(p peer.ID) (common.Address, string, bool) {
	addr, err := AddressOf(p)
	if err != nil {
		return addr, err.Error(), false
	}
	if !g.members.IsMember(addr) {
		return addr, "not a member", false
	}
	return addr, "", true
}

func (g *gater) check(p peer.ID, dir string) bool {
	addr, reason, ok := g.admit(p)
	if !ok {
		g.refused(p, addr, dir, reason)
	}
	return ok
}

// refused logs a refusal, at most once per refusalLogEvery per peer and
// direction.
func (g *gater) refused(p peer.ID, addr common.Address, dir, reason string) {
	now := g.now()
	key := refusal{p, dir}
	g.mu.Lock()
	last, seen := g.logged[key]
	quiet := seen && now.Sub(last) < refusalLogEvery
	if !quiet {
		if len(g.logged) >= 1024 {
			clear(g.logged)
		}
		g.logged[key] = now
	}
	g.mu.Unlock()
	if !quiet {
		g.log.Warn("p2p connection refused", "peer", p, "address", addr.Hex(), "direction", dir, "reason", reason)
	}
}

// InterceptPeerDial refuses to dial a non-member.
func (g *gater) InterceptPeerDial(p peer.ID) bool { return g.check(p, "outbound") }

// InterceptAddrDial refuses to dial a non-member at any address.
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.check(p, "outbound") }

// InterceptAccept admits every inbound connection to the handshake: the
// peer is not known before it.
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses an authenticated connection, in either direction,
// whose peer is not a member.
func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.check(p, strings.ToLower(dir.String()))
}

// InterceptUpgraded admits every connection that passed InterceptSecured.
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
