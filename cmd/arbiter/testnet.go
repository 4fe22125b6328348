package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

// Testnet defaults: loopback p2p ports start at basePort+1 for member 1.
const (
	testnetBasePort = 30300
	maxMembers      = 64
)

func openDB(dataDir string) (*store.DB, error) {
	return store.Open(filepath.Join(dataDir, node.ChainDir))
}

func runTestnet(args []string, stdout io.Writer) error {
	fs := newFlags("testnet")
	members := fs.Int("members", 4, "number of members")
	engine := fs.String("engine", genesis.EnginePoW, "consensus engine: pow or pos")
	out := fs.String("out", "", "directory to write the network to")
	basePort := fs.Int("base-port", testnetBasePort, "member i listens for p2p on base-port+i")
	blockTime := fs.Duration("block-time", time.Second, "target block time")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required("out", *out); err != nil {
		return err
	}
	if *members < 1 || *members > maxMembers {
		return fmt.Errorf("--members must be between 1 and %d", maxMembers)
	}
	if *basePort < 1024 || *basePort+*members > 65535 {
		return fmt.Errorf("--base-port %d out of range", *basePort)
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", *out)
	}
	g, keys, err := node.TestnetGenesis(*members, *engine, *basePort, *blockTime)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := g.Write(filepath.Join(*out, node.GenesisFile)); err != nil {
		return err
	}
	for i, key := range keys {
		dir := filepath.Join(*out, fmt.Sprintf("member%d", i+1))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := crypto.SaveECDSA(filepath.Join(dir, "key"), key); err != nil {
			return err
		}
		if _, err := node.Init(filepath.Join(dir, "data"), g); err != nil {
			return fmt.Errorf("member %d: %w", i+1, err)
		}
		fmt.Fprintf(stdout, "member%d %s %s\n", i+1, crypto.PubkeyToAddress(key.PublicKey).Hex(), g.Members[i].Multiaddr)
	}
	return nil
}
