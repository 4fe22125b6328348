package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/node/store"
)

// mineTransfers mines and imports n blocks on the head, each with one
// transfer from B to Q of 1 wei, starting at B's nonce.
func (e *testEnv) mineTransfers(n int, nonce uint64) uint64 {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.mineInsert(transfer("B", nonce, addrOf("Q"), 1, false))
		nonce++
	}
	return nonce
}

// TestStateRecoveredAfterCrash: block states reach disk in steps, so a
// crash (the store closed without Chain.Close) loses the newest states;
// reopening re-executes the stored blocks after the newest state on disk
// and ends with the same head and balances. A clean close writes the
// head's state, and the next start executes nothing.
func TestStateRecoveredAfterCrash(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := openTestChain(t, db, "A")
	const blocks = 2*flushEvery + flushEvery/2
	e.mineTransfers(blocks, 0)
	head := e.chain.CurrentBlock()
	if e.chain.hasState(e.chain.GetBlockByNumber(blocks-1).Root()) != true {
		t.Fatalf("state of the block before the head is not held")
	}
	db.Close() // crash: Chain.Close never runs

	db, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e2 := openTestChain(t, db, "A")
	if have := e2.chain.CurrentBlock().Hash(); have != head.Hash() {
		t.Fatalf("head after crash: have %x, want %x", have, head.Hash())
	}
	// The last write was at block 2*flushEvery: the blocks after it run again.
	if have, want := e2.chain.executions.Load(), uint64(blocks-2*flushEvery); have != want {
		t.Fatalf("blocks re-executed on start: have %d, want %d", have, want)
	}
	if have := e2.balance("Q"); have.Cmp(big.NewInt(blocks)) != 0 {
		t.Fatalf("balance after recovery: have %v, want %d", have, blocks)
	}
	if _, recovered, _ := e2.chain.StateStats(); recovered != blocks-2*flushEvery {
		t.Fatalf("StateStats recovered: have %d, want %d", recovered, blocks-2*flushEvery)
	}
	if err := e2.chain.VerifyHead(); err != nil {
		t.Fatalf("verify head: %v", err)
	}
	// The chain goes on from the recovered state.
	e2.mineTransfers(3, blocks)
	if err := e2.chain.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	db.Close()

	db, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e3 := openTestChain(t, db, "A")
	if have := e3.chain.executions.Load(); have != 0 {
		t.Fatalf("blocks re-executed after a clean close: %d", have)
	}
	if have := e3.balance("Q"); have.Cmp(big.NewInt(blocks+3)) != 0 {
		t.Fatalf("balance after a clean close: have %v, want %d", have, blocks+3)
	}
}

// TestStatesHeldAreBounded: memory holds only the newest keepStates
// states, and the layers of trie nodes stay bounded however long the chain,
// also when empty blocks (which keep their parent's root) come between.
func TestStatesHeldAreBounded(t *testing.T) {
	e := newTestChain(t, "A")
	nonce := e.mineTransfers(keepStates, 0)
	// Then every other block empty: an empty block keeps its parent's
	// state root, so its hold is taken on the parent's layer, and must be
	// given back like any other.
	for i := 0; i < keepStates; i++ {
		nonce = e.mineTransfers(1, nonce)
		if b := e.mineInsert(); b.Root() != e.chain.GetBlockByNumber(b.NumberU64()-1).Root() {
			t.Fatalf("setup: empty block %d changed the state root", b.NumberU64())
		}
	}
	e.chain.nodes.mu.RLock()
	layers := len(e.chain.nodes.layers)
	e.chain.nodes.mu.RUnlock()
	// The held states' layers, and below the oldest down to its last write.
	if layers > keepStates+flushEvery {
		t.Fatalf("layers in memory: %d, want at most %d", layers, keepStates+flushEvery)
	}
	if writes, _, _ := e.chain.StateStats(); writes != 3*keepStates/flushEvery {
		t.Fatalf("states written: have %d, want %d", writes, 3*keepStates/flushEvery)
	}
	e.chain.keeper.mu.Lock()
	held := len(e.chain.keeper.held)
	e.chain.keeper.mu.Unlock()
	if held > keepStates {
		t.Fatalf("states held: %d, want at most %d", held, keepStates)
	}
	head := e.chain.CurrentBlock().NumberU64()
	if _, err := e.chain.StateAt(e.chain.GetBlockByNumber(head - keepStates + 1).Root()); err != nil {
		t.Fatalf("state %d blocks back: %v", keepStates-1, err)
	}
	// A state neither held nor written (not a flush point) is gone.
	old := e.chain.GetBlockByNumber(head - 2*keepStates + 1)
	if e.chain.hasState(old.Root()) {
		t.Fatalf("state of block %d still readable", old.NumberU64())
	}
	// StateAt (what RPC reads) says so; StateOf (consensus reads)
	// re-executes it from the stored blocks.
	if _, err := e.chain.StateAt(old.Root()); !errors.Is(err, ErrNoState) {
		t.Fatalf("StateAt of a released state: have %v, want %v", err, ErrNoState)
	}
	st, err := e.chain.StateOf(old.Header())
	if err != nil {
		t.Fatalf("StateOf: %v", err)
	}
	if have, want := st.GetNonce(addrOf("B")), old.NumberU64(); have != want {
		t.Fatalf("B's nonce in the recovered state of block %d: have %d, want %d", old.NumberU64(), have, want)
	}
}

// TestDeepReorgRecoversForkState: a heavier branch forking below the
// states held (and not at a flush point) is executed on the fork block's
// state, recovered by re-execution, and the node ends where a node that
// only saw that branch ends.
func TestDeepReorgRecoversForkState(t *testing.T) {
	a := newTestChain(t, "A")
	a.mineTransfers(2*keepStates, 0)
	fork := a.chain.GetBlockByNumber(flushEvery + 3)

	c := newTestChain(t, "C")
	var shared []*types.Block
	for n := uint64(1); n <= fork.NumberU64(); n++ {
		shared = append(shared, a.chain.GetBlockByNumber(n))
	}
	if _, err := c.chain.InsertChain(shared, nil); err != nil {
		t.Fatalf("shared prefix: %v", err)
	}
	var branch []*types.Block
	for i := 0; i < 2*keepStates; i++ {
		b := c.mine(c.chain.CurrentBlock(), []*types.Transaction{transfer("C", uint64(i), addrOf("Q"), 5, false)}, 0)
		if err := c.chain.InsertBlock(b); err != nil {
			t.Fatalf("branch %d: %v", i, err)
		}
		branch = append(branch, b)
	}
	if a.chain.hasState(fork.Root()) {
		t.Fatalf("test setup: the fork block's state is still readable")
	}
	before := a.chain.executions.Load()
	for i, b := range branch {
		if err := a.chain.InsertBlock(b); err != nil {
			t.Fatalf("branch block %d on the first node: %v", i, err)
		}
	}
	// Each branch block runs once, on a state recovered once: the blocks
	// from the last write (block flushEvery) to the fork block.
	if have, want := a.chain.executions.Load()-before, uint64(len(branch)+3); have != want {
		t.Fatalf("executions for the branch: have %d, want %d", have, want)
	}
	if have, want := a.chain.CurrentBlock().Hash(), c.chain.CurrentBlock().Hash(); have != want {
		t.Fatalf("head: have %x, want the heavier branch %x", have, want)
	}
	if have, want := a.balance("Q"), c.balance("Q"); have.Cmp(want) != 0 {
		t.Fatalf("balance: have %v, want %v", have, want)
	}
}

// TestStateRecoveredAfterTornFlush: a crash in the middle of a state
// write leaves that state's root node unwritten (trie nodes are written
// children first, the root last); the start walks back to the state
// written before it and re-executes from there.
func TestStateRecoveredAfterTornFlush(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := openTestChain(t, db, "A")
	const blocks = 2*flushEvery + 3
	e.mineTransfers(blocks, 0)
	head := e.chain.CurrentBlock()
	torn := e.chain.GetBlockByNumber(2 * flushEvery).Root()
	if err := db.StateKV().Delete(torn.Bytes()); err != nil {
		t.Fatalf("tear the write of block %d: %v", 2*flushEvery, err)
	}
	db.Close()

	db, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e2 := openTestChain(t, db, "A")
	if have := e2.chain.CurrentBlock().Hash(); have != head.Hash() {
		t.Fatalf("head: have %x, want %x", have, head.Hash())
	}
	if have, want := e2.chain.executions.Load(), uint64(blocks-flushEvery); have != want {
		t.Fatalf("blocks re-executed: have %d, want %d (from the write at block %d)", have, want, flushEvery)
	}
	if have := e2.balance("Q"); have.Cmp(big.NewInt(blocks)) != 0 {
		t.Fatalf("balance: have %v, want %d", have, blocks)
	}
	if err := e2.chain.VerifyHead(); err != nil {
		t.Fatalf("verify head: %v", err)
	}
}

// TestDeepReorgThenCrash: a reorganisation writes the new head's state at
// once, so a crash right after it does not leave the head further from a
// written state than a start may re-execute. (Without the write, the
// nearest written ancestor of the new head is the fork block.)
func TestDeepReorgThenCrash(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := openTestChain(t, db, "A")
	const long = maxRecover + flushEvery
	a.mineTransfers(long, 0)

	c := newTestChain(t, "C")
	if _, err := c.chain.InsertChain([]*types.Block{a.chain.GetBlockByNumber(1), a.chain.GetBlockByNumber(2)}, nil); err != nil {
		t.Fatalf("shared prefix: %v", err)
	}
	// Same spacing as A's blocks, so the same difficulty: one more block
	// makes the branch heavier.
	for i := 0; c.chain.CurrentBlock().NumberU64() < long+1; i++ {
		b := c.mine(c.chain.CurrentBlock(), []*types.Transaction{transfer("C", uint64(i), addrOf("Q"), 5, false)}, 1)
		if err := c.chain.InsertBlock(b); err != nil {
			t.Fatalf("branch %d: %v", i, err)
		}
	}
	for n := uint64(3); n <= c.chain.CurrentBlock().NumberU64(); n++ {
		if err := a.chain.InsertBlock(c.chain.GetBlockByNumber(n)); err != nil {
			t.Fatalf("branch block %d: %v", n, err)
		}
	}
	want := c.chain.CurrentBlock()
	if have := a.chain.CurrentBlock().Hash(); have != want.Hash() {
		t.Fatalf("head before the crash: have %x, want the branch's %x", have, want.Hash())
	}
	db.Close() // crash

	db, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a2 := openTestChain(t, db, "A")
	if have := a2.chain.CurrentBlock().Hash(); have != want.Hash() {
		t.Fatalf("head after the crash: have %x, want %x", have, want.Hash())
	}
	if have, want := a2.balance("Q"), c.balance("Q"); have.Cmp(want) != 0 {
		t.Fatalf("balance after the crash: have %v, want %v", have, want)
	}
	if _, recovered, _ := a2.chain.StateStats(); recovered >= flushEvery {
		t.Fatalf("start re-executed %d blocks, want fewer than %d", recovered, flushEvery)
	}
}

// TestForgedSealCostsNoRecovery: a side block on a parent whose state was
// released is refused for its bad seal before anything is re-executed.
func TestForgedSealCostsNoRecovery(t *testing.T) {
	a := newTestChain(t, "A")
	a.mineTransfers(3*keepStates, 0)
	parent := a.chain.GetBlockByNumber(flushEvery + 3)
	if a.chain.hasState(parent.Root()) {
		t.Fatalf("test setup: state of block %d still held", parent.NumberU64())
	}
	c := newTestChain(t, "C")
	var prefix []*types.Block
	for n := uint64(1); n <= parent.NumberU64(); n++ {
		prefix = append(prefix, a.chain.GetBlockByNumber(n))
	}
	if _, err := c.chain.InsertChain(prefix, nil); err != nil {
		t.Fatalf("prefix: %v", err)
	}
	good := c.mine(parent, []*types.Transaction{transfer("C", 0, addrOf("Q"), 5, false)}, 0)
	h := good.Header()
	h.MixDigest[0] ^= 1
	forged := types.NewBlockWithHeader(h).WithBody(*good.Body())
	before := a.chain.executions.Load()
	if err := a.chain.InsertBlock(forged); err == nil {
		t.Fatalf("forged seal accepted")
	}
	if have := a.chain.executions.Load() - before; have != 0 {
		t.Fatalf("blocks executed for a forged seal: %d", have)
	}
	// The same block sealed properly is executed on the recovered state.
	if err := a.chain.InsertBlock(good); err != nil {
		t.Fatalf("well-sealed side block: %v", err)
	}
	if have := a.chain.executions.Load() - before; have != 4 {
		t.Fatalf("executions for the side block: have %d, want 4 (3 recovered and the block)", have)
	}
}

// TestReleasedStateReadsReportError: a StateDB opened on a block's state
// that is released while the StateDB is still in use (an RPC read racing
// the import that moves the state out of the kept window) reads zeros, and
// go-ethereum reports that only through StateDB.Error. Every RPC read, Call
// and the validator source check Error for that reason; this test pins the
// behaviour they rely on, deterministically: open, release, then read.
func TestReleasedStateReadsReportError(t *testing.T) {
	e := newTestChain(t, "A")
	e.mineTransfers(5, 0)
	b5 := e.chain.GetBlockByNumber(5) // not a flush point
	st, err := e.chain.StateAt(b5.Root())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Error(); err != nil {
		t.Fatalf("fresh state: %v", err)
	}
	e.mineTransfers(2*keepStates, 5)
	if e.chain.hasState(b5.Root()) {
		t.Fatal("setup: block 5's state is still held")
	}
	nonce := st.GetNonce(addrOf("B"))
	if st.Error() == nil {
		t.Fatalf("read of a released state gave nonce %d and no error; a zero would be served as an answer", nonce)
	}
	if nonce != 0 {
		t.Fatalf("a failed read gave nonce %d; the zero it gives is what Error must flag", nonce)
	}
}
