package chain

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/hashdb"
	"github.com/holiman/uint256"
)

// nodesEnv is a state database over a node store on an in-memory disk.
type nodesEnv struct {
	t     *testing.T
	disk  ethdb.Database
	nodes *nodeStore
	db    *stateDatabase
}

func newNodesEnv(t *testing.T) *nodesEnv {
	disk := rawdb.NewMemoryDatabase()
	return reopenNodesEnv(t, disk)
}

// reopenNodesEnv opens a fresh node store (empty memory, empty clean cache)
// over disk, as a restart would.
func reopenNodesEnv(t *testing.T, disk ethdb.Database) *nodesEnv {
	nodes := newNodeStore(disk, 1<<20)
	return &nodesEnv{t: t, disk: disk, nodes: nodes, db: &stateDatabase{nodes: nodes, codes: state.NewCodeDB(disk)}}
}

var nodesRules = params.Rules{IsHomestead: true, IsEIP150: true, IsEIP155: true, IsEIP158: true, IsByzantium: true, IsConstantinople: true, IsPetersburg: true, IsIstanbul: true, IsBerlin: true, IsLondon: true}

func acct(i int) common.Address { return common.BigToAddress(big.NewInt(int64(1000 + i))) }

// apply opens root, runs change on it and commits, holding the new state
// as commitState does (the commit holds a changed state).
func (e *nodesEnv) apply(root common.Hash, number uint64, change func(*state.StateDB)) common.Hash {
	e.t.Helper()
	st, err := state.New(root, e.db)
	if err != nil {
		e.t.Fatalf("open %x: %v", root, err)
	}
	change(st)
	next, err := st.Commit(nodesRules, number)
	if err != nil {
		e.t.Fatalf("commit: %v", err)
	}
	if next == root {
		e.nodes.hold(next)
	}
	return next
}

// balances sets account i's balance to v(i) for i in [0, n).
func balances(n int, v func(int) uint64) func(*state.StateDB) {
	return func(st *state.StateDB) {
		for i := 0; i < n; i++ {
			st.SetBalance(acct(i), uint256.NewInt(v(i)), tracing.BalanceChangeUnspecified)
		}
	}
}

// reachable lists every stored node of root's account trie and storage
// tries, read through the store.
func (e *nodesEnv) reachable(root common.Hash) map[common.Hash]bool {
	e.t.Helper()
	out := make(map[common.Hash]bool)
	add := func(it trie.NodeIterator) {
		for it.Next(true) {
			if h := it.Hash(); h != (common.Hash{}) {
				out[h] = true
			}
		}
		if it.Error() != nil {
			e.t.Fatalf("walk %x: %v", root, it.Error())
		}
	}
	tr, err := trie.NewStateTrie(trie.StateTrieID(root), e.nodes)
	if err != nil {
		e.t.Fatalf("open %x: %v", root, err)
	}
	add(tr.MustNodeIterator(nil))
	leaves := trie.NewIterator(tr.MustNodeIterator(nil))
	for leaves.Next() {
		var a types.StateAccount
		if err := rlp.DecodeBytes(leaves.Value, &a); err != nil {
			e.t.Fatal(err)
		}
		if a.Root == types.EmptyRootHash {
			continue
		}
		st, err := trie.NewStateTrie(trie.StorageTrieID(root, common.BytesToHash(leaves.Key), a.Root), e.nodes)
		if err != nil {
			e.t.Fatalf("open storage %x: %v", a.Root, err)
		}
		add(st.MustNodeIterator(nil))
	}
	return out
}

// diskNodes lists the trie nodes on disk: keys of hash length.
func (e *nodesEnv) diskNodes() map[common.Hash]bool {
	e.t.Helper()
	out := make(map[common.Hash]bool)
	it := e.disk.NewIterator(nil, nil)
	defer it.Release()
	for it.Next() {
		if len(it.Key()) == common.HashLength && crypto.Keccak256Hash(it.Value()) == common.BytesToHash(it.Key()) {
			out[common.BytesToHash(it.Key())] = true
		}
	}
	return out
}

// checkDiskHolds asserts that disk holds exactly the nodes of the written
// states: each whole, and nothing a later state replaced before a write.
func (e *nodesEnv) checkDiskHolds(written ...common.Hash) {
	e.t.Helper()
	fresh := reopenNodesEnv(e.t, e.disk) // reads from disk only
	want := make(map[common.Hash]bool)
	for _, root := range written {
		for h := range fresh.reachable(root) {
			want[h] = true
		}
	}
	have := e.diskNodes()
	for h := range have {
		if !want[h] {
			e.t.Errorf("node %x on disk belongs to no written state", h)
		}
	}
	if len(have) != len(want) {
		e.t.Errorf("nodes on disk: have %d, want %d", len(have), len(want))
	}
}

// TestNodeLayersWriteNewestOnly: writing a state writes, for every trie
// path its layers touched, the newest node only; the state is then whole on
// disk, and a node an intermediate state had and a later one replaced is
// not written (hashdb's write decoded every node to find its children; this
// one decodes none).
func TestNodeLayersWriteNewestOnly(t *testing.T) {
	e := newNodesEnv(t)
	const n = 300
	r0 := e.apply(types.EmptyRootHash, 0, balances(n, func(i int) uint64 { return uint64(i + 1) }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r := r0
	var mid []common.Hash
	for b := uint64(1); b <= 5; b++ {
		r = e.apply(r, b, balances(n/3, func(i int) uint64 { return b*1000 + uint64(i) }))
		mid = append(mid, r)
	}
	if err := e.nodes.write(r); err != nil {
		t.Fatal(err)
	}
	e.checkDiskHolds(r0, r)
	// A written state has nothing left to write, and the layers above it
	// stop at it.
	if n := e.nodes.unwritten(r); n != 0 {
		t.Fatalf("unwritten after the write: %d bytes", n)
	}
	r6 := e.apply(r, 6, balances(1, func(int) uint64 { return 6 }))
	if have, want := e.nodes.unwritten(r6), e.nodes.layers[r6].size; have != want {
		t.Fatalf("unwritten above a written state: have %d, want its own layer's %d", have, want)
	}
	e.nodes.release(r6)
	for _, m := range mid[:len(mid)-1] {
		if has, _ := e.disk.Has(m[:]); has {
			t.Errorf("root node of intermediate state %x written", m)
		}
	}
	// The intermediate states are held: readable whole from memory.
	for i, m := range mid[:len(mid)-1] {
		st, err := state.New(m, e.db)
		if err != nil {
			t.Fatalf("open held state %d: %v", i+1, err)
		}
		for j := 0; j < n; j++ {
			want := uint64(j + 1)
			if j < n/3 {
				want = uint64(i+1)*1000 + uint64(j)
			}
			if have := st.GetBalance(acct(j)).Uint64(); have != want {
				t.Fatalf("state %d account %d: balance %d, want %d", i+1, j, have, want)
			}
		}
		if err := st.Error(); err != nil {
			t.Fatalf("state %d: %v", i+1, err)
		}
	}
	// Released, they are gone; the written ones stay.
	e.nodes.release(mid...)
	if e.nodes.memory() != 0 {
		t.Fatalf("memory after releasing every state: %d bytes", e.nodes.memory())
	}
	for _, m := range mid[:len(mid)-1] {
		if _, err := e.db.Reader(m); err == nil {
			t.Errorf("released state %x still opens", m)
		}
	}
	fresh := reopenNodesEnv(t, e.disk)
	st, err := state.New(r, fresh.db)
	if err != nil {
		t.Fatal(err)
	}
	if have := st.GetBalance(acct(0)).Uint64(); have != 5000 {
		t.Fatalf("balance read from disk: %d, want 5000", have)
	}
}

// TestNodeLayersAncestorsKeptForHeldStates: a held state that is not on
// disk keeps the layers below it down to the nearest state on disk, even
// after a later state is written, because the nodes the later blocks
// replaced are in memory only.
func TestNodeLayersAncestorsKeptForHeldStates(t *testing.T) {
	e := newNodesEnv(t)
	r0 := e.apply(types.EmptyRootHash, 0, balances(100, func(i int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r1 := e.apply(r0, 1, balances(10, func(int) uint64 { return 11 }))
	r2 := e.apply(r1, 2, balances(20, func(int) uint64 { return 22 }))
	r3 := e.apply(r2, 3, balances(30, func(int) uint64 { return 33 }))
	// Only r2 stays held; r3 is written.
	e.nodes.release(r1)
	if err := e.nodes.write(r3); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r3)
	st, err := state.New(r2, e.db)
	if err != nil {
		t.Fatalf("held state: %v", err)
	}
	for i := 0; i < 100; i++ {
		want := uint64(1)
		if i < 20 {
			want = 22
		}
		if have := st.GetBalance(acct(i)).Uint64(); have != want {
			t.Fatalf("account %d: %d, want %d", i, have, want)
		}
	}
	if err := st.Error(); err != nil {
		t.Fatal(err)
	}
	// r1's layer stays as part of r2's, so r1 (released) still reads
	// whole until r2 goes.
	if st1, err := state.New(r1, e.db); err != nil || st1.GetBalance(acct(15)).Uint64() != 1 || st1.GetBalance(acct(5)).Uint64() != 11 {
		t.Fatalf("state r1 below a held state: %v", err)
	}
	e.nodes.release(r2)
	if _, err := e.db.Reader(r1); err == nil {
		t.Errorf("state r1 still opens with nothing above it held")
	}
	if e.nodes.memory() != 0 {
		t.Fatalf("memory after releasing every state: %d bytes", e.nodes.memory())
	}
	e.checkDiskHolds(r0, r3)
}

// TestNodeLayersSiblingsShareNodes: two states grown from one parent that
// produce some identical nodes each hold them; dropping one branch keeps
// the other whole.
func TestNodeLayersSiblingsShareNodes(t *testing.T) {
	e := newNodesEnv(t)
	r0 := e.apply(types.EmptyRootHash, 0, balances(50, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	a := e.apply(r0, 1, func(st *state.StateDB) {
		balances(10, func(int) uint64 { return 7 })(st)
		st.SetBalance(acct(40), uint256.NewInt(8), tracing.BalanceChangeUnspecified)
	})
	b := e.apply(r0, 1, func(st *state.StateDB) {
		balances(10, func(int) uint64 { return 7 })(st) // the same leaves as a
		st.SetBalance(acct(41), uint256.NewInt(9), tracing.BalanceChangeUnspecified)
	})
	e.nodes.release(b)
	if _, err := e.db.Reader(b); err == nil {
		t.Fatalf("released branch still opens")
	}
	have := e.reachable(a) // fails on a missing node
	if len(have) == 0 {
		t.Fatal("no nodes")
	}
	st, _ := state.New(a, e.db)
	if st.GetBalance(acct(3)).Uint64() != 7 || st.GetBalance(acct(40)).Uint64() != 8 || st.GetBalance(acct(41)).Uint64() != 1 {
		t.Fatalf("branch a reads wrong after b was dropped")
	}
}

// TestNodeLayersRefuseLostParent: a state executed on a parent whose nodes
// are gone from memory and were never written cannot be committed: it
// could never be written whole.
func TestNodeLayersRefuseLostParent(t *testing.T) {
	e := newNodesEnv(t)
	r0 := e.apply(types.EmptyRootHash, 0, balances(20, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r1 := e.apply(r0, 1, balances(5, func(int) uint64 { return 2 }))
	e.nodes.release(r1)
	if _, err := e.db.Reader(r1); err == nil {
		t.Fatal("setup: r1 still opens")
	}
	blob := []byte{0xc2, 0x80, 0x80}
	set := trienode.NewNodeSet(common.Hash{})
	set.AddNode(nil, trienode.NewNodeWithPrev(crypto.Keccak256Hash(blob), blob, nil))
	sets := trienode.NewWithNodeSet(set)
	if err := e.nodes.commit(common.HexToHash("0x01"), r1, sets); !errors.Is(err, errNodeMissing) {
		t.Fatalf("commit on a lost parent: have %v, want %v", err, errNodeMissing)
	}
	if e.nodes.memory() != 0 {
		t.Fatalf("a refused commit kept %d bytes", e.nodes.memory())
	}
}

// TestNodeLayersStorageWipe: deleting an account that has storage (possible
// before Cancun's rules) walks its storage trie through the store's
// iterator and marks the storage nodes deleted: the write leaves them out,
// and the account is gone.
func TestNodeLayersStorageWipe(t *testing.T) {
	e := newNodesEnv(t)
	c := common.HexToAddress("0xc0")
	r0 := e.apply(types.EmptyRootHash, 0, balances(10, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r1 := e.apply(r0, 1, func(st *state.StateDB) {
		st.SetNonce(c, 1, tracing.NonceChangeUnspecified)
		for i := 0; i < 64; i++ {
			st.SetState(c, common.BigToHash(big.NewInt(int64(i))), common.BigToHash(big.NewInt(int64(i+1))))
		}
	})
	r2 := e.apply(r1, 2, func(st *state.StateDB) {
		st.SelfDestruct(c)
	})
	if err := e.nodes.write(r2); err != nil {
		t.Fatal(err)
	}
	e.checkDiskHolds(r0, r2)
	fresh := reopenNodesEnv(t, e.disk)
	st, err := state.New(r2, fresh.db)
	if err != nil {
		t.Fatal(err)
	}
	if st.Exist(c) {
		t.Fatalf("destroyed account still exists")
	}
	st1, err := state.New(r1, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if have := st1.GetState(c, common.BigToHash(big.NewInt(5))); have != common.BigToHash(big.NewInt(6)) {
		t.Fatalf("held state before the wipe: slot 5 = %x", have)
	}
}

// TestNodeLayersTrieShapeChanges: accounts deleted (emptied, under EIP-158)
// collapse trie nodes and recreated ones grow them back, and an account
// with storage destroyed and recreated in one block replaces its storage
// trie: the written state is whole and holds nothing of what was replaced.
func TestNodeLayersTrieShapeChanges(t *testing.T) {
	e := newNodesEnv(t)
	c := common.HexToAddress("0xc0")
	r0 := e.apply(types.EmptyRootHash, 0, func(st *state.StateDB) {
		balances(200, func(i int) uint64 { return uint64(i + 1) })(st)
		st.SetNonce(c, 1, tracing.NonceChangeUnspecified)
		for i := 0; i < 40; i++ {
			st.SetState(c, common.BigToHash(big.NewInt(int64(i))), common.BigToHash(big.NewInt(int64(i+1))))
		}
	})
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	// Block 1 empties accounts 50..199 (deleted), block 2 recreates 60..69
	// and replaces c's storage in one block.
	r1 := e.apply(r0, 1, func(st *state.StateDB) {
		for i := 50; i < 200; i++ {
			st.SetBalance(acct(i), new(uint256.Int), tracing.BalanceChangeUnspecified)
		}
	})
	r2 := e.apply(r1, 2, func(st *state.StateDB) {
		for i := 60; i < 70; i++ {
			st.SetBalance(acct(i), uint256.NewInt(7), tracing.BalanceChangeUnspecified)
		}
		st.SelfDestruct(c)
		st.Finalise(nodesRules)
		st.SetNonce(c, 1, tracing.NonceChangeUnspecified)
		st.SetState(c, common.BigToHash(big.NewInt(100)), common.BigToHash(big.NewInt(5)))
	})
	if err := e.nodes.write(r2); err != nil {
		t.Fatal(err)
	}
	e.checkDiskHolds(r0, r2)
	fresh := reopenNodesEnv(t, e.disk)
	st, err := state.New(r2, fresh.db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		want := uint64(0)
		switch {
		case i < 50:
			want = uint64(i + 1)
		case i >= 60 && i < 70:
			want = 7
		}
		if have := st.GetBalance(acct(i)).Uint64(); have != want || st.Exist(acct(i)) != (want != 0) {
			t.Fatalf("account %d: balance %d (exists %v), want %d", i, have, st.Exist(acct(i)), want)
		}
	}
	if have := st.GetState(c, common.BigToHash(big.NewInt(5))); have != (common.Hash{}) {
		t.Fatalf("slot of the destroyed storage still reads %x", have)
	}
	if have := st.GetState(c, common.BigToHash(big.NewInt(100))); have != common.BigToHash(big.NewInt(5)) {
		t.Fatalf("recreated slot reads %x", have)
	}
	if err := st.Error(); err != nil {
		t.Fatal(err)
	}
}

// failingRoot is a disk whose single Put (the root node's write) fails
// while fail is set.
type failingRoot struct {
	ethdb.Database
	fail bool
}

func (d *failingRoot) Put(k, v []byte) error {
	if d.fail {
		return errors.New("disk full")
	}
	return d.Database.Put(k, v)
}

// TestNodeLayersWriteTornBeforeRoot: a write that stops after the nodes and
// before the root (a crash, a full disk) leaves no state on disk that
// opens: the root is what makes a written state visible. The state stays
// in memory, and the next write completes it.
func TestNodeLayersWriteTornBeforeRoot(t *testing.T) {
	disk := &failingRoot{Database: rawdb.NewMemoryDatabase()}
	e := reopenNodesEnv(t, disk)
	r0 := e.apply(types.EmptyRootHash, 0, balances(100, func(i int) uint64 { return uint64(i) }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r1 := e.apply(r0, 1, balances(30, func(int) uint64 { return 3 }))
	disk.fail = true
	if err := e.nodes.write(r1); err == nil {
		t.Fatal("write with the root's write failing reported no error")
	}
	if _, err := state.New(r1, reopenNodesEnv(t, disk).db); err == nil {
		t.Fatal("a state whose root was not written opens from disk")
	}
	if st, err := state.New(r1, e.db); err != nil || st.GetBalance(acct(1)).Uint64() != 3 {
		t.Fatalf("state after the failed write, from memory: %v", err)
	}
	disk.fail = false
	if err := e.nodes.write(r1); err != nil {
		t.Fatal(err)
	}
	e.checkDiskHolds(r0, r1)
}

// TestNodeLayersConcurrentHolds: states committed, written and released
// on one goroutine while others hold the newest state, read all of it and
// let go: a state held is always whole (run with -race).
func TestNodeLayersConcurrentHolds(t *testing.T) {
	e := newNodesEnv(t)
	const accounts = 64
	r0 := e.apply(types.EmptyRootHash, 0, balances(accounts, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	var (
		mu     sync.Mutex
		newest = r0
		number uint64
		done   = make(chan struct{})
		errs   = make(chan error, 4)
	)
	for g := 0; g < 3; g++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				mu.Lock()
				root, n := newest, number
				e.nodes.hold(root) // taken while the writer cannot release it
				mu.Unlock()
				st, err := state.New(root, e.db)
				if err == nil {
					for i := 0; i < accounts; i++ {
						// Block n set account n%accounts to n.
						want := uint64(1)
						if last := int(n) - ((int(n)-i)%accounts+accounts)%accounts; last >= 1 {
							want = uint64(last)
						}
						if have := st.GetBalance(acct(i)).Uint64(); have != want {
							err = fmt.Errorf("state %d account %d: %d, want %d", n, i, have, want)
							break
						}
					}
					if err == nil {
						err = st.Error()
					}
				}
				e.nodes.release(root)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var held []common.Hash
	root := r0
	for n := uint64(1); n <= 200; n++ {
		next := e.apply(root, n, func(st *state.StateDB) {
			st.SetBalance(acct(int(n%accounts)), uint256.NewInt(n), tracing.BalanceChangeUnspecified)
		})
		mu.Lock()
		newest, number = next, n
		mu.Unlock()
		held = append(held, next)
		if n%4 == 0 {
			if err := e.nodes.write(next); err != nil {
				t.Fatal(err)
			}
		}
		// Only the newest state is held by the writer: a reader's state
		// keeps its layers down to the last write through ancestry alone.
		if len(held) > 1 {
			mu.Lock()
			e.nodes.release(held[0])
			mu.Unlock()
			held = held[1:]
		}
		root = next
	}
	close(done)
	for g := 0; g < 3; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.nodes.release(held...)
	if e.nodes.memory() != 0 {
		t.Fatalf("memory after releasing every state: %d bytes", e.nodes.memory())
	}
}

// TestNodeLayersWrittenStaysWhileHeld: a written state's layer stays in
// memory while it is held (the next blocks read its nodes there), the
// layers below it that nothing else holds go at the write, and the
// written layer goes with its last hold.
func TestNodeLayersWrittenStaysWhileHeld(t *testing.T) {
	e := newNodesEnv(t)
	r0 := e.apply(types.EmptyRootHash, 0, balances(64, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	r1 := e.apply(r0, 1, balances(8, func(int) uint64 { return 2 }))
	r2 := e.apply(r1, 2, balances(4, func(int) uint64 { return 3 }))
	e.nodes.release(r1)
	if e.nodes.layers[r1] == nil {
		t.Fatal("setup: r1's layer went while r2, above it, was unwritten and held")
	}
	if err := e.nodes.write(r2); err != nil {
		t.Fatal(err)
	}
	top := e.nodes.layers[r2]
	if top == nil || !top.written {
		t.Fatalf("written layer: %+v, want it kept and marked written", top)
	}
	if e.nodes.layers[r1] != nil {
		t.Fatal("r1's layer stays after the write though nothing needs it")
	}
	if have, want := e.nodes.memory(), int64(top.size); have != want {
		t.Fatalf("memory after the write: %d bytes, want the written layer's %d", have, want)
	}
	e.nodes.release(r2)
	if len(e.nodes.layers) != 0 || e.nodes.memory() != 0 {
		t.Fatalf("after the last release: %d layers, %d bytes", len(e.nodes.layers), e.nodes.memory())
	}
	st, err := state.New(r2, e.db)
	if err != nil || st.GetBalance(acct(0)).Uint64() != 3 || st.GetBalance(acct(5)).Uint64() != 2 || st.GetBalance(acct(9)).Uint64() != 1 {
		t.Fatalf("r2 from disk: %v", err)
	}
}

// TestNodeLayersSharedNodeCountedOnce: layers that hold the same node share
// one copy of it, and memory counts it once.
func TestNodeLayersSharedNodeCountedOnce(t *testing.T) {
	e := newNodesEnv(t)
	r0 := e.apply(types.EmptyRootHash, 0, balances(16, func(int) uint64 { return 1 }))
	if err := e.nodes.write(r0); err != nil {
		t.Fatal(err)
	}
	e.nodes.release(r0)
	same := balances(4, func(int) uint64 { return 9 })
	a := e.apply(r0, 1, same)
	before := e.nodes.memory()
	b := e.apply(r0, 1, func(st *state.StateDB) {
		same(st)
		st.SetBalance(acct(15), uint256.NewInt(5), tracing.BalanceChangeUnspecified)
	})
	la, lb := e.nodes.layers[a], e.nodes.layers[b]
	shared := 0
	for _, x := range la.nodes {
		for i := range lb.nodes {
			y := &lb.nodes[i]
			if x.hash == y.hash && x.hash != (common.Hash{}) {
				shared++
				if &x.blob[0] != &y.blob[0] {
					t.Fatalf("node %x held twice", x.hash)
				}
			}
		}
	}
	if shared == 0 {
		t.Fatal("setup: the sibling layers share no node")
	}
	if grown, whole := e.nodes.memory()-before, int64(lb.size); grown >= whole {
		t.Fatalf("memory grew by %d for a layer of %d sharing %d nodes", grown, whole, shared)
	}
}

// TestNodeStoreReadsHashdbState: a state go-ethereum's hash-scheme trie
// database wrote (every data directory before decision 48) opens and reads
// whole through the node store: the keys on disk are the same.
func TestNodeStoreReadsHashdbState(t *testing.T) {
	disk := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(disk, &triedb.Config{HashDB: hashdb.Defaults})
	old := state.NewDatabase(tdb, state.NewCodeDB(disk))
	st, err := state.New(types.EmptyRootHash, old)
	if err != nil {
		t.Fatal(err)
	}
	c := common.HexToAddress("0xc0")
	balances(100, func(i int) uint64 { return uint64(i + 1) })(st)
	st.SetNonce(c, 1, tracing.NonceChangeUnspecified)
	st.SetState(c, common.BigToHash(big.NewInt(7)), common.BigToHash(big.NewInt(8)))
	root, err := st.Commit(nodesRules, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := tdb.Commit(root, false); err != nil {
		t.Fatal(err)
	}
	e := reopenNodesEnv(t, disk)
	e.checkDiskHolds(root)
	got, err := state.New(root, e.db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if have := got.GetBalance(acct(i)).Uint64(); have != uint64(i+1) {
			t.Fatalf("account %d: %d", i, have)
		}
	}
	if have := got.GetState(c, common.BigToHash(big.NewInt(7))); have != common.BigToHash(big.NewInt(8)) {
		t.Fatalf("slot: %x", have)
	}
	// And the chain goes on from it.
	next := e.apply(root, 1, balances(3, func(int) uint64 { return 9 }))
	if err := e.nodes.write(next); err != nil {
		t.Fatal(err)
	}
	e.checkDiskHolds(root, next)
}
