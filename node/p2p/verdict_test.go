package p2p

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/chain"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// fakePool is a pool that holds the hashes in has and whose Add answers
// with a function.
type fakePool struct {
	has     map[common.Hash]bool
	add     func(*types.Transaction) error
	senders map[common.Hash]common.Address
}

func (p *fakePool) Has(h common.Hash) bool          { return p.has[h] }
func (p *fakePool) Add(tx *types.Transaction) error { return p.add(tx) }
func (p *fakePool) Sender(h common.Hash) (common.Address, bool) {
	a, ok := p.senders[h]
	return a, ok
}

func resultName(r pubsub.ValidationResult) string {
	switch r {
	case accept:
		return "accept"
	case reject:
		return "reject"
	case ignore:
		return "ignore"
	}
	return fmt.Sprint(int(r))
}

func TestCheckTxBatch(t *testing.T) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	to := addrOf(t, "B")
	valid := transfer(t, "A", 0, to)
	second := transfer(t, "A", 1, to)
	enc := func(tx *types.Transaction) []byte {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	batch := func(raw ...[]byte) []byte {
		data, err := encodeBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	otherChain, err := types.SignNewTx(testKey(t, "A"), types.NewLondonSigner(big.NewInt(1)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1), To: &to, Gas: 21000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	unprotected, err := types.SignNewTx(testKey(t, "A"), types.HomesteadSigner{}, &types.LegacyTx{To: &to, Gas: 21000, GasPrice: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	// A signature with r = 0 decodes but recovers no sender.
	v, _, s := valid.RawSignatureValues()
	sig := append(append(make([]byte, 32), common.BigToHash(s).Bytes()...), byte(v.Uint64()))
	badSig, err := valid.WithSignature(types.NewLondonSigner(big.NewInt(testChainID)), sig)
	if err != nil {
		t.Fatal(err)
	}
	bigData := &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), To: &to, Gas: 5_000_000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1), Data: bytes.Repeat([]byte{1}, rules.MaxTxSize)}
	oversized, err := types.SignNewTx(testKey(t, "A"), types.NewLondonSigner(big.NewInt(testChainID)), bigData)
	if err != nil {
		t.Fatal(err)
	}
	tooMany := make([][]byte, maxBatchTxs+1)
	for i := range tooMany {
		tooMany[i] = enc(valid)
	}
	nested, _ := rlp.EncodeToBytes([]any{enc(valid), []any{enc(second)}})

	tests := []struct {
		name    string
		data    []byte
		known   bool // the pool holds valid already
		poolErr error
		want    pubsub.ValidationResult
		offered int
	}{
		{"valid", batch(enc(valid)), false, nil, accept, 1},
		{"two valid", batch(enc(valid), enc(second)), false, nil, accept, 2},
		// Passed on: what it brings new, the pool took.
		{"pool knows one", batch(enc(valid), enc(second)), true, nil, accept, 1},
		{"pool knows all", batch(enc(valid)), true, nil, ignore, 0},
		{"pool knows one, refuses the other", batch(enc(valid), enc(second)), true, txpool.ErrPoolFull, ignore, 1},
		{"replay of an included nonce", batch(enc(valid)), false, rules.ErrNonceTooLow, ignore, 1},
		{"pool full", batch(enc(valid)), false, txpool.ErrPoolFull, ignore, 1},
		{"sender not allowed", batch(enc(valid)), false, fmt.Errorf("%w: x", rules.ErrNotAllowed), reject, 1},
		{"oversized transaction", batch(enc(valid), enc(oversized)), false, nil, reject, 0},
		{"oversized batch", bytes.Repeat([]byte{0xab}, maxBatchGossip+1), false, nil, reject, 0},
		{"too many transactions", batch(tooMany...), false, nil, reject, 0},
		{"empty batch", batch(), false, nil, reject, 0},
		{"empty payload", nil, false, nil, reject, 0},
		{"not a list", enc(valid), false, nil, reject, 0},
		{"nested list", nested, false, nil, reject, 0},
		{"malformed transaction", batch([]byte{0x02, 0xc1, 0xff}), false, nil, reject, 0},
		{"other chain after a valid one", batch(enc(valid), enc(otherChain)), false, nil, reject, 0},
		{"not replay-protected", batch(enc(unprotected)), false, nil, reject, 0},
		{"bad signature", batch(enc(badSig)), false, nil, reject, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offered := 0
			pool := &fakePool{
				has: map[common.Hash]bool{valid.Hash(): tt.known},
				add: func(*types.Transaction) error { offered++; return tt.poolErr },
			}
			res, c, err := checkTxBatch(tt.data, r, pool, nil, nil, nil, common.Address{})
			took := c.took
			if res != tt.want {
				t.Fatalf("result: have %s (%v), want %s", resultName(res), err, resultName(tt.want))
			}
			if offered != tt.offered {
				t.Fatalf("offered to the pool: have %v, want %v", offered, tt.offered)
			}
			if wantTook := map[bool]int{true: tt.offered, false: 0}[tt.poolErr == nil]; took != wantTook {
				t.Fatalf("taken: have %v, want %v", took, wantTook)
			}
		})
	}
}

// TestCheckTxBatchUsesKnownSenders: a transaction whose sender the node
// already knows by hash (recovered when it executed the transaction in a
// block that outran its gossip) is not recovered again. The cache entry
// here names another account than the signature's, so the sender the pool
// is offered shows which path was taken; a real cache only holds senders
// recovered from the same hash.
func TestCheckTxBatchUsesKnownSenders(t *testing.T) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	tx := transfer(t, "A", 0, addrOf(t, "B"))
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeBatch([][]byte{raw})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		known map[common.Hash]common.Address
		want  common.Address
	}{
		{"unknown: recovered", nil, addrOf(t, "A")},
		{"known: taken from the cache", map[common.Hash]common.Address{tx.Hash(): addrOf(t, "C")}, addrOf(t, "C")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var offered common.Address
			pool := &fakePool{
				senders: tt.known,
				add: func(got *types.Transaction) error {
					offered, _ = r.CheckStatic(got)
					return nil
				},
			}
			if res, _, err := checkTxBatch(data, r, pool, nil, nil, nil, common.Address{}); res != accept {
				t.Fatalf("result: have %s (%v), want accept", resultName(res), err)
			}
			if offered != tt.want {
				t.Fatalf("sender offered to the pool: have %v, want %v", offered, tt.want)
			}
		})
	}
}

// TestBatcher: transactions go out in batches bounded by count and bytes,
// in arrival order, each decoding to what was added.
func TestBatcher(t *testing.T) {
	to := addrOf(t, "B")
	small := make([]*types.Transaction, maxBatchTxs+3)
	for i := range small {
		small[i] = transfer(t, "A", uint64(i), to)
	}
	large := make([]*types.Transaction, 6)
	for i := range large {
		data := &types.DynamicFeeTx{ChainID: big.NewInt(testChainID), Nonce: uint64(i), To: &to, Gas: 5_000_000, GasFeeCap: big.NewInt(1), GasTipCap: big.NewInt(1), Data: bytes.Repeat([]byte{1}, 100_000)}
		tx, err := types.SignNewTx(testKey(t, "A"), types.NewLondonSigner(big.NewInt(testChainID)), data)
		if err != nil {
			t.Fatal(err)
		}
		large[i] = tx
	}
	tests := []struct {
		name  string
		txs   []*types.Transaction
		sizes []int // transactions per published batch, after a final flush
	}{
		{"one", small[:1], []int{1}},
		{"full by count", small, []int{maxBatchTxs, 3}},
		{"full by bytes", large, []int{5, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*types.Transaction
			var sizes []int
			b := &batcher{publish: func(data []byte) error {
				txs, err := decodeBatch(data)
				if err != nil {
					t.Fatalf("published batch does not decode: %v", err)
				}
				got = append(got, txs...)
				sizes = append(sizes, len(txs))
				return nil
			}}
			for _, tx := range tt.txs {
				if err := b.add(tx); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.flush(); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.sizes) {
				t.Fatalf("batch sizes: have %v, want %v", sizes, tt.sizes)
			}
			for i, tx := range got {
				if tx.Hash() != tt.txs[i].Hash() {
					t.Fatalf("transaction %d: have %x, want %x", i, tx.Hash(), tt.txs[i].Hash())
				}
			}
		})
	}
}

func TestCheckBlock(t *testing.T) {
	g := testGenesis(t)
	tc := newTestChain(t, g, "A")
	tc.extend(3, nil)
	head := tc.chain.CurrentBlock()
	checker := newBlockChecker(tc.chain, tc.engine, HeadMembers(tc.chain))
	enc := func(b *types.Block) []byte {
		data, err := rlp.EncodeToBytes(&gossipBlock{Block: b})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// twin imports the same chain under another sealer.
	twin := func(sealer string) *testChain {
		o := newTestChain(t, g, sealer)
		for n := uint64(1); n <= head.NumberU64(); n++ {
			if err := o.chain.InsertBlock(tc.chain.GetBlockByNumber(n)); err != nil {
				t.Fatal(err)
			}
		}
		return o
	}
	valid := tc.mine(head, []*types.Transaction{transfer(t, "A", 0, addrOf(t, "B"))}, 1)
	nonMember := twin("D").mine(head, nil, 1)
	ahead := twin("B")
	ahead.extend(1, nil)
	orphan := ahead.mine(ahead.chain.CurrentBlock(), nil, 1)
	outsider := twin("D")
	if err := outsider.chain.InsertBlock(ahead.chain.CurrentBlock()); err != nil {
		t.Fatal(err)
	}
	nonMemberOrphan := outsider.mine(outsider.chain.CurrentBlock(), nil, 1)
	future := tc.mine(head, nil, uint64(time.Now().Add(time.Hour).Unix())-head.Time())

	badRoot := valid.WithBody(types.Body{Transactions: []*types.Transaction{transfer(t, "A", 1, addrOf(t, "B"))}})
	hdr := valid.Header()
	hdr.Extra = make([]byte, 65)
	unsigned := types.NewBlockWithHeader(hdr).WithBody(*valid.Body())
	hdr = valid.Header()
	hdr.Time++ // signature no longer covers the header: recovers someone else
	resigned := types.NewBlockWithHeader(hdr).WithBody(*valid.Body())
	hdr = valid.Header()
	hdr.UncleHash = common.Hash{1}
	uncles := types.NewBlockWithHeader(hdr).WithBody(*valid.Body())
	hdr = valid.Header()
	hdr.Number = new(big.Int)
	zero := types.NewBlockWithHeader(hdr).WithBody(*valid.Body())
	hdr = valid.Header()
	hdr.Extra = make([]byte, chain.MaxExtra+1)
	longExtra := types.NewBlockWithHeader(hdr).WithBody(*valid.Body())

	// knownBadBody is the head's header with transactions that do not
	// decode: known from the header alone, the body is never decoded.
	headHdr, err := rlp.EncodeToBytes(head.Header())
	if err != nil {
		t.Fatal(err)
	}
	knownBadBody, err := rlp.EncodeToBytes([]any{
		[]any{rlp.RawValue(headHdr), []byte("not a list of transactions"), []any{}},
		[]byte{1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := checker.check(knownBadBody[:len(knownBadBody)-1]); !errors.Is(err, errMalformed) {
		t.Fatalf("truncated message: err %v, want %v", err, errMalformed)
	}
	if h := gossipHeader(enc(valid)); h == nil || h.Hash() != valid.Hash() {
		t.Fatalf("gossipHeader: %v, want the header of block %x", h, valid.Hash())
	}

	tests := []struct {
		name string
		data []byte
		want pubsub.ValidationResult
		err  error
	}{
		{"valid child of the head", enc(valid), accept, nil},
		{"known block", enc(head), ignore, errKnown},
		{"known header, body not decoded", knownBadBody, ignore, errKnown},
		{"unknown parent, member author", enc(orphan), ignore, errUnknownParent},
		{"from the future", enc(future), ignore, consensus.ErrFutureBlock},
		{"author not a member", enc(nonMember), reject, errNotMember},
		{"unknown parent, author not a member", enc(nonMemberOrphan), reject, errNotMember},
		{"seal is no signature", enc(unsigned), reject, nil},
		{"signature over another header", enc(resigned), reject, nil},
		{"transactions root mismatch", enc(badRoot), reject, errBlockShape},
		{"uncles", enc(uncles), reject, errBlockShape},
		{"number zero", enc(zero), reject, errBlockShape},
		{"extra too long", enc(longExtra), reject, errBlockShape},
		{"malformed", []byte{0xf9, 0x01}, reject, errMalformed},
		{"oversized", make([]byte, maxBlockGossip+1), reject, errOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b, err := checker.check(tt.data)
			if res != tt.want {
				t.Fatalf("result: have %s (%v), want %s", resultName(res), err, resultName(tt.want))
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("err: have %v, want %v", err, tt.err)
			}
			if (res == accept) != (b != nil) && !errors.Is(err, errUnknownParent) {
				t.Fatalf("block returned: have %v, want %v", b != nil, res == accept)
			}
		})
	}
}

// consensusFunc is a ConsensusValidator made of a function.
type consensusFunc func(common.Address, []byte) error

func (f consensusFunc) ValidateConsensus(from common.Address, data []byte) error {
	return f(from, data)
}

func TestCheckConsensus(t *testing.T) {
	errBadVote := errors.New("bad vote")
	tests := []struct {
		name string
		data []byte
		verr error
		want pubsub.ValidationResult
	}{
		{"valid", []byte("vote"), nil, accept},
		{"engine rejects", []byte("vote"), errBadVote, reject},
		{"engine ignores", []byte("old vote"), fmt.Errorf("round passed: %w", ErrIgnore), ignore},
		{"oversized", make([]byte, 65), nil, reject},
	}
	from := addrOf(t, "A")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var called bool
			v := consensusFunc(func(a common.Address, d []byte) error {
				called = true
				if a != from || !bytes.Equal(d, tt.data) {
					t.Fatalf("validator saw %s %x", a, d)
				}
				return tt.verr
			})
			res, err := checkConsensus(tt.data, from, 64, v)
			if res != tt.want {
				t.Fatalf("result: have %s (%v), want %s", resultName(res), err, resultName(tt.want))
			}
			if called == (len(tt.data) > 64) {
				t.Fatalf("validator called: have %v", called)
			}
		})
	}
}

// syncPool is a pool safe for concurrent use that takes every transaction
// once, remembering its sender as txpool.Pool does; block, if set, holds
// the Add of the transaction blockOn until it is closed, and entered tells
// that it began.
type syncPool struct {
	mu      sync.Mutex
	has     map[common.Hash]common.Address
	adds    map[common.Hash]int
	block   chan struct{}
	blockOn common.Hash
	entered chan struct{}
	signer  types.Signer
}

func newSyncPool(signer types.Signer) *syncPool {
	return &syncPool{has: map[common.Hash]common.Address{}, adds: map[common.Hash]int{}, signer: signer}
}

func (p *syncPool) Has(h common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.has[h]
	return ok
}

func (p *syncPool) Sender(h common.Hash) (common.Address, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.has[h]
	return a, ok
}

func (p *syncPool) Add(tx *types.Transaction) error {
	if p.block != nil && tx.Hash() == p.blockOn {
		close(p.entered)
		<-p.block
	}
	from, err := types.Sender(p.signer, tx) // cached by the check
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adds[tx.Hash()]++
	if _, ok := p.has[tx.Hash()]; ok {
		return txpool.ErrAlreadyKnown
	}
	p.has[tx.Hash()] = from
	return nil
}

// TestClaimsOneRecoveryPerTransaction: pubsub checks batches concurrently,
// and two batches holding the same transaction both found it missing from
// the pool and both recovered its sender. With claims, the second batch
// leaves it to the first, waits for it once its own are done, and finds it
// pooled.
func TestClaimsOneRecoveryPerTransaction(t *testing.T) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	to := addrOf(t, "D")
	t1, t2, t3 := transfer(t, "A", 0, to), transfer(t, "A", 1, to), transfer(t, "B", 0, to)
	batchOf := func(txs ...*types.Transaction) []byte {
		var raws [][]byte
		for _, tx := range txs {
			raw, err := tx.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
		b, err := encodeBatch(raws)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	pool := newSyncPool(r.Signer)
	pool.block, pool.blockOn, pool.entered = make(chan struct{}), t1.Hash(), make(chan struct{})
	cl := newClaims()
	type result struct {
		c   batchCounts
		err error
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() {
		_, c, err := checkTxBatch(batchOf(t1, t2), r, pool, nil, cl, nil, common.Address{})
		first <- result{c, err}
	}()
	<-pool.entered // the first batch holds t1 and t2, stuck in the pool
	go func() {
		_, c, err := checkTxBatch(batchOf(t2, t3, t3), r, pool, nil, cl, nil, common.Address{})
		second <- result{c, err}
	}()
	// The second batch checks and adds t3, its own, then waits for t2.
	deadline := time.Now().Add(10 * time.Second)
	for !pool.Has(t3.Hash()) {
		if time.Now().After(deadline) {
			t.Fatal("the second batch never added t3")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case res := <-second:
		t.Fatalf("the second batch finished (%+v) while the first still held t2", res)
	case <-time.After(100 * time.Millisecond):
	}
	cl.mu.Lock()
	held := len(cl.m)
	cl.mu.Unlock()
	if held != 2 {
		t.Fatalf("%d claims held while the first batch is stuck, want 2 (t1 and t2)", held)
	}
	close(pool.block)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil {
		t.Fatalf("errors: %v, %v", a.err, b.err)
	}
	if a.c.recovered != 2 || b.c.recovered != 1 {
		t.Fatalf("recovered: first %d, second %d; want 2 and 1 (t2 once)", a.c.recovered, b.c.recovered)
	}
	for _, tx := range []*types.Transaction{t1, t2, t3} {
		if !pool.Has(tx.Hash()) {
			t.Fatalf("%x not pooled", tx.Hash())
		}
	}
	if len(cl.m) != 0 {
		t.Fatalf("%d claims left", len(cl.m))
	}

	// Batches holding the same transactions in opposite orders, checked at
	// the same time again and again, never wait for each other for good,
	// and each transaction's sender is recovered once.
	for i := range 50 {
		txs := []*types.Transaction{transfer(t, "A", uint64(10+2*i), to), transfer(t, "B", uint64(10+2*i), to)}
		pool := newSyncPool(r.Signer)
		var wg sync.WaitGroup
		var total atomic.Int64
		for _, data := range [][]byte{batchOf(txs[0], txs[1]), batchOf(txs[1], txs[0]), batchOf(txs[0], txs[0])} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, c, _ := checkTxBatch(data, r, pool, nil, cl, nil, common.Address{})
				total.Add(int64(c.recovered))
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the checks are still waiting (a deadlock)", i)
		}
		if total.Load() != 2 {
			t.Fatalf("round %d: %d recoveries for 2 transactions", i, total.Load())
		}
		if len(cl.m) != 0 {
			t.Fatalf("round %d: %d claims left", i, len(cl.m))
		}
	}
}

// TestBatchesOutOfOrderTakenInFull: batches are checked concurrently, so a
// sender's whole batch can reach the pool before the batch it follows (the
// earlier one waiting for its sender quorum, say). The pool's default
// bound on a sender's non-executable transactions takes it in full, and
// the batch is passed on; with the old bound of 32 most of it was refused.
func TestBatchesOutOfOrderTakenInFull(t *testing.T) {
	tc := newTestChain(t, testGenesis(t), "A")
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	to := addrOf(t, "D")
	batchOf := func(first uint64) []byte {
		raw := make([][]byte, maxBatchTxs)
		for i := range raw {
			raw[i], _ = transfer(t, "B", first+uint64(i), to).MarshalBinary()
		}
		data, err := encodeBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	early, late := batchOf(0), batchOf(maxBatchTxs)
	for i, data := range [][]byte{late, early} {
		res, c, err := checkTxBatch(data, r, tc.pool, nil, nil, nil, addrOf(t, "A"))
		if err != nil || res != accept || c.took != maxBatchTxs {
			t.Fatalf("batch %d: %s (%v), took %d of %d; want all taken and passed on", i, resultName(res), err, c.took, maxBatchTxs)
		}
	}
	if exec, fut := tc.pool.Stats(); exec != 2*maxBatchTxs || fut != 0 {
		t.Fatalf("pool: %d executable, %d not; want %d executable", exec, fut, 2*maxBatchTxs)
	}
}

// TestCheckBlockValidatedCopy: the announcement of a block this node
// validated as a proposal is matched against its own copy by transaction
// hashes, not decoded; an announcement of the same header with any other
// body is decoded and judged in full.
func TestCheckBlockValidatedCopy(t *testing.T) {
	g := testGenesis(t)
	tc := newTestChain(t, g, "A")
	tc.extend(2, nil)
	head := tc.chain.CurrentBlock()
	to := addrOf(t, "B")
	legacy, err := types.SignNewTx(testKey(t, "B"), types.NewLondonSigner(big.NewInt(testChainID)),
		&types.LegacyTx{Nonce: 0, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	txs := []*types.Transaction{transfer(t, "A", 0, to), legacy, transfer(t, "A", 1, to)}
	valid := tc.mine(head, txs, 1)
	if err := tc.chain.ValidateBlock(valid); err != nil {
		t.Fatal(err)
	}
	checker := newBlockChecker(tc.chain, tc.engine, HeadMembers(tc.chain))
	enc := func(v any) []byte {
		data, err := rlp.EncodeToBytes(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	res, gb, err := checker.check(enc(&gossipBlock{Block: valid}))
	if res != accept || err != nil || gb == nil || gb.Block != valid {
		t.Fatalf("announcement of the validated block: %s, %v; want accepted as this node's own copy", resultName(res), err)
	}
	forged := valid.WithBody(types.Body{Transactions: []*types.Transaction{txs[0], txs[2], txs[1]}})
	if res, gb, err := checker.check(enc(&gossipBlock{Block: forged})); res != reject || !errors.Is(err, errBlockShape) || gb != nil {
		t.Fatalf("same header, transactions reordered: %s, %v; want rejected", resultName(res), err)
	}

	hdr, err := rlp.EncodeToBytes(valid.Header())
	if err != nil {
		t.Fatal(err)
	}
	raw := func(list ...*types.Transaction) []rlp.RawValue {
		out := make([]rlp.RawValue, len(list))
		for i, tx := range list {
			out[i] = enc(tx)
		}
		return out
	}
	announce := func(body []any, cert []byte) []byte {
		return enc([]any{append([]any{rlp.RawValue(hdr)}, body...), cert})
	}
	for _, tt := range []struct {
		name     string
		data     []byte
		want     bool
		wantCert []byte
	}{
		{"the same transactions", announce([]any{raw(txs...), []any{}}, []byte{7}), true, []byte{7}},
		{"no certificate", announce([]any{raw(txs...), []any{}}, nil), true, nil},
		{"one missing", announce([]any{raw(txs[:2]...), []any{}}, nil), false, nil},
		{"one more", announce([]any{raw(append(txs, transfer(t, "A", 2, to))...), []any{}}, nil), false, nil},
		{"reordered", announce([]any{raw(txs[1], txs[0], txs[2]), []any{}}, nil), false, nil},
		{"an uncle", announce([]any{raw(txs...), []any{rlp.RawValue(hdr)}}, nil), false, nil},
		{"withdrawals", announce([]any{raw(txs...), []any{}, []any{}}, nil), false, nil},
		{"trailing bytes", append(announce([]any{raw(txs...), []any{}}, nil), 0x80), false, nil},
		// The legacy transaction's list wrapped in a string hashes alike
		// but does not decode; a typed one's content as a bare list is
		// no transaction either.
		{"legacy transaction as a string", announce([]any{[]any{rlp.RawValue(enc(txs[0])), enc(txs[1]), rlp.RawValue(enc(txs[2]))}, []any{}}, nil), false, nil},
		{"typed transaction unwrapped", announce([]any{[]any{typedBare(t, txs[0]), enc(txs[1]), enc(txs[2])}, []any{}}, nil), false, nil},
	} {
		cert, ok := sameTransactions(tt.data, valid.Transactions())
		if ok != tt.want || !bytes.Equal(cert, tt.wantCert) {
			t.Errorf("%s: have %v %x, want %v %x", tt.name, ok, cert, tt.want, tt.wantCert)
		}
	}
}

// typedBare returns a typed transaction's binary encoding (type byte and
// payload) as raw RLP, not wrapped in a string as a block body holds it.
func typedBare(t *testing.T, tx *types.Transaction) rlp.RawValue {
	b, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
