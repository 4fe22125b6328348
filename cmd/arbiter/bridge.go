package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storeurl"
	"github.com/arbiter-chain/arbiter/offchain/lease"
	"github.com/arbiter-chain/arbiter/offchain/watcher"
)

// watcherDir is where the watcher's database lives under the bridge's
// data directory.
const watcherDir = "watcher"

// shutdownGrace bounds how long in-flight HTTP requests may finish after
// SIGINT or SIGTERM.
const shutdownGrace = 5 * time.Second

// defaultStoreTimeout bounds how long the bridge tries to reach its store
// at start before refusing to start.
const defaultStoreTimeout = 30 * time.Second

// runBridge serves the chess bridge over HTTP with its store (--store, or
// badger in --datadir) and, with --watch, runs the watcher and watchtower
// in the same process, until SIGINT or SIGTERM.
func runBridge(args []string, stdout io.Writer) error {
	fs := newFlags("bridge")
	nodeURL := fs.String("node", "http://127.0.0.1:8545", "node JSON-RPC endpoint (http, ws or ipc)")
	listen := fs.String("listen", "127.0.0.1:8600", "HTTP listen address: the chess page at /, POST /rpc, GET /ws, /healthz, /metrics")
	dataDir := fs.String("datadir", "", "directory of the bridge's badger store when --store is not given; the watcher's database goes in DIR/"+watcherDir)
	storeURL := fs.String("store", "", "the bridge's store: badger:DIR, memory:, postgres://USER@HOST/DB or dynamodb://TABLE?region=R&endpoint=URL (default badger:DATADIR)")
	storeTimeout := fs.Duration("store-timeout", defaultStoreTimeout, "how long to try reaching the store at start before refusing to start")
	keyFile := fs.String("key", "", "watchtower key file (hex secp256k1) of a member or allowed account")
	watch := fs.Bool("watch", false, "run the watcher and watchtower (needs --key); with a postgres:// store, only the instance holding the fleet's watchtower lease runs them, its checkpoint in the same database")
	confirmations := fs.Uint64("confirmations", 0, "blocks the watcher stays behind the head: 0 with BFT finality, a few with PoW")
	poll := fs.Duration("poll", watcher.DefaultPollInterval, "how often the watcher asks the node for its head")
	wsOrigins := fs.String("ws-origins", "", "comma-separated browser origins (scheme://host[:port], or *) allowed to open a WebSocket besides the bridge's own")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *storeURL == "" {
		if err := required("datadir", *dataDir); err != nil {
			return fmt.Errorf("%w (or give --store)", err)
		}
		*storeURL = "badger:" + *dataDir
	}
	towerDir, leased := "", isPostgres(*storeURL)
	if *watch {
		if err := required("key", *keyFile); err != nil {
			return fmt.Errorf("--watch: %w", err)
		}
		if towerDir = watcherDataDir(*dataDir, *storeURL); towerDir == "" && !leased {
			return errors.New("--watch: --datadir is required for the watcher's database")
		}
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	octx, cancelOpen := context.WithTimeout(ctx, *storeTimeout)
	store, err := storeurl.Open(octx, *storeURL)
	cancelOpen()
	if err != nil {
		return fmt.Errorf("bridge refuses to start without its store: %w", err)
	}
	defer store.Close()
	arb, err := bridge.DialArbiter(ctx, *nodeURL, chesscontract.Address)
	if err != nil {
		return err
	}
	defer arb.Close()
	reg := prometheus.NewRegistry()
	b, err := bridge.New(bridge.Config{Arbiter: chesscontract.Address, WSOrigins: splitList(*wsOrigins), Registerer: reg, Gatherer: reg, Logger: log}, store, arb)
	if err != nil {
		return err
	}
	defer b.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	// The chess page reads the chain and sends its transactions through
	// the bridge (POST /node), so it needs no access to the node itself.
	pageNode, err := gethrpc.DialContext(ctx, *nodeURL)
	if err != nil {
		return err
	}
	defer pageNode.Close()
	srv := b.PageServer(bridge.PageConfig{Node: pageNode})
	// Shutdown waits for requests in flight but not for WebSocket
	// connections, which it cannot see: end them (and their
	// subscriptions) as it starts.
	srv.RegisterOnShutdown(b.Close)
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(b.Listener(ln)); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("bridge server: %w", err)
		}
	}()
	addr := ln.Addr().String()
	if err := selfCheck(ctx, addr); err != nil {
		srv.Close()
		return err
	}
	log.Info("bridge listening", "addr", addr, "node", *nodeURL, "store", storeurl.Redact(*storeURL), "watch", *watch)

	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	watching := make(chan struct{})
	if !*watch {
		close(watching)
	} else {
		opts := watcherOptions{
			dir: towerDir, nodeURL: *nodeURL, keyFile: *keyFile,
			confirmations: *confirmations, poll: *poll, reg: reg, log: log, store: store,
		}
		if leased {
			opts.pgURL = *storeURL
		}
		db, err := startWatcher(wctx, opts, errc, watching)
		if err != nil {
			srv.Close()
			return err
		}
		defer db.Close()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("bridge stopping", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err = srv.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		// Requests still running after the grace period are cut off, as
		// an operator stopping the bridge asked; that is no failure.
		log.Warn("requests still running after the shutdown grace period: closing them", "grace", shutdownGrace)
		err = srv.Close()
	}
	cancelWatch()
	<-watching
	return errors.Join(runErr, err)
}

// watcherDataDir returns where the watcher's database lives: under
// --datadir, else under the directory of a badger store, else nowhere
// ("").
func watcherDataDir(dataDir, storeURL string) string {
	if dataDir != "" {
		return filepath.Join(dataDir, watcherDir)
	}
	if dir, ok := strings.CutPrefix(storeURL, "badger:"); ok && dir != "" {
		return filepath.Join(dir, watcherDir)
	}
	return ""
}

// isPostgres reports whether storeURL names a PostgreSQL store, whose
// fleet shares one watchtower through a lease.
func isPostgres(storeURL string) bool {
	return strings.HasPrefix(storeURL, "postgres://") || strings.HasPrefix(storeURL, "postgresql://")
}

// watcherOptions configure the watcher of runBridge.
type watcherOptions struct {
	dir, nodeURL, keyFile string
	// pgURL, when set, is the PostgreSQL database of the bridge's store:
	// the watcher keeps its tables there and runs only while this
	// instance holds the watchtower lease.
	pgURL         string
	confirmations uint64
	poll          time.Duration
	reg           prometheus.Registerer
	log           *slog.Logger
	store         watcher.StateSource
}

// startWatcher opens the watcher's database and runs the watcher until ctx
// is done (with a PostgreSQL store, only while this instance holds the
// watchtower lease); a watcher that stops on its own sends its error to
// errc. done is closed once it has returned. The database is the caller's
// to close after done.
func startWatcher(ctx context.Context, o watcherOptions, errc chan<- error, done chan<- struct{}) (watcher.Store, error) {
	key, err := crypto.LoadECDSA(o.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", o.keyFile, err)
	}
	client, err := ethclient.DialContext(ctx, o.nodeURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", o.nodeURL, err)
	}
	var (
		db  watcher.Store
		lse *lease.Lease
	)
	if o.pgURL != "" {
		lse, err = lease.New(lease.Config{URL: o.pgURL, Name: "watchtower", Logger: o.log, Registerer: o.reg})
		if err == nil {
			db, err = watcher.OpenPostgres(ctx, o.pgURL, lse.Guard)
		}
	} else {
		db, err = watcher.Open(o.dir)
	}
	if err != nil {
		client.Close()
		return nil, err
	}
	w, err := watcher.New(watcher.Config{
		Arbiter: chesscontract.Address, Confirmations: o.confirmations, PollInterval: o.poll,
		Key: key, Registerer: o.reg, Logger: o.log,
	}, db, client, o.store, watcher.LogNotifier{Logger: o.log})
	if err != nil {
		client.Close()
		db.Close()
		return nil, err
	}
	cp, err := w.Checkpoint()
	if err != nil {
		client.Close()
		db.Close()
		return nil, err
	}
	o.log.Info("watcher starting", "block", cp.Block, "index", cp.Index, "tower", crypto.PubkeyToAddress(key.PublicKey), "confirmations", o.confirmations)
	run := w.Run
	if lse != nil {
		// Followers wait here; the leader's watcher is cancelled the
		// moment the lease may be lost, and a successor resumes from the
		// checkpoint in the shared database.
		run = func(ctx context.Context) error { return lse.Run(ctx, w.Run) }
	}
	go func() {
		defer close(done)
		defer client.Close()
		if err := run(ctx); !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("watcher: %w", err)
		}
	}()
	return db, nil
}

// selfCheck asks the server just started on addr for /healthz, so that
// "bridge listening" is logged only once requests are answered.
func selfCheck(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bridge self-check: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bridge self-check: GET /healthz: %s", resp.Status)
	}
	return nil
}
