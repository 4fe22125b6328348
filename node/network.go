package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/node/p2p"
)

// startP2P joins the consortium network: it listens where genesis says this
// member listens (unless told otherwise) and dials every other member
// genesis lists, plus any extra peers.
func (n *Node) startP2P(ctx context.Context) error {
	self := crypto.PubkeyToAddress(n.cfg.Key.PublicKey)
	listen := n.cfg.P2PListen
	var peers []string
	for _, m := range n.chain.Genesis().Members {
		if m.Multiaddr == "" {
			continue
		}
		if m.Address == self {
			if len(listen) == 0 {
				listen = []string{stripPeerID(m.Multiaddr)}
			}
			continue
		}
		peers = append(peers, m.Multiaddr)
	}
	peers = append(peers, n.cfg.Peers...)
	var pool p2p.Pool = n.pool
	if n.cfg.p2pPool != nil {
		pool = n.cfg.p2pPool(pool)
	}
	node, err := p2p.New(ctx, p2p.Config{
		Key:         n.cfg.Key,
		ListenAddrs: listen,
		Peers:       peers,
		GenesisHash: n.chain.GenesisHash(),
		Rules:       n.chain.Rules(),
		Engine:      n.chain.Engine(),
		Logger:      n.log,
		Registerer:  n.reg,
		Consensus:   n.consensusFilter(),
		Attesters:   n.attesters(),
		Limits:      p2p.Limits{MaxConsensusMsg: n.maxConsensusGossip()},
	}, n.chain, pool, n.admission())
	if err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		node.Close()
		return err
	}
	n.p2p = node
	n.peers.Store(node)
	n.log.Info("p2p listening", "addrs", fmt.Sprint(node.Addrs()), "peer", node.ID(), "dialling", len(peers))
	return nil
}

// P2P returns the node's network layer (nil when networking is off).
func (n *Node) P2P() *p2p.Node { return n.p2p }

// stripPeerID turns /ip4/…/tcp/…/p2p/<id> into the listen part.
func stripPeerID(addr string) string {
	if i := strings.Index(addr, "/p2p/"); i >= 0 {
		return addr[:i]
	}
	return addr
}
