package txpool

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/rules"
)

func TestSenderLimits(t *testing.T) {
	e := newEnv(t, 0)
	data := func(nonce uint64, n int, price int64) *types.Transaction {
		return sign(t, e.alice, legacy(nonce, price, func(tx *types.LegacyTx) {
			tx.Data, tx.Gas = make([]byte, n), 21000+4*uint64(n)
		}))
	}
	two := data(0, 1000, 1).Size() + data(1, 1000, 1).Size()

	tests := []struct {
		name string
		cfg  Config
		pre  []*types.Transaction
		tx   *types.Transaction
		want []error // all must match
	}{
		{name: "sender bytes", cfg: Config{MaxSenderBytes: two + 10}, pre: []*types.Transaction{data(0, 1000, 1), data(1, 1000, 1)},
			tx: data(2, 1000, 1), want: []error{ErrSenderBytes, ErrSenderLimit}},
		{name: "sender bytes fit", cfg: Config{MaxSenderBytes: two + 200}, pre: []*types.Transaction{data(0, 1000, 1), data(1, 1000, 1)},
			tx: sign(t, e.alice, legacy(2, 1))},
		{name: "sender bytes leave others", cfg: Config{MaxSenderBytes: two + 10}, pre: []*types.Transaction{data(0, 1000, 1), data(1, 1000, 1)},
			tx: sign(t, e.bob, legacy(0, 1))},
		{name: "replacement over sender bytes", cfg: Config{MaxSenderBytes: two + 10}, pre: []*types.Transaction{data(0, 1000, 1), data(1, 1000, 1)},
			tx: data(1, 1100, 2), want: []error{ErrSenderBytes, ErrSenderLimit}},
		{name: "non-executable per sender", cfg: Config{MaxFuturePerSender: 2},
			pre: []*types.Transaction{sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1))},
			tx:  sign(t, e.alice, legacy(5, 1)), want: []error{ErrFutureLimit, ErrSenderLimit}},
		{name: "non-executable limit spares the executable", cfg: Config{MaxFuturePerSender: 2},
			pre: []*types.Transaction{sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1))},
			tx:  sign(t, e.alice, legacy(0, 1))},
		{name: "non-executable limit spares replacements", cfg: Config{MaxFuturePerSender: 2},
			pre: []*types.Transaction{sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1))},
			tx:  sign(t, e.alice, legacy(3, 2))},
		{name: "stale nonce is not non-executable", cfg: Config{MaxFuturePerSender: 2},
			pre: []*types.Transaction{sign(t, e.carol, legacy(5, 1)), sign(t, e.carol, legacy(6, 1))},
			tx:  sign(t, e.carol, legacy(2, 1)), want: []error{rules.ErrNonceTooLow}},
		{name: "gas above the block limit", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) { tx.Gas = testGasLimit + 1 })),
			want: []error{rules.ErrGasLimit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.pool(tt.cfg)
			mustAdd(t, p, tt.pre...)
			err := p.Add(tt.tx)
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("have %v, want nil", err)
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("have %v, want %v", err, want)
				}
			}
			for i, pre := range tt.pre {
				replaced := err == nil && pre.Nonce() == tt.tx.Nonce() && mustSender(t, pre) == mustSender(t, tt.tx)
				if have := p.Has(pre.Hash()); have == replaced {
					t.Errorf("pre %d pooled: have %v, want %v", i, have, !replaced)
				}
			}
			checkPool(t, p)
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSponsorShare fills a pool from the accounts one member vouches for,
// then lets other members in: each gets its fair share by evicting the
// flooder's transactions, vouched accounts count in their voucher's share,
// and nobody gets beyond a fair share.
func TestSponsorShare(t *testing.T) {
	e := newEnv(t, 0)
	keys := e.sybils(t, 9) // mallory and nine vouched accounts
	p := e.pool(Config{MaxTxs: 30})

	var honest []*types.Transaction
	send := func(key *ecdsa.PrivateKey) error {
		tx := sign(t, key, legacy(p.PendingNonce(addrOf(key)), 0))
		err := p.Add(tx)
		if err == nil && !slices.Contains(keys, key) {
			honest = append(honest, tx)
		}
		return err
	}
	steps := []struct {
		name  string
		key   *ecdsa.PrivateKey
		times int
		want  error // of the last one; the others must succeed
	}{
		{"mallory's accounts fill the pool", nil, 30, nil},
		{"mallory may not exceed the pool", keys[1], 1, ErrSponsorShare},
		{"alice takes her part", e.alice, 8, nil},
		{"bob takes his share", e.bob, 10, nil},
		{"bob is at his share", e.bob, 1, ErrSponsorShare},
		{"dave shares alice's part", e.dave, 2, nil},
		{"alice's part is full", e.dave, 1, ErrSponsorShare},
		{"mallory is at her share", keys[2], 1, ErrSponsorShare},
	}
	for _, s := range steps {
		for i := 0; i < s.times; i++ {
			key := s.key
			if key == nil {
				key = keys[i%len(keys)]
			}
			err := send(key)
			want := error(nil)
			if i == s.times-1 {
				want = s.want
			}
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Fatalf("%s, tx %d: have %v, want %v", s.name, i, err, want)
			}
		}
		checkPool(t, p)
	}
	pooled(t, p, "honest tx", honest...)
	if exec, fut := p.Stats(); exec != 30 || fut != 0 {
		t.Errorf("Stats: have %v/%v, want 30/0 (evictions left no gap)", exec, fut)
	}
	if evicted, _ := p.Dropped(); evicted != 20 {
		t.Errorf("evicted: have %v, want 20", evicted)
	}
}

// TestEvictionOrder fills a pool with non-executable transactions of two
// of mallory's accounts and of bob, and executable ones of alice, then lets
// carol's executable ones in: the non-executable ones go first, the sponsor
// holding the most first, within it the account holding the most, highest
// nonce first; only then does the fair-share rule decide between
// executable ones.
func TestEvictionOrder(t *testing.T) {
	e := newEnv(t, 0)
	keys := e.sybils(t, 2)
	s1, s2 := keys[1], keys[2]
	p := e.pool(Config{MaxTxs: 12, MaxFutureTxs: 12})

	txs := map[string]*types.Transaction{}
	add := func(name string, key *ecdsa.PrivateKey, nonces ...uint64) {
		for _, n := range nonces {
			tx := sign(t, key, legacy(n, 0))
			mustAdd(t, p, tx)
			txs[name+string(rune('0'+n))] = tx
		}
	}
	add("s1/", s1, 2, 3, 4, 5, 6)
	add("s2/", s2, 1, 2)
	add("bob/", e.bob, 7)
	add("alice/", e.alice, 0, 1, 2, 3)
	checkPool(t, p)

	// Ties, first between s1 and s2, then between mallory and bob, go to
	// the lower address.
	lower := func(a, b *ecdsa.PrivateKey) bool { return bytes.Compare(addrOf(a).Bytes(), addrOf(b).Bytes()) < 0 }
	first, second := "s1/", "s2/"
	if lower(s2, s1) {
		first, second = second, first
	}
	lastOf := map[string]string{"s1/": "3", "s2/": "2"}
	firstOf := map[string]string{"s1/": "2", "s2/": "1"}
	wantEvicted := []string{"s1/6", "s1/5", "s1/4", first + lastOf[first], second + lastOf[second], first + firstOf[first]}
	if lower(keys[0], e.bob) {
		wantEvicted = append(wantEvicted, second+firstOf[second], "bob/7")
	} else {
		wantEvicted = append(wantEvicted, "bob/7", second+firstOf[second])
	}

	gone := map[string]bool{}
	for i, want := range wantEvicted {
		tx := sign(t, e.carol, legacy(3+uint64(i), 0))
		if err := p.Add(tx); err != nil {
			t.Fatalf("carol's tx %d: have %v, want nil", i, err)
		}
		gone[want] = true
		for name, tx := range txs {
			if have := p.Has(tx.Hash()); have == gone[name] {
				t.Fatalf("after carol's tx %d: %s pooled %v, want %v", i, name, have, !gone[name])
			}
		}
		checkPool(t, p)
	}

	// No non-executable tx is left: carol (8) is above her fair share of
	// 12 between two sponsors, alice (4) below it.
	if err := p.Add(sign(t, e.carol, legacy(11, 0))); !errors.Is(err, ErrSponsorShare) {
		t.Fatalf("carol above her share: have %v, want %v", err, ErrSponsorShare)
	}
	carolLast := sign(t, e.carol, legacy(10, 0))
	if !p.Has(carolLast.Hash()) {
		t.Fatalf("carol's highest nonce not pooled")
	}
	mustAdd(t, p, sign(t, e.alice, legacy(4, 0)))
	if p.Has(carolLast.Hash()) {
		t.Errorf("alice below her share: carol's highest nonce still pooled, want it evicted")
	}
	pooled(t, p, "alice's tx", txs["alice/0"], txs["alice/1"], txs["alice/2"], txs["alice/3"])
	checkPool(t, p)
}

func TestMakeRoom(t *testing.T) {
	e := newEnv(t, 0)
	threeFut := []*types.Transaction{sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1))}
	withBobsFut := []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)),
		sign(t, e.alice, legacy(2, 1)), sign(t, e.bob, legacy(1, 1))}
	withAlicesFut := []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(2, 1)),
		sign(t, e.bob, legacy(0, 1)), sign(t, e.bob, legacy(1, 1))}
	grown := func(nonce uint64) *types.Transaction {
		return sign(t, e.alice, legacy(nonce, 2, func(tx *types.LegacyTx) { tx.Data, tx.Gas = make([]byte, 60), 30_000 }))
	}
	tests := []struct {
		name    string
		cfg     Config
		pre     []*types.Transaction
		tx      *types.Transaction
		want    error
		evicted []int // indexes into pre
	}{
		{
			name: "below fair share evicts the largest holder's highest nonce",
			cfg:  Config{MaxFutureTxs: 5},
			pre: []*types.Transaction{sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1)),
				sign(t, e.bob, legacy(1, 1)), sign(t, e.bob, legacy(2, 1))},
			tx:      sign(t, e.carol, legacy(5, 1)),
			evicted: []int{2},
		},
		{
			name: "at fair share refused",
			cfg:  Config{MaxFutureTxs: 5},
			pre: []*types.Transaction{sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1)),
				sign(t, e.bob, legacy(1, 1)), sign(t, e.bob, legacy(2, 1)), sign(t, e.carol, legacy(5, 1))},
			tx:   sign(t, e.carol, legacy(6, 1)),
			want: ErrFutureFull,
		},
		{
			name: "vouched account counts in its voucher's share",
			cfg:  Config{MaxFutureTxs: 4},
			pre: []*types.Transaction{sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1)),
				sign(t, e.bob, legacy(1, 1)), sign(t, e.bob, legacy(2, 1))},
			tx:   sign(t, e.dave, legacy(1, 1)),
			want: ErrFutureFull,
		},
		{
			name: "bytes of the share",
			cfg:  Config{MaxFutureBytes: sizes(threeFut)},
			pre:  threeFut,
			tx:   sign(t, e.alice, legacy(4, 1)),
			want: ErrFutureFull,
		},
		{
			name: "never evicts an executable tx",
			cfg:  Config{MaxTxs: 4},
			pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)),
				sign(t, e.alice, legacy(2, 1)), sign(t, e.alice, legacy(3, 1))},
			tx:   sign(t, e.bob, legacy(1, 1)),
			want: ErrPoolFull,
		},
		{
			name: "executable evicts before the share is full",
			cfg:  Config{MaxTxs: 4},
			pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)),
				sign(t, e.alice, legacy(2, 1)), sign(t, e.bob, legacy(1, 1))},
			tx:      sign(t, e.alice, legacy(3, 1)),
			evicted: []int{3},
		},
		{
			name: "sender's own non-executable txs stay",
			cfg:  Config{MaxTxs: 4},
			pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(2, 1)),
				sign(t, e.bob, legacy(0, 1)), sign(t, e.bob, legacy(1, 1))},
			tx:   sign(t, e.alice, legacy(1, 1)), // alice would hold 3 of 4 with two sponsors
			want: ErrSponsorShare,
		},
		{
			name:    "grown replacement evicts a non-executable tx",
			cfg:     Config{MaxBytes: sizes(withBobsFut)},
			pre:     withBobsFut,
			tx:      grown(1),
			evicted: []int{1, 3}, // 1 is replaced
		},
		{
			name: "grown replacement keeps the sender's own",
			cfg:  Config{MaxBytes: sizes(withAlicesFut)},
			pre:  withAlicesFut,
			tx:   grown(0),
			want: ErrSponsorShare,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.pool(tt.cfg)
			mustAdd(t, p, tt.pre...)
			err := p.Add(tt.tx)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			for i, tx := range tt.pre {
				want := !slices.Contains(tt.evicted, i)
				if have := p.Has(tx.Hash()); have != want {
					t.Errorf("pre %d pooled: have %v, want %v", i, have, want)
				}
			}
			checkPool(t, p)
		})
	}
}

func sizes(txs []*types.Transaction) uint64 {
	var n uint64
	for _, tx := range txs {
		n += tx.Size()
	}
	return n
}

func TestReplaceLimit(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	value := func(v int64) func(*types.LegacyTx) { return func(tx *types.LegacyTx) { tx.Value = big.NewInt(v) } }
	steps := []struct {
		name  string
		reset bool // move to a new head first
		tx    *types.Transaction
		want  error
	}{
		{name: "pooled at price 0", tx: sign(t, e.alice, legacy(0, 0))},
		{name: "first replacement without a rise", tx: sign(t, e.alice, legacy(0, 0, value(1)))},
		{name: "second replacement without a rise", tx: sign(t, e.alice, legacy(0, 0, value(2))), want: ErrReplaceLimit},
		{name: "other nonce has its own", tx: sign(t, e.alice, legacy(1, 0))},
		{name: "other nonce replaced", tx: sign(t, e.alice, legacy(1, 0, value(1)))},
		{name: "rise always allowed", tx: sign(t, e.alice, legacy(0, 1))},
		{name: "one more without a rise after a rise", tx: sign(t, e.alice, legacy(0, 1, value(1)))},
		{name: "bump of a small price is no rise", tx: sign(t, e.alice, legacy(0, 1, value(2))), want: ErrReplaceLimit},
		{name: "dynamic fee without a tip rise", tx: sign(t, e.alice, dynamic(0, 1, 5)), want: ErrReplaceLimit},
		{name: "next head allows one again", reset: true, tx: sign(t, e.alice, legacy(0, 1, value(3)))},
		{name: "and only one", tx: sign(t, e.alice, legacy(0, 1, value(4))), want: ErrReplaceLimit},
	}
	ch := make(chan []*types.Transaction, len(steps))
	sub := p.SubscribeNewTxs(ch)
	defer sub.Unsubscribe()
	for _, s := range steps {
		if s.reset {
			p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
		}
		err := p.Add(s.tx)
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: have %v, want %v", s.name, err, s.want)
		}
		if have, want := len(ch), btoi(err == nil); have != want {
			t.Fatalf("%s: have %v announcements, want %v", s.name, have, want)
		}
		for len(ch) > 0 {
			<-ch
		}
		if have := p.Has(s.tx.Hash()); have != (err == nil) {
			t.Fatalf("%s: pooled have %v, want %v", s.name, have, err == nil)
		}
	}
	checkPool(t, p)
}

func TestResetRevalidate(t *testing.T) {
	gas := func(g uint64) func(*types.LegacyTx) { return func(tx *types.LegacyTx) { tx.Gas = g } }
	tests := []struct {
		name     string
		pooled   func(t *testing.T, e *env) []*types.Transaction
		heads    int    // new heads
		same     int    // Resets to the same head after each new one
		gasLimit uint64 // of the last new head, if not 0
		keep     []int
		expired  uint64
	}{
		{
			name: "above the head's gas limit",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1, gas(2_000_000))),
					sign(t, e.alice, legacy(2, 1)), sign(t, e.bob, legacy(0, 1, gas(1_000_000)))}
			},
			heads: 1, gasLimit: 1_000_000, keep: []int{0, 2, 3},
		},
		{
			name: "non-executable kept for fewer heads",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(2, 1))}
			},
			heads: DefaultFutureHeads - 1, keep: []int{0, 1},
		},
		{
			name: "non-executable dropped after FutureHeads heads",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(2, 1)),
					sign(t, e.alice, legacy(3, 1)), sign(t, e.bob, legacy(1, 1))}
			},
			heads: DefaultFutureHeads, keep: []int{0}, expired: 3,
		},
		{
			name: "the same head again does not count",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(2, 1))}
			},
			heads: DefaultFutureHeads - 1, same: 2, keep: []int{0},
		},
		{
			name: "executable ones never expire",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1))}
			},
			heads: 2 * DefaultFutureHeads, keep: []int{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			p := e.pool(Config{})
			txs := tt.pooled(t, e)
			mustAdd(t, p, txs...)
			for i := 0; i < tt.heads; i++ {
				head := e.chain.advance(t, func(*state.StateDB) {})
				if i == tt.heads-1 && tt.gasLimit != 0 {
					head = types.CopyHeader(head)
					head.GasLimit = tt.gasLimit
				}
				for j := 0; j <= tt.same; j++ {
					p.Reset(head, nil)
				}
			}
			for i, tx := range txs {
				if have, want := p.Has(tx.Hash()), slices.Contains(tt.keep, i); have != want {
					t.Errorf("tx %d pooled: have %v, want %v", i, have, want)
				}
			}
			if _, expired := p.Dropped(); expired != tt.expired {
				t.Errorf("expired: have %v, want %v", expired, tt.expired)
			}
			if tt.gasLimit != 0 {
				err := p.Add(sign(t, e.carol, legacy(3, 1, gas(tt.gasLimit+1))))
				if !errors.Is(err, rules.ErrGasLimit) {
					t.Errorf("above the head's gas limit: have %v, want %v", err, rules.ErrGasLimit)
				}
			}
			checkPool(t, p)
		})
	}
}

// TestFilledGapStopsTheClock: a non-executable transaction that becomes
// executable before FutureHeads heads stays however long it then waits.
func TestFilledGapStopsTheClock(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{FutureHeads: 3})
	a0, a1, a2 := sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1))
	mustAdd(t, p, a0, a2)
	for i := 0; i < 2; i++ {
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	mustAdd(t, p, a1)
	for i := 0; i < 5; i++ {
		p.Reset(e.chain.advance(t, func(*state.StateDB) {}), nil)
	}
	pooled(t, p, "alice's tx", a0, a1, a2)
	checkPool(t, p)
}
