package txpool

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/rules"
)

func TestAdd(t *testing.T) {
	e := newEnv(t, 0)
	secpN := crypto.S256().Params().N
	known := sign(t, e.alice, legacy(0, 1))
	sizeOfOne := sign(t, e.alice, legacy(0, 1)).Size()

	tests := []struct {
		name string
		cfg  Config
		pre  []*types.Transaction // added first, must succeed
		tx   *types.Transaction
		want error
	}{
		{name: "legacy accepted", tx: sign(t, e.alice, legacy(0, 1))},
		{name: "dynamic fee accepted", tx: sign(t, e.alice, dynamic(0, 1, 2))},
		{name: "access list accepted", tx: sign(t, e.alice, &types.AccessListTx{ChainID: testChainID, GasPrice: big.NewInt(1), Gas: 21000, To: &recipient})},
		{name: "allowed account accepted", tx: sign(t, e.dave, legacy(0, 1))},
		{name: "future nonce accepted", tx: sign(t, e.alice, legacy(7, 1))},
		{name: "wrong chain id", tx: signWith(t, types.NewLondonSigner(big.NewInt(1)), e.alice, legacy(0, 1)), want: rules.ErrWrongChain},
		{name: "wrong chain id dynamic", tx: signWith(t, types.NewLondonSigner(big.NewInt(1)), e.alice, dynamic(0, 1, 1, func(tx *types.DynamicFeeTx) { tx.ChainID = big.NewInt(1) })), want: rules.ErrWrongChain},
		{name: "bad signature zero R", tx: tampered(t, e.alice, legacy(0, 1), func(sig []byte) { clear(sig[:32]) }), want: rules.ErrBadSignature},
		{name: "bad signature high S", tx: tampered(t, e.alice, dynamic(0, 1, 1), func(sig []byte) {
			new(big.Int).Sub(secpN, common.Big1).FillBytes(sig[32:64])
		}), want: rules.ErrBadSignature},
		{name: "bad signature V", tx: tampered(t, e.alice, dynamic(0, 1, 1), func(sig []byte) { sig[64] = 5 }), want: rules.ErrBadSignature},
		{name: "nonce too low", tx: sign(t, e.carol, legacy(2, 1)), want: rules.ErrNonceTooLow},
		{name: "underfunded", tx: sign(t, e.poor, legacy(0, 1, func(tx *types.LegacyTx) { tx.Value = big.NewInt(30_000) })), want: rules.ErrInsufficientFunds},
		{name: "cumulative underfunded", pre: []*types.Transaction{sign(t, e.poor, legacy(0, 1)), sign(t, e.poor, legacy(1, 1))},
			tx: sign(t, e.poor, legacy(2, 1)), want: rules.ErrInsufficientFunds},
		{name: "cumulative underfunded counts future txs", pre: []*types.Transaction{sign(t, e.poor, legacy(1, 1)), sign(t, e.poor, legacy(2, 1))},
			tx: sign(t, e.poor, legacy(0, 1)), want: rules.ErrInsufficientFunds},
		{name: "cumulative replacement within funds", pre: []*types.Transaction{sign(t, e.poor, legacy(0, 1)), sign(t, e.poor, legacy(1, 1))},
			tx: sign(t, e.poor, legacy(1, 1, func(tx *types.LegacyTx) { tx.Value = big.NewInt(7_000) }))},
		{name: "cumulative replacement above funds", pre: []*types.Transaction{sign(t, e.poor, legacy(0, 1)), sign(t, e.poor, legacy(1, 1))},
			tx: sign(t, e.poor, legacy(1, 1, func(tx *types.LegacyTx) { tx.Value = big.NewInt(9_000) })), want: rules.ErrInsufficientFunds},
		{name: "non-member", tx: sign(t, e.eve, legacy(0, 1)), want: rules.ErrNotAllowed},
		{name: "oversized data", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) {
			tx.Data, tx.Gas = make([]byte, rules.MaxDataSize+1), 2_000_000
		})), want: rules.ErrOversized},
		{name: "gas above block limit", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) { tx.Gas = testGasLimit + 1 })), want: rules.ErrGasLimit},
		{name: "intrinsic gas", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) { tx.Gas = 20_999 })), want: rules.ErrIntrinsicGas},
		{name: "intrinsic gas with data", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) { tx.Data = []byte{1} })), want: rules.ErrIntrinsicGas},
		{name: "unprotected legacy", tx: signWith(t, types.HomesteadSigner{}, e.alice, legacy(0, 1)), want: rules.ErrUnprotected},
		{name: "contract creation", tx: sign(t, e.alice, legacy(0, 1, func(tx *types.LegacyTx) { tx.To = nil; tx.Gas = 100_000 })), want: rules.ErrContractCreation},
		{name: "tip above fee cap", tx: sign(t, e.alice, dynamic(0, 2, 1)), want: rules.ErrTipAboveFeeCap},
		{name: "already known", pre: []*types.Transaction{known}, tx: known, want: ErrAlreadyKnown},
		{name: "underpriced legacy", cfg: Config{MinGasPrice: big.NewInt(10)}, tx: sign(t, e.alice, legacy(0, 9)), want: ErrUnderpriced},
		{name: "underpriced dynamic tip", cfg: Config{MinGasPrice: big.NewInt(10)}, tx: sign(t, e.alice, dynamic(0, 9, 100)), want: ErrUnderpriced},
		{name: "minimum price accepted", cfg: Config{MinGasPrice: big.NewInt(10)}, tx: sign(t, e.alice, dynamic(0, 10, 10))},
		{name: "replacement underpriced legacy", pre: []*types.Transaction{sign(t, e.alice, legacy(0, 100))},
			tx: sign(t, e.alice, legacy(0, 109)), want: ErrReplaceUnderpriced},
		{name: "replacement underpriced tip not bumped", pre: []*types.Transaction{sign(t, e.alice, dynamic(0, 10, 100))},
			tx: sign(t, e.alice, dynamic(0, 10, 200)), want: ErrReplaceUnderpriced},
		{name: "replacement underpriced cap not bumped", pre: []*types.Transaction{sign(t, e.alice, dynamic(0, 10, 100))},
			tx: sign(t, e.alice, dynamic(0, 20, 100)), want: ErrReplaceUnderpriced},
		{name: "replacement accepted legacy", pre: []*types.Transaction{sign(t, e.alice, legacy(0, 100))}, tx: sign(t, e.alice, legacy(0, 110))},
		{name: "replacement accepted dynamic", pre: []*types.Transaction{sign(t, e.alice, dynamic(0, 10, 100))}, tx: sign(t, e.alice, dynamic(0, 11, 110))},
		{name: "replacement accepted custom bump", cfg: Config{PriceBump: 50}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 100))},
			tx: sign(t, e.alice, legacy(0, 150))},
		{name: "replacement underpriced custom bump", cfg: Config{PriceBump: 50}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 100))},
			tx: sign(t, e.alice, legacy(0, 149)), want: ErrReplaceUnderpriced},
		{name: "replacement accepted at zero price", pre: []*types.Transaction{sign(t, e.alice, legacy(0, 0))},
			tx: sign(t, e.alice, legacy(0, 0, func(tx *types.LegacyTx) { tx.Value = common.Big1 }))},
		{name: "pool full", cfg: Config{MaxTxs: 2}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.bob, legacy(0, 1))},
			tx: sign(t, e.dave, legacy(0, 1)), want: ErrPoolFull},
		{name: "pool full of bytes", cfg: Config{MaxBytes: sizeOfOne + sizeOfOne/2}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1))},
			tx: sign(t, e.bob, legacy(0, 1)), want: ErrPoolFull},
		{name: "replacement accepted when full", cfg: Config{MaxTxs: 1}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1))},
			tx: sign(t, e.alice, legacy(0, 2))},
		{name: "sender limit", cfg: Config{MaxPerSender: 2}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1))},
			tx: sign(t, e.alice, legacy(2, 1)), want: ErrSenderLimit},
		{name: "sender limit leaves others", cfg: Config{MaxPerSender: 2}, pre: []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1))},
			tx: sign(t, e.bob, legacy(0, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.pool(tt.cfg)
			var bytes uint64
			for i, tx := range tt.pre {
				if err := p.Add(tx); err != nil {
					t.Fatalf("pre %d: %v", i, err)
				}
				bytes += tx.Size()
			}
			// The cases reuse transaction objects: drop their cached sender
			// so every case recovers the signature itself.
			tx := tt.tx
			if tt.want != ErrAlreadyKnown {
				raw, _ := tx.MarshalBinary()
				tx = new(types.Transaction)
				if err := tx.UnmarshalBinary(raw); err != nil {
					t.Fatal(err)
				}
			}
			err := p.Add(tx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			wantLen := len(tt.pre)
			if err == nil {
				if have := p.Get(tx.Hash()); have == nil || have.Hash() != tx.Hash() {
					t.Errorf("Get: have %v, want the added tx", have)
				}
				// a replacement takes the place of its predecessor
				replaced := false
				for _, pre := range tt.pre {
					if pre.Nonce() == tx.Nonce() && mustSender(t, pre) == mustSender(t, tx) {
						replaced = true
						bytes -= pre.Size()
						if p.Has(pre.Hash()) {
							t.Errorf("replaced tx still pooled")
						}
					}
				}
				if !replaced {
					wantLen++
				}
				bytes += tx.Size()
			} else if tt.want != ErrAlreadyKnown && p.Has(tx.Hash()) {
				t.Errorf("refused tx is pooled")
			}
			if have := p.Len(); have != wantLen {
				t.Errorf("Len: have %v, want %v", have, wantLen)
			}
			if have := p.Bytes(); have != bytes {
				t.Errorf("Bytes: have %v, want %v", have, bytes)
			}
		})
	}
}

func mustSender(t *testing.T, tx *types.Transaction) common.Address {
	t.Helper()
	from, err := types.Sender(testSigner, tx)
	if err != nil {
		t.Fatal(err)
	}
	return from
}

func TestPromotion(t *testing.T) {
	e := newEnv(t, 0)
	alice, carol := addrOf(e.alice), addrOf(e.carol)
	p := e.pool(Config{})
	type step struct {
		key        string
		nonce      uint64
		exec, fut  int
		aliceNonce uint64
	}
	keys := map[string]*ecdsa.PrivateKey{"alice": e.alice, "carol": e.carol}
	steps := []step{
		{"alice", 2, 0, 1, 0},
		{"alice", 1, 0, 2, 0},
		{"carol", 4, 0, 3, 0}, // carol's state nonce is 3
		{"alice", 4, 0, 4, 0},
		{"alice", 0, 3, 2, 3}, // fills the gap: 0,1,2 executable, 4 still future
		{"carol", 3, 5, 1, 3},
		{"alice", 3, 7, 0, 5},
	}
	for i, s := range steps {
		if err := p.Add(sign(t, keys[s.key], legacy(s.nonce, 1))); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if exec, fut := p.Stats(); exec != s.exec || fut != s.fut {
			t.Errorf("step %d: Stats have %v/%v, want %v/%v", i, exec, fut, s.exec, s.fut)
		}
		if have := p.PendingNonce(alice); have != s.aliceNonce {
			t.Errorf("step %d: PendingNonce have %v, want %v", i, have, s.aliceNonce)
		}
		if have, want := len(p.Pending()), s.exec; have != want {
			t.Errorf("step %d: len(Pending) have %v, want %v", i, have, want)
		}
	}
	if have, want := p.PendingNonce(carol), uint64(5); have != want {
		t.Errorf("PendingNonce(carol): have %v, want %v", have, want)
	}
	if have, want := p.PendingNonce(addrOf(e.bob)), uint64(0); have != want {
		t.Errorf("PendingNonce(bob): have %v, want %v", have, want)
	}
}

func TestPendingOrder(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	add := func(tx *types.Transaction) *types.Transaction {
		t.Helper()
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	a0 := add(sign(t, e.alice, legacy(0, 5)))
	a1 := add(sign(t, e.alice, legacy(1, 50))) // pricier, but must follow a0
	b0 := add(sign(t, e.bob, dynamic(0, 10, 100)))
	b1 := add(sign(t, e.bob, dynamic(1, 1, 100)))
	c3 := add(sign(t, e.carol, legacy(3, 10))) // ties b0 at 10, arrived later
	add(sign(t, e.carol, legacy(5, 100)))      // future: not pending
	d0 := add(sign(t, e.dave, legacy(0, 5)))   // ties a0 at 5, arrived later

	want := []*types.Transaction{b0, c3, a0, a1, d0, b1}
	for i := 0; i < 3; i++ { // deterministic across calls
		if have := hashes(p.Pending()); !slices.Equal(have, hashes(want)) {
			t.Fatalf("call %d: have %v, want %v", i, have, hashes(want))
		}
	}
}

func TestPendingNonceOrderRandom(t *testing.T) {
	e := newEnv(t, 20)
	p := e.pool(Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		key   int
		nonce uint64
	}
	var items []item
	for k := range e.extra {
		for n := 0; n < 25; n++ {
			items = append(items, item{k, uint64(n)})
		}
	}
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	for _, it := range items {
		if err := p.Add(sign(t, e.extra[it.key], legacy(it.nonce, rng.Int64N(1000)))); err != nil {
			t.Fatal(err)
		}
	}
	pending := p.Pending()
	if have, want := len(pending), len(items); have != want {
		t.Fatalf("len: have %v, want %v", have, want)
	}
	next := map[common.Address]uint64{}
	for i, tx := range pending {
		from := mustSender(t, tx)
		if have, want := tx.Nonce(), next[from]; have != want {
			t.Fatalf("tx %d from %s: nonce have %v, want %v", i, from, have, want)
		}
		next[from]++
	}
	if have, want := hashes(p.Pending()), hashes(pending); !slices.Equal(have, want) {
		t.Errorf("second call differs: have %v, want %v", have, want)
	}
}

func TestReset(t *testing.T) {
	value := func(v int64) func(*types.LegacyTx) { return func(tx *types.LegacyTx) { tx.Value = big.NewInt(v) } }
	tests := []struct {
		name      string
		pooled    func(t *testing.T, e *env) []*types.Transaction
		change    func(e *env, st *state.StateDB)
		keep      []int // indexes of the pooled txs still pooled afterwards
		exec, fut int
	}{
		{
			name: "nothing changed",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(2, 1))}
			},
			change: func(e *env, st *state.StateDB) {},
			keep:   []int{0, 1}, exec: 1, fut: 1,
		},
		{
			name: "included txs dropped",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)),
					sign(t, e.alice, legacy(2, 1)), sign(t, e.bob, legacy(0, 1))}
			},
			change: func(e *env, st *state.StateDB) { st.SetNonce(addrOf(e.alice), 2, tracing.NonceChangeUnspecified) },
			keep:   []int{2, 3}, exec: 2,
		},
		{
			name: "inclusion promotes future",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1))}
			},
			change: func(e *env, st *state.StateDB) { st.SetNonce(addrOf(e.alice), 1, tracing.NonceChangeUnspecified) },
			keep:   []int{0, 1}, exec: 2,
		},
		{
			name: "revoked account dropped",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.dave, legacy(0, 1)), sign(t, e.dave, legacy(1, 1)), sign(t, e.bob, legacy(0, 1))}
			},
			change: func(e *env, st *state.StateDB) { membership.Revoke(st, addrOf(e.dave)) },
			keep:   []int{2}, exec: 1,
		},
		{
			name: "revoked after some were included",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.dave, legacy(0, 1)), sign(t, e.dave, legacy(1, 1)),
					sign(t, e.dave, legacy(2, 1)), sign(t, e.bob, legacy(0, 1))}
			},
			change: func(e *env, st *state.StateDB) {
				st.SetNonce(addrOf(e.dave), 1, tracing.NonceChangeUnspecified)
				membership.Revoke(st, addrOf(e.dave))
			},
			keep: []int{3}, exec: 1,
		},
		{
			name: "removed member dropped",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.bob, legacy(0, 1)), sign(t, e.bob, legacy(3, 1)), sign(t, e.alice, legacy(0, 1))}
			},
			change: func(e *env, st *state.StateDB) { membership.RemoveMember(st, addrOf(e.bob)) },
			keep:   []int{2}, exec: 1,
		},
		{
			name: "unaffordable dropped, later held as future",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1, value(1_000_000))),
					sign(t, e.alice, legacy(1, 1, value(5_000_000))), sign(t, e.alice, legacy(2, 1, value(1_000_000)))}
			},
			change: func(e *env, st *state.StateDB) {
				st.SetBalance(addrOf(e.alice), uint256.NewInt(2*1_021_000), tracing.BalanceChangeUnspecified)
			},
			keep: []int{0, 2}, exec: 1, fut: 1,
		},
		{
			name: "all unaffordable",
			pooled: func(t *testing.T, e *env) []*types.Transaction {
				return []*types.Transaction{sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1))}
			},
			change: func(e *env, st *state.StateDB) {
				st.SetBalance(addrOf(e.alice), uint256.NewInt(20_999), tracing.BalanceChangeUnspecified)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			p := e.pool(Config{})
			pooled := tt.pooled(t, e)
			for i, tx := range pooled {
				if err := p.Add(tx); err != nil {
					t.Fatalf("add %d: %v", i, err)
				}
			}
			p.Reset(e.chain.advance(t, func(st *state.StateDB) { tt.change(e, st) }), nil)

			var bytes uint64
			for i, tx := range pooled {
				want := slices.Contains(tt.keep, i)
				if have := p.Has(tx.Hash()); have != want {
					t.Errorf("tx %d pooled: have %v, want %v", i, have, want)
				}
				if want {
					bytes += tx.Size()
				}
			}
			if exec, fut := p.Stats(); exec != tt.exec || fut != tt.fut {
				t.Errorf("Stats: have %v/%v, want %v/%v", exec, fut, tt.exec, tt.fut)
			}
			if have, want := p.Len(), len(tt.keep); have != want {
				t.Errorf("Len: have %v, want %v", have, want)
			}
			if have := p.Bytes(); have != bytes {
				t.Errorf("Bytes: have %v, want %v", have, bytes)
			}
			if have, want := len(p.Pending()), tt.exec; have != want {
				t.Errorf("len(Pending): have %v, want %v", have, want)
			}
		})
	}
}

func TestResetReinject(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	ch := make(chan []*types.Transaction, 8)
	sub := p.SubscribeNewTxs(ch)
	defer sub.Unsubscribe()

	a0, a1, a2 := sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1))
	for _, tx := range []*types.Transaction{a0, a1, a2} {
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		<-ch
	}
	// a0 and a1 are included.
	p.Reset(e.chain.advance(t, func(st *state.StateDB) {
		st.SetNonce(addrOf(e.alice), 2, tracing.NonceChangeUnspecified)
	}), nil)
	if have, want := hashes(p.Pending()), hashes([]*types.Transaction{a2}); !slices.Equal(have, want) {
		t.Fatalf("after inclusion: have %v, want %v", have, want)
	}

	// A reorg back to genesis drops that block; its txs come back, next to
	// ones that are invalid there and must be ignored.
	reinject := []*types.Transaction{
		a0, a1,
		sign(t, e.eve, legacy(0, 1)),                              // not allowed
		sign(t, e.carol, legacy(1, 1)),                            // nonce too low
		signWith(t, types.HomesteadSigner{}, e.bob, legacy(0, 1)), // unprotected
		a2, // already pooled
	}
	p.Reset(e.genesis, reinject)
	want := []*types.Transaction{a0, a1, a2}
	if have := hashes(p.Pending()); !slices.Equal(have, hashes(want)) {
		t.Errorf("after reorg: have %v, want %v", have, hashes(want))
	}
	if exec, fut := p.Stats(); exec != 3 || fut != 0 {
		t.Errorf("Stats: have %v/%v, want 3/0", exec, fut)
	}
	select {
	case got := <-ch:
		if have, want := hashes(got), hashes([]*types.Transaction{a0, a1}); !slices.Equal(have, want) {
			t.Errorf("announced: have %v, want %v", have, want)
		}
	default:
		t.Errorf("reinjected txs not announced")
	}
}

func TestResetUnknownState(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	tx := sign(t, e.alice, legacy(0, 1))
	if err := p.Add(tx); err != nil {
		t.Fatal(err)
	}
	p.Reset(&types.Header{Number: big.NewInt(1), Root: common.HexToHash("0x01")}, nil)
	if !p.Has(tx.Hash()) {
		t.Errorf("pool changed on a head whose state is missing")
	}
	if err := p.Add(sign(t, e.alice, legacy(1, 1))); err != nil {
		t.Errorf("have %v, want nil", err)
	}
}

func TestNoHeadState(t *testing.T) {
	e := newEnv(t, 0)
	e.chain.head = nil
	p := e.pool(Config{})
	tx := sign(t, e.alice, legacy(0, 1))
	if err := p.Add(tx); !errors.Is(err, ErrNoState) {
		t.Fatalf("have %v, want %v", err, ErrNoState)
	}
	e.chain.head = e.genesis
	if err := p.Add(tx); err != nil {
		t.Fatalf("have %v, want nil", err)
	}
}

func TestSubscribeNewTxs(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	ch := make(chan []*types.Transaction, 1)
	sub := p.SubscribeNewTxs(ch)
	defer sub.Unsubscribe()

	tests := []struct {
		name     string
		tx       *types.Transaction
		announce bool
	}{
		{"added", sign(t, e.alice, legacy(0, 100)), true},
		{"refused", sign(t, e.eve, legacy(0, 100)), false},
		{"replacement", sign(t, e.alice, legacy(0, 110)), true},
		{"replacement refused", sign(t, e.alice, legacy(0, 110, func(tx *types.LegacyTx) { tx.Value = common.Big1 })), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = p.Add(tt.tx)
			select {
			case got := <-ch:
				if !tt.announce {
					t.Fatalf("have announcement %v, want none", hashes(got))
				}
				if have, want := hashes(got), hashes([]*types.Transaction{tt.tx}); !slices.Equal(have, want) {
					t.Errorf("have %v, want %v", have, want)
				}
			default:
				if tt.announce {
					t.Errorf("have no announcement, want one")
				}
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	const senders, perSender = 8, 40
	e := newEnv(t, senders)
	p := e.pool(Config{})
	txs := make([][]*types.Transaction, senders)
	for s, key := range e.extra {
		for n := 0; n < perSender; n++ {
			txs[s] = append(txs[s], sign(t, key, legacy(uint64(n), int64(n%7))))
		}
	}
	head := e.chain.CurrentHeader()

	var wg sync.WaitGroup
	for s := range e.extra {
		wg.Go(func() {
			for _, tx := range txs[s] {
				if err := p.Add(tx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 50; i++ {
			p.Pending()
			p.Stats()
			p.PendingNonce(addrOf(e.extra[0]))
			p.Reset(head, nil)
		}
	})
	wg.Wait()

	if exec, fut := p.Stats(); exec != senders*perSender || fut != 0 {
		t.Errorf("Stats: have %v/%v, want %v/0", exec, fut, senders*perSender)
	}
}

// TestFollow checks that a builder's Follow brings the pool to the chain's
// new head before the head event does, and never moves it back to a head
// the chain has left.
func TestFollow(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	a0, a1, a2 := sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1)), sign(t, e.alice, legacy(2, 1))
	mustAdd(t, p, a0, a1, a2)
	// Block 1 includes alice's first two transactions: her nonce is 2.
	h1 := e.chain.advance(t, func(st *state.StateDB) { st.SetNonce(addrOf(e.alice), 2, tracing.NonceChangeUnspecified) })
	if got := p.Pending(); len(got) != 3 {
		t.Fatalf("before Follow: %d pending, want the 3 the pool still holds", len(got))
	}
	p.Follow(e.genesis) // the chain has left genesis: ignored
	if got := p.Pending(); len(got) != 3 {
		t.Fatalf("Follow of a head the chain left changed the pool: %d pending", len(got))
	}
	p.Follow(h1)
	if got := hashes(p.Pending()); len(got) != 1 || got[0] != a2.Hash() {
		t.Fatalf("after Follow: pending %x, want only nonce 2", got)
	}
	// Block 2 includes nonce 2; the pool follows, then the head event's
	// Reset of the same head changes nothing.
	h2 := e.chain.advance(t, func(st *state.StateDB) { st.SetNonce(addrOf(e.alice), 3, tracing.NonceChangeUnspecified) })
	p.Follow(h2)
	p.Reset(h2, nil)
	if n := len(p.Pending()); n != 0 {
		t.Fatalf("after block 2: %d pending, want none", n)
	}
}

// TestGetMany: a compact proposal is filled from the pool in one call,
// the transactions in the order asked and nil for those not pooled, the
// pooled objects themselves (their senders already recovered).
func TestGetMany(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(Config{})
	a0, a1 := sign(t, e.alice, legacy(0, 1)), sign(t, e.alice, legacy(1, 1))
	b0 := sign(t, e.bob, legacy(0, 1))
	mustAdd(t, p, a0, a1, b0)
	absent := sign(t, e.bob, legacy(5, 1)).Hash()
	got := p.GetMany([]common.Hash{b0.Hash(), absent, a0.Hash(), a1.Hash(), a0.Hash()})
	want := []*types.Transaction{b0, nil, a0, a1, a0}
	if len(got) != len(want) {
		t.Fatalf("have %d transactions, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("place %d: have %v, want %v", i, got[i], want[i])
		}
	}
	if got := p.GetMany(nil); len(got) != 0 {
		t.Fatalf("no hashes: have %d transactions", len(got))
	}
}
