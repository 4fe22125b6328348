package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
)

// The process-test helpers every multi-process test of this package
// uses: building a binary, finding free ports, waiting for a starting
// process and stopping one. The process types (arbProc in procs_test.go,
// posNode in posprocs_test.go, bridgeProc in bridge_test.go,
// lambdaFunction in lambda_test.go) differ in what they record of a
// process's log; they share these.

// buildCommand compiles the main package in dir (relative to this one)
// into a fresh temporary directory and returns the binary's path.
func buildCommand(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v", dir, err)
	}
	return bin
}

// buildBinary compiles the arbiter command for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	return buildCommand(t, ".", "arbiter")
}

// portsFree reports whether the n loopback ports from first on can be
// listened on now.
func portsFree(first, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for p := first; p < first+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

// freeBasePort returns a random base port in 40000-60000 such that
// base+1..base+n are free on the loopback at the time of the call.
func freeBasePort(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 40000 + rand.IntN(20000-n-1)
		if portsFree(base+1, n) {
			return base
		}
	}
	t.Fatalf("no %d free consecutive ports found", n)
	return 0
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls ready every interval until it reports true; it fails
// the test if exited is closed first (the process died while starting)
// or the timeout passes. A nil exited is never closed.
func waitReady(t *testing.T, what string, timeout, interval time.Duration, exited <-chan struct{}, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s: exited during start-up", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready within %v", what, timeout)
		}
		time.Sleep(interval) // polling a starting process
	}
}

// stopProcess sends sig to p and waits up to grace for exited to close;
// then, if kill, it kills p and waits for exited. It reports whether the
// process exited on sig alone.
func stopProcess(p *os.Process, exited <-chan struct{}, sig syscall.Signal, grace time.Duration, kill bool) bool {
	_ = p.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(grace):
	}
	if kill {
		_ = p.Kill()
		<-exited
	}
	return false
}

// writeChainFiles writes gen's genesis and its blocks (RLP, one after the
// other) into dir and returns the two files' paths.
func writeChainFiles(t *testing.T, dir string, gen generated) (genFile, chainFile string) {
	t.Helper()
	genFile = filepath.Join(dir, "genesis.json")
	if err := gen.gen.Write(genFile); err != nil {
		t.Fatal(err)
	}
	chainFile = filepath.Join(dir, "blocks.rlp")
	f, err := os.Create(chainFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range gen.blocks {
		if err := rlp.Encode(f, b); err != nil {
			f.Close()
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return genFile, chainFile
}
