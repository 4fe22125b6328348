package node

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arbiter-chain/arbiter/internal/browsertest"
)

// TestConsoleInBrowser opens the operator console (GET /console) of each
// member of a four-validator proof-of-stake network in headless Chromium
// and checks what it shows: 4 active validators, 3 connected peers, and a
// head and final height that move on while the page is open (it refreshes
// by its eth_subscribe newHeads subscription, not by reloading). The first
// member's console is saved as console.png.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes and a browser")
	}
	b := browsertest.New(t)
	nodes, _ := startPosCluster(t, 4, nil)
	for i, nd := range nodes {
		t.Run(fmt.Sprintf("member%d", i+1), func(t *testing.T) {
			tab := b.Tab(t)
			browsertest.Do(t, tab, chromedp.Navigate("http://"+nd.RPCAddr().String()+"/console"))
			describe := `document.getElementById('overview').innerText.replace(/\n/g, ' ')`
			browsertest.WaitJS(t, tab, `document.getElementById('c-validators') && document.getElementById('c-validators').textContent === '4' && document.getElementById('c-peers').textContent === '3'`, browsertest.Timeout, describe)
			head0 := num(t, browsertest.Eval[string](t, tab, `document.getElementById('c-head').textContent`))
			final0 := num(t, browsertest.Eval[string](t, tab, `document.getElementById('c-final').textContent`))
			browsertest.WaitJS(t, tab, fmt.Sprintf(`Number(document.getElementById('c-head').textContent) >= %d && Number(document.getElementById('c-final').textContent) >= %d`, head0+2, final0+2), browsertest.Timeout, describe)
			rows := browsertest.Eval[int](t, tab, `document.querySelectorAll('#validators tr').length - 1`)
			if rows != 4 {
				t.Errorf("validators table: have %d rows, want 4", rows)
			}
			peers := browsertest.Eval[int](t, tab, `document.querySelectorAll('#peers tr').length - 1`)
			if peers != 3 {
				t.Errorf("peers table: have %d rows, want 3", peers)
			}
			if i == 0 {
				browsertest.WaitJS(t, tab, `document.querySelectorAll('#rounds tr').length > 3`, browsertest.Timeout, describe)
				browsertest.Screenshot(t, tab, "console.png")
			}
		})
	}
}

func num(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number on the page: %q", s)
	}
	return n
}
