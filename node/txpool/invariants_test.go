package txpool

import (
	"testing"

	"github.com/holiman/uint256"
)

// checkPool recounts everything the pool keeps incrementally (totals per
// class, per sponsor and per account, the rankings, the executable
// prefixes) and fails the test on any difference.
func checkPool(t testing.TB, p *Pool) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()

	var held [classes]usage
	spHeld := map[*sponsor][classes]usage{}
	n := 0
	for addr, acc := range p.accounts {
		if acc.addr != addr {
			t.Fatalf("account %s filed under %s", acc.addr, addr)
		}
		if len(acc.txs) == 0 {
			t.Fatalf("account %s is empty", addr)
		}
		if p.sponsors[acc.sponsor.addr] != acc.sponsor {
			t.Fatalf("account %s: sponsor %s not the pool's", addr, acc.sponsor.addr)
		}
		if have, want := acc.sponsor.addr, sponsorOf(p.state, addr); have != want {
			t.Fatalf("account %s: sponsor have %s, want %s", addr, have, want)
		}
		var sum, execSum uint64
		spent := new(uint256.Int)
		exec := 0
		for i, e := range acc.txs {
			if p.all[e.hash] != e {
				t.Fatalf("account %s: tx %d not in the pool's index", addr, i)
			}
			if i > 0 && e.tx.Nonce() <= acc.txs[i-1].tx.Nonce() {
				t.Fatalf("account %s: nonces out of order at %d", addr, i)
			}
			if e.tx.Nonce() < acc.nonce {
				t.Fatalf("account %s: stale nonce %d below %d", addr, e.tx.Nonce(), acc.nonce)
			}
			if exec == i && e.tx.Nonce() == acc.nonce+uint64(i) {
				exec++
				execSum += e.size
			}
			sum += e.size
			spent.Add(spent, e.cost)
		}
		if acc.exec != exec || acc.execBytes != execSum || acc.bytes != sum || !acc.spent.Eq(spent) {
			t.Fatalf("account %s: have exec %d/%dB, %dB, spent %v; want %d/%dB, %dB, %v",
				addr, acc.exec, acc.execBytes, acc.bytes, acc.spent, exec, execSum, sum, spent)
		}
		h := spHeld[acc.sponsor]
		for c := range classes {
			held[c] = held[c].add(acc.held(c))
			h[c] = h[c].add(acc.held(c))
			r := &acc.sponsor.ranks[c]
			switch i := acc.pos[c]; {
			case acc.held(c).txs == 0 && i != -1:
				t.Fatalf("account %s: ranked in class %d holding nothing", addr, c)
			case acc.held(c).txs > 0 && (i < 0 || i >= len(r.accs) || r.accs[i] != acc):
				t.Fatalf("account %s: not at its place %d in class %d", addr, i, c)
			}
		}
		spHeld[acc.sponsor] = h
		n += len(acc.txs)
	}
	if n != len(p.all) {
		t.Fatalf("accounts hold %d txs, index %d", n, len(p.all))
	}
	if held != p.held {
		t.Fatalf("pool holds %v, accounts %v", p.held, held)
	}
	var holders [classes]int
	for addr, sp := range p.sponsors {
		if sp.addr != addr {
			t.Fatalf("sponsor %s filed under %s", sp.addr, addr)
		}
		if sp.held != spHeld[sp] {
			t.Fatalf("sponsor %s: holds %v, its accounts %v", addr, sp.held, spHeld[sp])
		}
		if sp.held == ([classes]usage{}) {
			t.Fatalf("sponsor %s holds nothing", addr)
		}
		for c := range classes {
			if sp.held[c].txs > 0 {
				holders[c]++
			}
			r := &sp.ranks[c]
			for i := 1; i < len(r.accs); i++ {
				if r.Less(i, (i-1)/2) {
					t.Fatalf("sponsor %s: ranking %d out of heap order at %d", addr, c, i)
				}
			}
		}
	}
	if holders != p.holders {
		t.Fatalf("holders have %v, want %v", p.holders, holders)
	}
	if p.bytes() > p.cfg.MaxBytes || len(p.all) > p.cfg.MaxTxs {
		t.Fatalf("pool over its limits: %d txs, %d bytes", len(p.all), p.bytes())
	}
	if p.held[future].txs > p.cfg.MaxFutureTxs || p.held[future].bytes > p.cfg.MaxFutureBytes {
		t.Fatalf("non-executable part over its limits: %v", p.held[future])
	}
}
