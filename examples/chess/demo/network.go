package demo

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	arbiter "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/watcher"
)

const members = 4

// network is the demo's consortium: member nodes in this process, joined
// over libp2p on loopback, with a bridge and its watchtower.
type network struct {
	dir       string
	nodes     []*node.Node
	store     *bridge.BadgerStore
	bridge    *bridge.Bridge
	server    *http.Server
	bridgeURL string
	pageURL   string
	wdb       *watcher.DB
	stop      context.CancelFunc
	done      chan struct{}
	chainID   *big.Int
	keys      []*ecdsa.PrivateKey // the members'
	pageNode  *gethrpc.Client     // the page's node connection
	opts      netOptions
}

// netOptions are the network's settings beyond its members.
type netOptions struct {
	// listen is the bridge's HTTP address (default a free loopback port).
	listen string
	// vouch serves the page's POST /demo/vouch: member 1 vouches for and
	// funds a browser's development key.
	vouch bool
}

// startNetwork writes a fresh network into dir (members plus the two
// players, funded and vouched for by member 1) and starts everything.
func startNetwork(ctx context.Context, dir, engine string, log *slog.Logger, opts netOptions, players ...*ecdsa.PrivateKey) (*network, error) {
	blockTime := time.Second // proof-of-work header times have second resolution
	if engine == genesis.EnginePoS {
		blockTime = 250 * time.Millisecond
	}
	g, keys, err := node.TestnetGenesis(members, engine, 0, blockTime)
	if err != nil {
		return nil, err
	}
	if g.PoW != nil {
		// A demo-sized puzzle: the four in-process miners share two cores.
		g.PoW.MinDifficulty, g.PoW.InitialDifficulty = 1<<12, 1<<16
	}
	fund := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	for _, p := range players {
		a := crypto.PubkeyToAddress(p.PublicKey)
		g.Alloc[a] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Set(fund))}
		g.Allowed = append(g.Allowed, genesis.Allowance{Account: a, By: g.Members[0].Address})
	}
	n := &network{dir: dir, chainID: new(big.Int).SetUint64(g.ChainID), keys: keys, opts: opts}
	var peers []string
	for i, key := range keys {
		data := filepath.Join(dir, fmt.Sprintf("member%d", i+1))
		if _, err := node.Init(data, g); err != nil {
			n.close()
			return nil, err
		}
		nd, err := node.New(node.Config{
			// Under proof-of-work one member mines: four miners in one
			// process would only race each other into short forks.
			DataDir: data, Key: key, RPCAddr: "127.0.0.1:0", Mine: engine != genesis.EnginePoW || i == 0,
			P2PListen: []string{"/ip4/127.0.0.1/tcp/0"}, Peers: append([]string(nil), peers...),
			Logger: log.With("member", i+1),
		})
		if err != nil {
			n.close()
			return nil, err
		}
		if err := nd.Start(); err != nil {
			nd.Close()
			n.close()
			return nil, err
		}
		n.nodes = append(n.nodes, nd)
		for _, a := range nd.P2P().Addrs() {
			peers = append(peers, a.String())
		}
	}
	if err := n.waitPeers(ctx); err != nil {
		n.close()
		return nil, err
	}
	if err := n.startBridge(ctx, keys[0], log); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// waitPeers waits until every member is connected to every other.
func (n *network) waitPeers(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, nd := range n.nodes {
			if nd.P2P().PeerCount() < members-1 {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("members did not connect to each other within 20s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *network) rpcURL(i int) string { return "ws://" + n.nodes[i].RPCAddr().String() + "/ws" }

// startBridge serves the bridge over HTTP on a free port, with an embedded
// badger store, and runs the watchtower with member 1's key.
func (n *network) startBridge(ctx context.Context, towerKey *ecdsa.PrivateKey, log *slog.Logger) error {
	store, err := bridge.OpenBadger(filepath.Join(n.dir, "bridge"))
	if err != nil {
		return err
	}
	n.store = store
	arb, err := bridge.DialArbiter(ctx, n.rpcURL(0), arbiter.Address)
	if err != nil {
		return err
	}
	b, err := bridge.New(bridge.Config{Arbiter: arbiter.Address, ChainID: n.chainID, Logger: log.With("component", "bridge")}, store, arb)
	if err != nil {
		return err
	}
	n.bridge = b
	listen := n.opts.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if n.pageNode, err = gethrpc.DialContext(ctx, n.rpcURL(0)); err != nil {
		return err
	}
	page := bridge.PageConfig{Node: n.pageNode}
	if n.opts.vouch {
		page.Vouch = &voucher{n: n, log: log.With("component", "voucher")}
	}
	n.server = b.PageServer(page)
	go n.server.Serve(b.Listener(ln)) //nolint:errcheck // ErrServerClosed on close
	n.bridgeURL = "ws://" + ln.Addr().String() + "/ws"
	n.pageURL = "http://" + ln.Addr().String() + "/"

	client, err := ethclient.DialContext(ctx, n.rpcURL(0))
	if err != nil {
		return err
	}
	db, err := watcher.Open(filepath.Join(n.dir, "watcher"))
	if err != nil {
		client.Close()
		return err
	}
	n.wdb = db
	w, err := watcher.New(watcher.Config{Arbiter: arbiter.Address, Key: towerKey, PollInterval: 100 * time.Millisecond,
		Logger: log.With("component", "watchtower")}, db, client, store, watcher.LogNotifier{Logger: log.With("component", "notify")})
	if err != nil {
		client.Close()
		return err
	}
	wctx, stop := context.WithCancel(context.Background())
	n.stop, n.done = stop, make(chan struct{})
	go func() {
		defer close(n.done)
		defer client.Close()
		if err := w.Run(wctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("watchtower stopped", "err", err)
		}
	}()
	return nil
}

func (n *network) close() {
	if n.stop != nil {
		n.stop()
		<-n.done
	}
	if n.server != nil {
		n.server.Close()
	}
	if n.bridge != nil {
		n.bridge.Close()
	}
	if n.pageNode != nil {
		n.pageNode.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
	if n.wdb != nil {
		n.wdb.Close()
	}
	for _, nd := range n.nodes {
		nd.Close()
	}
}

// playerKey derives a bot's key from its name: the demo is reproducible.
func playerKey(name string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("arbiter demo player " + name)))
	if err != nil {
		panic(err)
	}
	return k
}
