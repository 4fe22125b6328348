package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter"
	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

func runInit(args []string, stdout io.Writer) error {
	fs := newFlags("init")
	dataDir := fs.String("datadir", "", "data directory to write")
	genFile := fs.String("genesis", "", "genesis file (default: the embedded genesis.json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required("datadir", *dataDir); err != nil {
		return err
	}
	var (
		g   *genesis.Genesis
		err error
	)
	if *genFile == "" {
		g, err = genesis.Parse(arbiter.DefaultGenesis)
	} else {
		g, err = genesis.Load(*genFile)
	}
	if err != nil {
		return err
	}
	b, err := node.Init(*dataDir, g)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "initialised %s: chain id %d, engine %s, genesis %s\n", *dataDir, g.ChainID, g.Engine, b.Hash())
	return nil
}

func runKeys(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "new" && args[0] != "dev") {
		return errors.New("usage: arbiter keys new --out FILE | arbiter keys dev --index N --out FILE")
	}
	fs := newFlags("keys " + args[0])
	out := fs.String("out", "", "file to write the hex private key to")
	index := 0
	if args[0] == "dev" {
		fs.IntVar(&index, "index", 0, "well-known development key of the embedded genesis (1-4); public, never for value")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := required("out", *out); err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: refusing to overwrite a key", *out)
	}
	var (
		key *ecdsa.PrivateKey
		err error
	)
	if args[0] == "dev" {
		key, err = devKey(index)
	} else {
		key, err = crypto.GenerateKey()
	}
	if err != nil {
		return err
	}
	if err := crypto.SaveECDSA(*out, key); err != nil {
		return err
	}
	fmt.Fprintln(stdout, crypto.PubkeyToAddress(key.PublicKey).Hex())
	return nil
}

func runNode(args []string, stdout io.Writer) error {
	fs := newFlags("node")
	dataDir := fs.String("datadir", "", "data directory written by arbiter init")
	keyFile := fs.String("key", "", "node key file (hex secp256k1)")
	rpcAddr := fs.String("rpc", "127.0.0.1:8545", "JSON-RPC listen address (empty to disable)")
	mine := fs.Bool("mine", true, "produce blocks")
	importFile := fs.String("import", "", "import blocks from an RLP file (as written by arbiter export) after start")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	p2pAddr := fs.String("p2p", "", "libp2p listen multiaddr (default: this member's multiaddr in genesis, else a free loopback port)")
	peers := fs.String("peers", "", "comma-separated member multiaddrs ending in /p2p/<peer id>, dialled besides those in genesis")
	noP2P := fs.Bool("no-p2p", false, "run without networking")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; keep it on loopback")
	backlog := fs.Duration("client-backlog", txpool.DefaultBacklogWindow, "flow control for JSON-RPC clients: a sender's new transaction waits (about a second) while the pool holds more than the chain includes in this time (at least three block intervals) and its member holds its fair share of them (0: off)")
	maxConns := fs.Int("rpc-max-conns-per-ip", rpclimit.DefaultMaxConnsPerIP, "JSON-RPC connections (HTTP and WebSocket) one client address may hold open at once (an IPv6 client: a /64), 0 or less meaning 256; more get HTTP 503 (behind a reverse proxy every client has the proxy's address)")
	wsOrigins := fs.String("ws-origins", "", "comma-separated browser origins (scheme://host[:port], or *) allowed to open a WebSocket besides the RPC server's own")
	gcPercent := fs.Int("gc-percent", defaultGCPercent, "Go garbage collection target (as GOGC): the heap grows this many percent over live data between collections; higher spends memory to save CPU (default unless GOGC is set; -1 turns collection off)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required("datadir", *dataDir); err != nil {
		return err
	}
	if pct, ok := gcTarget(*gcPercent, flagSet(fs, "gc-percent"), os.Getenv("GOGC")); ok {
		debug.SetGCPercent(pct)
	}
	if err := required("key", *keyFile); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	key, err := crypto.LoadECDSA(*keyFile)
	if err != nil {
		return fmt.Errorf("load key %s: %w", *keyFile, err)
	}
	cfg := node.Config{DataDir: *dataDir, Key: key, RPCAddr: *rpcAddr, WSOrigins: splitList(*wsOrigins), Mine: *mine, Logger: log, NoP2P: *noP2P}
	cfg.ClientBacklog = *backlog
	cfg.RPCMaxConnsPerIP = *maxConns
	offset, err := clockOffset(os.Getenv(clockOffsetEnv))
	if err != nil {
		return err
	}
	if offset != 0 {
		cfg.Clock = func() time.Time { return time.Now().Add(offset) }
		log.Warn("protocol clock offset in effect (testing only)", "offset", offset)
	}
	if *p2pAddr != "" {
		cfg.P2PListen = []string{*p2pAddr}
	}
	cfg.Peers = splitList(*peers)
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(); err != nil {
		return err
	}
	if *pprofAddr != "" {
		stopProf, err := serveProfiler(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	head := n.Chain().CurrentBlock()
	log.Info("node started", "address", crypto.PubkeyToAddress(key.PublicKey), "head", head.NumberU64(), "hash", head.Hash(), "engine", n.Chain().Genesis().Engine)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *importFile != "" {
		go func() {
			imported, err := importBlocks(ctx, n.Chain(), *importFile, func(b *types.Block) {
				log.Info("imported block", "number", b.NumberU64(), "hash", b.Hash(), "txs", len(b.Transactions()))
			})
			if err != nil {
				log.Error("import stopped", "imported", imported, "err", err)
				return
			}
			log.Info("import done", "imported", imported, "head", n.Chain().CurrentBlock().NumberU64())
		}()
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// defaultGCPercent is a node's garbage collection target: under load a
// validator allocates fast (decoded transactions, trie nodes, gossip), and
// at Go's default of 100 collection took about 6% of its CPU. Twice the
// headroom halves how often the heap is marked, for about a quarter more
// peak memory (docs/decisions/0047-gc-target.md).
const defaultGCPercent = 200

// gcTarget picks the collection target a node sets: the flag's when given,
// else none when the environment's GOGC is set (the runtime read it),
// else the flag's default.
func gcTarget(flag int, given bool, env string) (int, bool) {
	if given || strings.TrimSpace(env) == "" {
		return flag, true
	}
	return 0, false
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// clockOffsetEnv names an environment variable, read once when a node
// starts and deliberately absent from the help, that shifts the node's
// protocol clock (block timestamps, the future-block check) by a duration
// such as "+3s" or "-20s". The fault-injection tests use it to run a node
// under clock skew: Go reads the clock without libc, so preloaded
// libraries that fake the time do not reach it.
const clockOffsetEnv = "ARBITER_CLOCK_OFFSET"

// errClockOffset is returned for an unreadable ARBITER_CLOCK_OFFSET.
var errClockOffset = errors.New(clockOffsetEnv + " is not a duration such as +3s or -20s")

// clockOffset parses the value of clockOffsetEnv; empty means no offset.
func clockOffset(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errClockOffset, v)
	}
	return d, nil
}

// importBlocks imports an RLP stream of blocks, skipping blocks already
// stored, and calls done after each block is committed.
func importBlocks(ctx context.Context, c *chain.Chain, file string, done func(*types.Block)) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	stream := rlp.NewStream(bufio.NewReaderSize(f, 1<<20), 0)
	certifier, _ := c.Engine().(consensus.Certifier)
	insert := func(b *types.Block, cert []byte) (bool, error) {
		var err error
		if certifier != nil {
			err = c.InsertCertified(b, cert)
		} else {
			err = c.InsertBlock(b)
		}
		if errors.Is(err, chain.ErrKnownBlock) {
			return false, nil
		} else if err != nil {
			return false, fmt.Errorf("block %d: %w", b.NumberU64(), err)
		}
		done(b)
		return true, nil
	}
	// Under a certifying engine a block is imported once the next one,
	// which carries its certificate, is read: the stream's last block
	// stays out (its certificate is not in the stream).
	var pending *types.Block
	n := 0
	for ctx.Err() == nil {
		b := new(types.Block)
		if err := stream.Decode(b); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("decode block %d of %s: %w", n, file, err)
		}
		target, cert := b, []byte(nil)
		if certifier != nil {
			target, pending = pending, b
			if target == nil {
				continue
			}
			cert = certifier.ParentCertificate(b.Header())
		}
		ok, err := insert(target, cert)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, ctx.Err()
}

// openChain opens a data directory's chain with a verify-only engine.
func openChain(dataDir string) (*chain.Chain, func(), error) {
	g, err := genesis.Load(filepath.Join(dataDir, node.GenesisFile))
	if err != nil {
		return nil, nil, err
	}
	db, err := openDB(dataDir)
	if err != nil {
		return nil, nil, err
	}
	c, err := node.OpenChain(db, g, nil, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); db.Close() }, nil
}

func runExport(args []string, stdout io.Writer) error {
	fs := newFlags("export")
	dataDir := fs.String("datadir", "", "data directory")
	out := fs.String("out", "", "file to write")
	from := fs.Uint64("from", 1, "first block")
	to := fs.Uint64("to", 0, "last block (default: head)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := errors.Join(required("datadir", *dataDir), required("out", *out)); err != nil {
		return err
	}
	c, closeDB, err := openChain(*dataDir)
	if err != nil {
		return err
	}
	defer closeDB()
	last := *to
	if last == 0 || last > c.CurrentBlock().NumberU64() {
		last = c.CurrentBlock().NumberU64()
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := *from; i <= last; i++ {
		b := c.GetBlockByNumber(i)
		if b == nil {
			f.Close()
			return fmt.Errorf("block %d missing", i)
		}
		if err := rlp.Encode(w, b); err != nil {
			f.Close()
			return err
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported blocks %d..%d to %s\n", *from, last, *out)
	return nil
}

func runVerify(args []string, stdout io.Writer) error {
	fs := newFlags("verify")
	dataDir := fs.String("datadir", "", "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required("datadir", *dataDir); err != nil {
		return err
	}
	c, closeDB, err := openChain(*dataDir)
	if err != nil {
		return err
	}
	defer closeDB()
	head := c.CurrentBlock()
	if err := c.VerifyHead(); err != nil {
		return fmt.Errorf("head %d %s: %w", head.NumberU64(), head.Hash(), err)
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"number": head.NumberU64(), "hash": head.Hash(), "root": head.Root(), "verified": true,
	})
}
