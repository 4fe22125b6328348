package bridge_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
)

// crashGames is the number of games the crash child appends to at once,
// so its appends share group commits.
const crashGames = 8

// crashChildEnv names the store directory of the crash child process.
const crashChildEnv = "ARBITER_BRIDGE_CRASH_DIR"

// TestBadgerCrashChild is the child of TestBadgerCrashAppend: it appends
// to crashGames games at once, forever, and prints "game ply" for each
// Append that has returned. It does nothing unless started by the parent.
func TestBadgerCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child of TestBadgerCrashAppend")
	}
	s, err := bridge.OpenBadger(dir)
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	ctx := context.Background()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range crashGames {
		id := storetest.GameID(fmt.Sprintf("crash %d", g))
		if _, err := s.CreateGame(ctx, storetest.Game(id)); err != nil {
			t.Fatalf("CreateGame: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ply := uint32(1); ; ply++ {
				if err := s.Append(ctx, storetest.State(id, ply, 0)); err != nil {
					t.Errorf("Append(%d, %d): %v", g, ply, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %d\n", g, ply)
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestBadgerCrashAppend kills a process appending to the on-disk store
// with SIGKILL while its appends share group commits, then reopens the
// store: every Append the process saw return must be there, in full, and
// each game's states must run from ply 1 to its head without a gap.
func TestBadgerCrashAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	const kills, linesPerRun = 3, 400
	reported := make([]uint32, crashGames)
	for run := range kills {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestBadgerCrashChild$", "-test.count", "1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		lines := 0
		for lines < linesPerRun && sc.Scan() {
			g, ply, ok := parseCrashLine(sc.Text())
			if !ok {
				continue // the test framework's own output
			}
			reported[g] = max(reported[g], ply)
			lines++
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		for sc.Scan() { // returned before the kill, read after it
			if g, ply, ok := parseCrashLine(sc.Text()); ok {
				reported[g] = max(reported[g], ply)
			}
		}
		_ = cmd.Wait()
		if lines < linesPerRun {
			t.Fatalf("run %d: child stopped after %d appends", run, lines)
		}

		s, err := bridge.OpenBadger(dir)
		if err != nil {
			t.Fatalf("run %d: reopen: have %v, want nil", run, err)
		}
		for g := range crashGames {
			id := storetest.GameID(fmt.Sprintf("crash %d", g))
			head, ok, err := s.Head(ctx, id)
			if err != nil || !ok || head.Ply() < reported[g] {
				t.Fatalf("run %d, game %d: head %d, %v, %v; want at least ply %d", run, g, head.Ply(), ok, err, reported[g])
			}
			states, err := s.States(ctx, id, 1, int(head.Ply())+1)
			if err != nil || len(states) != int(head.Ply()) {
				t.Fatalf("run %d, game %d: have %d states, %v; want %d", run, g, len(states), err, head.Ply())
			}
			for i, rec := range states {
				if want := storetest.State(id, uint32(i+1), 0); !storetest.SameRecord(rec, want) {
					t.Fatalf("run %d, game %d: ply %d reads back differently", run, g, i+1)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		// The child starts its games at ply 1: give each run a fresh store.
		dir = t.TempDir()
		clear(reported)
	}
}

// parseCrashLine reads a "game ply" line of the crash child.
func parseCrashLine(line string) (int, uint32, bool) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return 0, 0, false
	}
	g, err1 := strconv.Atoi(f[0])
	ply, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil || g < 0 || g >= crashGames {
		return 0, 0, false
	}
	return g, uint32(ply), true
}
