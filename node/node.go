package node

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/p2p"
	"github.com/arbiter-chain/arbiter/node/rpc"
	"github.com/arbiter-chain/arbiter/node/store"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// Data directory layout.
const (
	GenesisFile = "genesis.json"
	ChainDir    = "chaindata"
)

// Version is reported by web3_clientVersion.
const Version = "arbiter/v0.1.0"

// Config configures a node.
type Config struct {
	DataDir string
	Key     *ecdsa.PrivateKey
	// RPCAddr is where JSON-RPC listens; empty disables it.
	RPCAddr string
	// WSOrigins are the browser origins, besides the RPC server's own,
	// allowed to open a WebSocket to it (rpc.Config.WSOrigins).
	WSOrigins []string
	// Mine makes the node produce blocks (a member's key is required).
	Mine bool
	// P2PListen are the multiaddrs libp2p listens on. Empty means the
	// multiaddr genesis lists for this node's member, if any, else a
	// free loopback port.
	P2PListen []string
	// Peers are extra member multiaddrs (ending in /p2p/<peer id>) to dial
	// besides those genesis lists. NoP2P disables networking entirely.
	Peers  []string
	NoP2P  bool
	Logger *slog.Logger
	// Registry receives the node's metrics; nil uses a fresh registry.
	Registry *prometheus.Registry
	// Clock is the wall clock the node uses for protocol purposes: the
	// timestamps of the blocks it produces and the engine's check that a
	// block is not from the future. Nil means time.Now. Tests give a node
	// an offset clock to inject clock skew.
	Clock func() time.Time
	// ClientBacklog is the pool's client flow control window
	// (txpool.Config.BacklogWindow); zero or negative turns it off.
	ClientBacklog time.Duration
	// RPCMaxConnsPerIP bounds the JSON-RPC connections open at once from
	// one client address (rpclimit.Limits.MaxConnsPerIP); zero or
	// negative means rpclimit.DefaultMaxConnsPerIP.
	RPCMaxConnsPerIP int

	// p2pPool, set by tests, wraps the pool as the network layer sees it:
	// peers' transactions are offered to it, pulls and fetches served
	// from it.
	p2pPool func(p2p.Pool) p2p.Pool
}

// Node is a member node: chain, pool, block producer and JSON-RPC.
type Node struct {
	cfg     Config
	log     *slog.Logger
	db      *store.DB
	chain   *chain.Chain
	pool    *txpool.Pool
	rpc     *rpc.Server
	rpcAddr net.Addr
	p2p     *p2p.Node
	peers   atomic.Pointer[p2p.Node]   // for RPC, which starts before p2p
	driver  atomic.Pointer[pos.Driver] // for RPC: the pos validator's consensus, once it runs
	reg     *prometheus.Registry

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Init writes a data directory from a genesis: the genesis file and a
// database holding the genesis block. It refuses a directory that already
// holds a different genesis.
func Init(dataDir string, g *genesis.Genesis) (*types.Block, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(dataDir, ChainDir))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	c, err := OpenChain(db, g, nil, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := g.Write(filepath.Join(dataDir, GenesisFile)); err != nil {
		return nil, err
	}
	return c.GetBlockByNumber(0), nil
}

// New opens the node in cfg.DataDir (written by Init) without starting it.
func New(cfg Config) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	g, err := genesis.Load(filepath.Join(cfg.DataDir, GenesisFile))
	if err != nil {
		return nil, fmt.Errorf("data directory %s not initialised (run arbiter init): %w", cfg.DataDir, err)
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, ChainDir))
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	// The pool remembers the senders it recovered; block validation reuses
	// them, so each signature is recovered once on this node.
	senders := txpool.NewSenders(2 * txpool.DefaultMaxTxs)
	c, err := openChain(db, g, cfg.Key, log, cfg.Clock, chain.WithSenderCache(senders))
	if err != nil {
		db.Close()
		return nil, err
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var minPrice = g.MinGasPriceBig()
	backlog := cfg.ClientBacklog
	if backlog <= 0 {
		backlog = -1 // off
	}
	pool := txpool.New(txpool.Config{MinGasPrice: minPrice, Senders: senders, BacklogWindow: backlog}, c.Rules(), c)
	n := &Node{cfg: cfg, log: log, db: db, chain: c, pool: pool, reg: reg}
	if err := n.registerMetrics(); err != nil {
		db.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if cfg.Mine {
		if cfg.Key == nil {
			db.Close()
			return nil, errors.New("mining needs a node key")
		}
		addr := crypto.PubkeyToAddress(cfg.Key.PublicKey)
		if !c.IsMember(c.CurrentHeader(), addr) {
			log.Warn("node key is not a member: blocks it seals will be refused", "address", addr)
		}
	}
	return n, nil
}

// Chain returns the node's chain.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Pool returns the node's transaction pool.
func (n *Node) Pool() *txpool.Pool { return n.pool }

// RPCAddr returns the address JSON-RPC listens on, once started.
func (n *Node) RPCAddr() net.Addr { return n.rpcAddr }

// Start runs the node's services until Close.
func (n *Node) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if n.cfg.RPCAddr != "" {
		srv, err := rpc.New(rpc.Config{
			ClientVersion: Version,
			WSOrigins:     n.cfg.WSOrigins,
			GasPrice:      n.chain.Genesis().MinGasPriceBig(),
			Peers:         peerCounter{&n.peers},
			Registerer:    n.reg,
			Gatherer:      n.reg,
			Limits:        rpclimit.Limits{MaxConnsPerIP: n.cfg.RPCMaxConnsPerIP},
		}, rpcChain{n.chain}, n.pool)
		if err != nil {
			cancel()
			return err
		}
		if err := srv.RegisterArbiter(n.arbiterSources()); err != nil {
			cancel()
			srv.Close()
			return err
		}
		l, err := rpc.Listen(n.cfg.RPCAddr)
		if err != nil {
			cancel()
			srv.Close()
			return err
		}
		n.rpc, n.rpcAddr = srv, l.Addr()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
				n.log.Error("rpc server stopped", "err", err)
			}
		}()
		n.log.Info("JSON-RPC listening", "addr", "http://"+l.Addr().String())
	}
	if !n.cfg.NoP2P && n.cfg.Key != nil {
		if err := n.startP2P(ctx); err != nil {
			cancel()
			if n.rpc != nil {
				n.rpc.Close()
			}
			return fmt.Errorf("p2p: %w", err)
		}
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.poolLoop(ctx) }()
	if n.cfg.Mine {
		if err := n.startProducer(ctx); err != nil {
			cancel()
			return err
		}
	}
	return nil
}

// address is the node key's address.
func (n *Node) address() common.Address { return crypto.PubkeyToAddress(n.cfg.Key.PublicKey) }

// peerCounter answers net_peerCount from the p2p layer once it runs.
type peerCounter struct{ p *atomic.Pointer[p2p.Node] }

func (c peerCounter) PeerCount() int {
	if n := c.p.Load(); n != nil {
		return n.PeerCount()
	}
	return 0
}

// poolLoop keeps the pool in step with the head: included transactions
// leave it, transactions of blocks a reorg dropped come back.
func (n *Node) poolLoop(ctx context.Context) {
	heads := make(chan chain.HeadEvent, 64)
	sub := n.chain.SubscribeChainHead(heads)
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-heads:
			n.pool.Reset(ev.Block.Header(), ev.Dropped)
		}
	}
}

// Close stops every service and closes the database.
func (n *Node) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.rpc != nil {
		n.rpc.Close()
	}
	if n.p2p != nil {
		n.p2p.Close()
	}
	n.wg.Wait()
	return errors.Join(n.chain.Close(), n.db.Close())
}
