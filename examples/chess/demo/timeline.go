package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
)

// timeline collects the lines of one scenario so concurrent scenarios print
// as readable blocks.
type timeline struct {
	mu    sync.Mutex
	title string
	lines []string
}

func (t *timeline) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

// offchain records a move exchanged through the bridge.
func (t *timeline) offchain(ply uint32, move, signer string) {
	t.add("  ply %-3d %-6s signed by %-5s  off-chain (bridge)", ply, move, signer)
}

// onchain records a transaction and where it landed.
func (t *timeline) onchain(what, who string, r *types.Receipt) {
	status := "ok"
	if r.Status != types.ReceiptStatusSuccessful {
		status = "REVERTED"
	}
	t.add("  %-32s by %-5s on-chain  block %-4d tx %s  gas %d  %s", what, who, r.BlockNumber.Uint64(), r.TxHash.Hex()[:18]+"…", r.GasUsed, status)
}

func (t *timeline) write(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "\n== %s\n%s\n", t.title, strings.Join(t.lines, "\n"))
}
