package txpool

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/contracts/membership"
)

// TestRandomOps drives a small pool with random additions (executable,
// gapped, replacements, of random sizes) from honest members, an account
// one of them vouches for and a member with vouched accounts and no
// balance, and random new heads that include transactions and move
// vouchers. After every step the pool's bookkeeping must recount exactly,
// a refused transaction must leave the pool as it was, and an honest
// member's executable transaction may only be refused as over the pool's
// limits when its sponsor would hold more than its fair share.
func TestRandomOps(t *testing.T) {
	e := newEnv(t, 0)
	keys := e.sybils(t, 4)
	honest := []*ecdsa.PrivateKey{e.alice, e.bob, e.carol}
	senders := append([]*ecdsa.PrivateKey{e.alice, e.bob, e.carol, e.dave}, keys...)
	p := e.pool(Config{
		MaxTxs: 60, MaxBytes: 60_000, MaxPerSender: 20, MaxSenderBytes: 12_000,
		MaxFutureTxs: 15, MaxFutureBytes: 15_000, MaxFuturePerSender: 4, FutureHeads: 4,
	})
	rng := rand.New(rand.NewPCG(7, 8))
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	refusedFull := 0
	for step := 0; step < steps; step++ {
		if rng.IntN(12) == 0 {
			p.Reset(e.chain.advance(t, func(st *state.StateDB) { randomHead(rng, p, e, keys, st) }), nil)
			checkPool(t, p)
			continue
		}
		key := senders[rng.IntN(len(senders))]
		from := addrOf(key)
		next := p.PendingNonce(from)
		nonce := next
		switch r := rng.IntN(10); {
		case r < 3:
			nonce += 1 + uint64(rng.IntN(3))
		case r < 4 && next > e.stateNonce(t, from):
			nonce = next - 1 // a replacement
		}
		price, value := int64(0), int64(0)
		if !slices.Contains(keys, key) {
			price, value = rng.Int64N(3), rng.Int64N(2)
		}
		size := rng.IntN(3000)
		tx := sign(t, key, legacy(nonce, price, func(tx *types.LegacyTx) {
			tx.Data, tx.Gas, tx.Value = make([]byte, size), 21000+4*uint64(size), big.NewInt(value)
		}))
		lenBefore, bytesBefore := p.Len(), p.Bytes()
		err := p.Add(tx)
		if err != nil {
			if have := p.Len(); have != lenBefore || p.Bytes() != bytesBefore {
				t.Fatalf("step %d: refused (%v) but the pool changed: %d txs, %d bytes; was %d, %d",
					step, err, have, p.Bytes(), lenBefore, bytesBefore)
			}
			if nonce == next && errors.Is(err, ErrPoolFull) && slices.Contains(honest, key) {
				refusedFull++
				assertOverShare(t, step, p, from, tx)
			}
		}
		checkPool(t, p)
	}
	evicted, expired := p.Dropped()
	t.Logf("%d steps: %d txs pooled, %d evicted, %d expired, %d honest executable refused as full",
		steps, p.Len(), evicted, expired, refusedFull)
	if evicted == 0 || expired == 0 {
		t.Errorf("the run never evicted (%d) or expired (%d): it tests too little", evicted, expired)
	}
}

// randomHead changes the next head's state: a sender's pooled executable
// transactions may be included, and dave's voucher may move between alice
// and bob.
func randomHead(rng *rand.Rand, p *Pool, e *env, keys []*ecdsa.PrivateKey, st *state.StateDB) {
	all := append([]*ecdsa.PrivateKey{e.alice, e.bob, e.carol, e.dave}, keys...)
	for _, k := range all {
		if rng.IntN(2) == 0 {
			from := addrOf(k)
			st.SetNonce(from, p.PendingNonce(from), tracing.NonceChangeUnspecified)
		}
	}
	switch rng.IntN(4) {
	case 0:
		membership.Allow(st, addrOf(e.dave), addrOf(e.bob))
	case 1:
		membership.Allow(st, addrOf(e.dave), addrOf(e.alice))
	}
}

// assertOverShare fails the test unless the sponsor of from would hold more
// than its fair share of the pool with tx and from's non-executable ones.
func assertOverShare(t *testing.T, step int, p *Pool, from common.Address, tx *types.Transaction) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var theirs [classes]usage
	if s := p.sponsors[sponsorOf(p.state, from)]; s != nil {
		theirs = s.held
	}
	var mine usage
	if acc := p.accounts[from]; acc != nil {
		mine = acc.held(future)
	}
	k := p.holders[executable]
	if theirs[executable].txs == 0 {
		k++
	}
	after := theirs[executable].add(mine).add(usage{1, tx.Size()})
	if line := fair(p.caps[executable], k); line.covers(after) {
		t.Fatalf("step %d: honest executable tx refused as the pool is full, yet its sponsor would hold %v of a fair %v",
			step, after, line)
	}
}

func (e *env) stateNonce(t *testing.T, addr common.Address) uint64 {
	t.Helper()
	st, err := e.chain.StateAt(e.chain.CurrentHeader().Root)
	if err != nil {
		t.Fatal(err)
	}
	return st.GetNonce(addr)
}
