package demo

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/offchain/client"
)

// Options configure a demo run.
type Options struct {
	// Out receives the timeline; nil means os.Stdout.
	Out io.Writer
	// Engine is the consensus engine of the local network.
	Engine string
	// Dir holds the network's data; empty means a fresh temporary
	// directory, removed afterwards.
	Dir string
	// Timeout bounds the scenarios.
	Timeout time.Duration
	// Serve keeps the network, the bridge with its page and the
	// watchtower running after the scenarios, with a bot opponent, until
	// the context ends; the page can have its development key vouched for.
	Serve bool
	// Listen is the bridge's HTTP address (default: a free loopback port,
	// 127.0.0.1:8600 with Serve).
	Listen string
}

// Run starts the network, plays every scenario and checks each outcome and
// the final balances. It returns an error describing every scenario whose
// outcome differed from the expected one.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Engine == "" {
		o.Engine = genesis.EnginePoS
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Serve && o.Listen == "" {
		o.Listen = "127.0.0.1:8600"
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "arbiter-demo-")
		if err != nil {
			return err
		}
		o.Dir = dir
		defer func() {
			if err == nil {
				os.RemoveAll(dir)
			} else {
				fmt.Fprintf(o.Out, "data and logs kept in %s\n", dir)
			}
		}()
	}
	var logFile *os.File
	logFile, err = os.Create(filepath.Join(o.Dir, "demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))

	started := time.Now()
	aliceKey, bobKey := playerKey("alice"), playerKey("bob")
	fmt.Fprintf(o.Out, "Starting a %d-member %s consortium, a bridge and its watchtower (logs: %s)\n", members, o.Engine, logFile.Name())
	net, err := startNetwork(ctx, o.Dir, o.Engine, log, netOptions{listen: o.Listen, vouch: o.Serve}, aliceKey, bobKey, botKey())
	if err != nil {
		return fmt.Errorf("start network: %w", err)
	}
	defer net.close()
	for i, nd := range net.nodes {
		fmt.Fprintf(o.Out, "  member%d  rpc http://%s  peers %d\n", i+1, nd.RPCAddr(), nd.P2P().PeerCount())
	}
	fmt.Fprintf(o.Out, "  bridge   %s\n", net.bridgeURL)

	// The players talk to different members: what one sends, the other's
	// node learns over the consortium network.
	seen := new(atomic.Uint64)
	alice, err := connectPlayer(ctx, "alice", aliceKey, net.rpcURL(1), net.bridgeURL, net.chainID, seen)
	if err != nil {
		return err
	}
	bob, err := connectPlayer(ctx, "bob", bobKey, net.rpcURL(2), net.bridgeURL, net.chainID, seen)
	if err != nil {
		return err
	}
	e := &env{alice: alice, bob: bob, eth: alice.eth, stake: new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18))}
	before := map[*player]*big.Int{}
	for _, p := range []*player{alice, bob} {
		if before[p], err = p.eth.BalanceAt(ctx, p.addr, nil); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "Players: alice %s (white), bob %s (black); stake %s wei per game; gas priced at zero\n", alice.addr, bob.addr, e.stake)

	// The six games run at once, each on its own timeline.
	tls := make([]*timeline, len(scenarios))
	errs := make([]error, len(scenarios))
	var wg sync.WaitGroup
	for i, s := range scenarios {
		tls[i] = &timeline{title: s.title}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.run(ctx, e, tls[i])
		}()
	}
	wg.Wait()
	var failed []error
	want := new(big.Int)
	for i, s := range scenarios {
		tls[i].write(o.Out)
		if errs[i] != nil {
			fmt.Fprintf(o.Out, "  !! UNEXPECTED: %v\n", errs[i])
			failed = append(failed, fmt.Errorf("%s: %w", s.title, errs[i]))
			continue
		}
		want.Add(want, new(big.Int).Mul(big.NewInt(s.net), e.stake))
	}

	fmt.Fprintln(o.Out, "\n== Balances")
	for _, p := range []*player{alice, bob} {
		if err := waitBlock(ctx, p.eth, seen.Load()); err != nil {
			return err
		}
		after, err := p.eth.BalanceAt(ctx, p.addr, nil)
		if err != nil {
			return err
		}
		delta := new(big.Int).Sub(after, before[p])
		expect := new(big.Int).Set(want)
		if p == bob {
			expect.Neg(expect)
		}
		fmt.Fprintf(o.Out, "  %-5s %s wei (%+d stakes)\n", p.name, after, new(big.Int).Div(delta, e.stake).Int64())
		if len(failed) == 0 && delta.Cmp(expect) != 0 {
			failed = append(failed, fmt.Errorf("%s's balance moved by %s, want %s", p.name, delta, expect))
		}
	}
	fmt.Fprintf(o.Out, "\n%d of %d scenarios ended as expected in %v\n", len(scenarios)-len(failed), len(scenarios), time.Since(started).Round(100*time.Millisecond))
	if len(failed) > 0 || !o.Serve {
		return errors.Join(failed...)
	}
	return serve(parent, net, o.Out, log)
}

func connectPlayer(ctx context.Context, name string, key *ecdsa.PrivateKey, nodeURL, bridgeURL string, chainID *big.Int, seen *atomic.Uint64) (*player, error) {
	eth, err := ethclient.DialContext(ctx, nodeURL)
	if err != nil {
		return nil, err
	}
	br, err := client.DialContext(ctx, bridgeURL)
	if err != nil {
		return nil, err
	}
	return newPlayer(name, key, eth, br, chainID, seen), nil
}
