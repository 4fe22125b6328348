package p2p

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	levent "github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/arbiter-chain/arbiter/node/chain"
)

const (
	// seenCacheSize bounds the hashes of transactions and blocks that came
	// from the network (so they are not announced as local).
	seenCacheSize = 1 << 15
	// pruneDelay is how long after a head change the node checks that its
	// peers are still members: a sync's burst of heads costs one check.
	pruneDelay = 200 * time.Millisecond
	// eventBuffer is the buffer of the head, pool and connection channels.
	eventBuffer = 256
)

var (
	// errStarted is returned by a second Start.
	errStarted = errors.New("p2p: node already started")
	// errMissing is returned by New for a nil chain, pool or member set.
	errMissing = errors.New("p2p: chain, pool and members are required")
)

// Node is a member node's network service: a libp2p host that admits only
// members, gossip of transactions, blocks and consensus messages, a sync
// protocol server and a syncer.
type Node struct {
	cfg     Config
	log     *slog.Logger
	host    host.Host
	gater   *gater
	ps      *pubsub.PubSub
	chain   Chain
	pool    Pool
	members Members
	metrics *metrics
	server  *server
	syncer  *syncer
	txSrv   *txServer
	// blockTxSrv answers fetches of compact proposals' transactions from
	// the pool and kept.
	blockTxSrv *blockTxServer
	kept       *keptTxStore
	puller     *puller
	blocks     *blockChecker
	// relayed and again: transactions of peers' batches passed on as they
	// are, and those to announce after all (publishTxs).
	relayed *relayed
	again   chan []*types.Transaction
	// claims keeps concurrent checks of peers' batches from recovering
	// the same transaction's sender twice.
	claims *claims
	// quorum settles peers' batches that claim their senders (nil without
	// Config.Attesters).
	quorum  *quorum
	targets []peer.AddrInfo
	seen    *lru.Cache[common.Hash, struct{}]
	conns   levent.Subscription

	txTopic, blockTopic, consTopic, sendersTopic *pubsub.Topic
	txSub, blockSub, consSub, sendersSub         *pubsub.Subscription
	consFeed                                     event.Feed

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	started   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New creates the host (listening at once), joins the gossip topics and
// serves the sync protocol. Start begins dialling, syncing and announcing.
// ctx bounds the node's life as Close does.
func New(ctx context.Context, cfg Config, c Chain, pool Pool, members Members) (*Node, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if c == nil || pool == nil || members == nil {
		return nil, errMissing
	}
	hk, err := HostKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	self, err := peer.IDFromPrivateKey(hk)
	if err != nil {
		return nil, err
	}
	targets, err := parsePeers(cfg.Peers, self)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("module", "p2p")
	g := newGater(members, log)
	h, err := libp2p.New(
		libp2p.Identity(hk),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, muxer(cfg.Limits, log, m)),
		libp2p.ConnectionGater(g),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &Node{
		cfg: cfg, log: log, host: h, gater: g, chain: c, pool: pool, members: members,
		metrics: m, targets: targets, ctx: ctx, cancel: cancel,
		seen:   lru.NewCache[common.Hash, struct{}](seenCacheSize),
		blocks: newBlockChecker(c, cfg.Engine, members),
		again:  make(chan []*types.Transaction, eventBuffer),
	}
	m.countPeersWith(n.PeerCount)
	n.claims = newClaims()
	n.relayed = newRelayed(func(txs []*types.Transaction) {
		select {
		case n.again <- txs:
		case <-ctx.Done():
		}
	})
	fail := func(err error) (*Node, error) {
		cancel()
		_ = h.Close()
		return nil, err
	}
	if n.conns, err = h.EventBus().Subscribe(new(levent.EvtPeerConnectednessChanged), eventbus.BufSize(eventBuffer)); err != nil {
		return fail(err)
	}
	if cfg.Attesters != nil {
		n.quorum = newQuorum(ctx, cfg.Key, cfg.Attesters, func(data []byte) error {
			return n.sendersTopic.Publish(ctx, data)
		})
		n.quorum.connected = n.txPeer
		if cfg.quorumWait > 0 {
			n.quorum.wait = cfg.quorumWait
		}
	}
	txs, blocks, cons := Topics(cfg.GenesisHash)
	if n.ps, err = newGossipSub(ctx, h, cfg.Logger, txs, blocks, cons, SendersTopic(cfg.GenesisHash)); err != nil {
		return fail(err)
	}
	if err := n.joinTopics(); err != nil {
		return fail(err)
	}
	n.server = newServer(c, cfg.GenesisHash, cfg.Limits, log)
	h.SetStreamHandler(SyncProtocol, n.server.handle)
	client := &streamClient{host: h, timeout: cfg.Limits.RequestTimeout}
	n.syncer = newSyncer(c, client, n.peerIDs, cfg.GenesisHash, cfg.Limits, log, m, n.markSeen)
	n.txSrv = &txServer{pool: pool, timeout: cfg.Limits.RequestTimeout, limiter: newLimiter(cfg.Limits.RequestRate, cfg.Limits.RequestBurst), log: log}
	h.SetStreamHandler(TxProtocol, n.txSrv.handle)
	n.kept = newKeptTxStore()
	n.blockTxSrv = &blockTxServer{pool: pool, kept: n.kept, timeout: cfg.Limits.RequestTimeout, limiter: newLimiter(cfg.Limits.RequestRate, cfg.Limits.RequestBurst), log: log}
	h.SetStreamHandler(BlockTxProtocol, n.blockTxSrv.handle)
	n.puller = &puller{
		pool: pool, client: &txClient{host: h, timeout: cfg.Limits.RequestTimeout}, rules: cfg.Rules,
		peers: n.peerIDs, interval: cfg.Limits.PullInterval, log: log, took: m.gossipTxs, checked: m.recoveredTxs,
	}
	m.setHeight(c.CurrentBlock().NumberU64())
	m.setTarget(c.CurrentBlock().NumberU64())
	log.Info("p2p host listening", "id", h.ID(), "addrs", h.Addrs())
	return n, nil
}

// Start dials the configured peers and starts gossip, sync and
// announcements.
func (n *Node) Start() error {
	if !n.started.CompareAndSwap(false, true) {
		return errStarted
	}
	heads := make(chan chain.HeadEvent, eventBuffer)
	headSub := n.chain.SubscribeChainHead(heads)
	txs := make(chan []*types.Transaction, eventBuffer)
	txSub := n.pool.SubscribeNewTxs(txs)
	n.relayed.activate() // publishTxs sees every announcement from now on
	n.spawn(func() { n.loop(heads, headSub) })
	n.spawn(func() { n.publishTxs(txs, txSub) })
	n.spawn(n.deliverBlocks)
	n.spawn(n.drainTxs)
	if n.sendersSub != nil {
		n.spawn(n.drainSenders)
	}
	if n.consSub != nil {
		n.spawn(n.deliverConsensus)
	}
	n.spawn(func() { n.syncer.run(n.ctx) })
	n.spawn(func() { n.puller.run(n.ctx) })
	for _, p := range n.peerIDs() { // connected before Start
		n.syncer.hint(p)
	}
	return nil
}

func (n *Node) spawn(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// Close stops the node and closes the host. It is safe to call twice.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		n.wg.Wait()
		_ = n.conns.Close()
		for _, s := range []*pubsub.Subscription{n.txSub, n.blockSub, n.consSub, n.sendersSub} {
			if s != nil {
				s.Cancel()
			}
		}
		n.closeErr = n.host.Close()
	})
	return n.closeErr
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs returns the addresses the node listens on, each ending in
// /p2p/<peer id>: what other members put in their peer lists.
func (n *Node) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// PeerCount returns the number of connected peers.
func (n *Node) PeerCount() int { return len(n.host.Network().Peers()) }

// Peers returns the member addresses of the connected peers, sorted.
func (n *Node) Peers() []common.Address {
	var out []common.Address
	for _, p := range n.host.Network().Peers() {
		if a, err := AddressOf(p); err == nil {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	return out
}

func (n *Node) peerIDs() []peer.ID { return n.host.Network().Peers() }

// markSeen records that a transaction or block came from the network.
func (n *Node) markSeen(h common.Hash) { n.seen.Add(h, struct{}{}) }

type dialResult struct {
	peer peer.ID
	err  error
}

// loop owns the redial state. It announces local blocks, redials target
// peers, tracks connections, and closes connections to peers that stopped
// being members.
func (n *Node) loop(heads <-chan chain.HeadEvent, headSub event.Subscription) {
	defer headSub.Unsubscribe()
	rd := newRedialer(n.targets, n.cfg.Limits.RedialMin, n.cfg.Limits.RedialMax, time.Now())
	results := make(chan dialResult, len(n.targets))
	dialTimer := time.NewTimer(0)
	defer dialTimer.Stop()
	// The redialer learns of lost connections from connectedness events;
	// it also checks the host every RedialMax, so that one missed event
	// cannot leave a member undialled.
	check := time.NewTicker(n.cfg.Limits.RedialMax)
	defer check.Stop()
	pruneTimer := time.NewTimer(time.Hour)
	pruneTimer.Stop()
	defer pruneTimer.Stop()
	prunePending := false
	for {
		now := time.Now()
		for _, ai := range rd.dueNow(now) {
			n.spawn(func() {
				r := dialResult{peer: ai.ID, err: n.connect(n.ctx, ai)}
				// More dials than targets can be in flight (a connection
				// event during a dial, then a loss and a redial); once the
				// loop has returned nobody reads results.
				select {
				case results <- r:
				case <-n.ctx.Done():
				}
			})
		}
		if at, ok := rd.next(); ok {
			dialTimer.Reset(at.Sub(now))
		}
		select {
		case <-n.ctx.Done():
			return
		case ev := <-heads:
			n.onHead(ev)
			if !prunePending {
				prunePending = true
				pruneTimer.Reset(pruneDelay)
			}
		case e := <-n.conns.Out():
			if ev, ok := e.(levent.EvtPeerConnectednessChanged); ok {
				n.onConnectedness(ev, rd)
			}
		case r := <-results:
			rd.dialed(r.peer, r.err, time.Now())
			if r.err != nil && n.ctx.Err() == nil {
				n.log.Debug("dial failed", "peer", r.peer, "err", r.err)
			}
		case <-dialTimer.C:
		case <-check.C:
			rd.reconcile(func(p peer.ID) bool {
				return n.host.Network().Connectedness(p) == network.Connected
			}, time.Now())
		case <-pruneTimer.C:
			prunePending = false
			n.pruneNonMembers()
		}
	}
}

// onHead announces a new head that this node produced: one the network did
// not deliver.
func (n *Node) onHead(ev chain.HeadEvent) {
	b := ev.Block
	n.metrics.setHeight(b.NumberU64())
	if n.seen.Contains(b.Hash()) {
		return
	}
	if err := n.PublishBlock(b, ev.Certificate); err != nil && n.ctx.Err() == nil {
		n.log.Warn("announcing block failed", "number", b.NumberU64(), "hash", b.Hash(), "err", err)
	}
}

func (n *Node) onConnectedness(ev levent.EvtPeerConnectednessChanged, rd *redialer) {
	now := time.Now()
	addr, _ := AddressOf(ev.Peer)
	switch ev.Connectedness {
	case network.Connected:
		rd.connected(ev.Peer, now)
		n.syncer.hint(ev.Peer)
		n.log.Info("peer connected", "peer", ev.Peer, "address", addr.Hex())
	case network.NotConnected:
		rd.disconnected(ev.Peer, now)
		n.server.limiter.forget(ev.Peer)
		n.txSrv.limiter.forget(ev.Peer)
		n.blockTxSrv.limiter.forget(ev.Peer)
		n.log.Info("peer disconnected", "peer", ev.Peer, "address", addr.Hex())
	}
}

// pruneNonMembers closes the connections to peers that are no longer
// members at the current head.
func (n *Node) pruneNonMembers() {
	for _, p := range n.host.Network().Peers() {
		if addr, reason, ok := n.gater.admit(p); !ok {
			n.log.Warn("closing connection to a peer that is no longer a member", "peer", p, "address", addr.Hex(), "reason", reason)
			_ = n.host.Network().ClosePeer(p)
		}
	}
}
