package p2p

import (
	"bytes"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID     string
	Addrs  []string       // remote addresses of its connections
	Member common.Address // from its key; zero if not decodable
	Since  time.Time      // when its oldest open connection was opened
}

// PeerInfos returns the connected peers ordered by member address.
func (n *Node) PeerInfos() []PeerInfo {
	net := n.host.Network()
	var out []PeerInfo
	for _, p := range net.Peers() {
		info := PeerInfo{ID: p.String()}
		info.Member, _ = AddressOf(p)
		for _, c := range net.ConnsToPeer(p) {
			info.Addrs = append(info.Addrs, c.RemoteMultiaddr().String())
			if o := c.Stat().Opened; info.Since.IsZero() || o.Before(info.Since) {
				info.Since = o
			}
		}
		slices.Sort(info.Addrs)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return bytes.Compare(a.Member[:], b.Member[:]) })
	return out
}

// SyncTarget returns the highest head number a peer without faults since
// its last clean sync session reported in the last status exchange of the
// syncer, or the local head then (0 before any).
func (n *Node) SyncTarget() uint64 { return n.metrics.targetN.Load() }
