package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the whole demo: four proof-of-stake members over libp2p on
// loopback, the bridge and watchtower, six games. Run returns an error if
// any scenario's outcome or the final balances differ from the expected.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a four-member network")
	}
	var out bytes.Buffer
	start := time.Now()
	dir := t.TempDir()
	err := Run(context.Background(), Options{Out: &out, Dir: dir, Timeout: 90 * time.Second})
	t.Log(out.String())
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(dir, "demo.log")); rerr == nil {
			lines := strings.Split(string(log), "\n")
			t.Logf("last lines of the network's log:\n%s", strings.Join(lines[max(0, len(lines)-150):], "\n"))
		}
		t.Fatalf("demo: %v", err)
	}
	if !strings.Contains(out.String(), "6 of 6 scenarios ended as expected") {
		t.Fatalf("summary line missing")
	}
	// Measured, not asserted: the time depends on the machine's load.
	t.Logf("demo took %v", time.Since(start))
}
