package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// runDev writes a one-member proof-of-stake network into a fresh temporary
// directory and runs its node until interrupted: the quickest way to a
// working JSON-RPC endpoint.
func runDev(args []string, stdout io.Writer) error {
	fs := newFlags("dev")
	rpcAddr := fs.String("rpc", "127.0.0.1:8545", "JSON-RPC listen address")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "arbiter-dev-")
	if err != nil {
		return err
	}
	if err := runTestnet([]string{"--members", "1", "--engine", "pos", "--out", dir, "--block-time", time.Second.String()}, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "network written to %s; JSON-RPC on http://%s\n", dir, *rpcAddr)
	member := filepath.Join(dir, "member1")
	return runNode([]string{"--datadir", filepath.Join(member, "data"), "--key", filepath.Join(member, "key"), "--rpc", *rpcAddr}, stdout)
}
