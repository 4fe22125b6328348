package chain

import (
	"errors"
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb/database"
)

// Trie nodes of recent states, kept in memory as one layer per committed
// state (docs/decisions/0048-trie-node-layers.md).
//
// A layer holds the nodes a block's commit created, each under its trie
// (the owner: zero for the account trie, the account's hash for a storage
// trie) and its path, and points at the layer of the state the block ran
// on; a nil parent means that state is on disk. Nodes are read by hash, as
// go-ethereum's hash scheme stores them: from the layers' nodes, then the
// clean cache, then disk, so any state whose layers are in memory, or that
// is on disk, can be opened.
//
// Writing a state to disk walks its layers from the newest down to the
// state on disk it grew from, and writes, for every trie path, the newest
// node only: an older node at the same path was replaced and belongs to
// older states only. Nothing is decoded to find a node's children (as
// go-ethereum's hashdb does, to count references), and nothing a later
// block replaced is written.
//
// A layer stays in memory while a held state needs it: the state's own
// layer and those below it, down to the nearest state on disk (the nodes
// of that state are all on disk; the nodes the layers in between replaced
// are not).
type nodeStore struct {
	disk  ethdb.KeyValueStore
	clean *fastcache.Cache // nodes read from or written to disk

	mu     sync.RWMutex
	nodes  map[common.Hash]memNode // every layer's nodes, by hash
	layers map[common.Hash]*layer  // by state root
	size   int64                   // bytes of the nodes in memory
}

// memNode is a node held by refs layers.
type memNode struct {
	blob []byte
	refs int32
}

// pathNode is a node a commit created or deleted at a path of a trie.
type pathNode struct {
	key  string      // owner, then path
	hash common.Hash // zero: the path's node was deleted
	blob []byte
}

// layer is the nodes one commit created, on top of its parent's state.
type layer struct {
	root   common.Hash
	parent *layer // nil: the parent's state is on disk
	nodes  []pathNode
	size   int // bytes of the nodes' encodings

	holds int // holds taken (commit, hold) and not released
}

var errNodeMissing = errors.New("trie node not in memory or on disk")

func newNodeStore(disk ethdb.KeyValueStore, cleanSize int) *nodeStore {
	return &nodeStore{
		disk:   disk,
		clean:  fastcache.New(cleanSize),
		nodes:  make(map[common.Hash]memNode),
		layers: make(map[common.Hash]*layer),
	}
}

// node returns the encoding of the node with the given hash, nil if it is
// neither in memory nor on disk.
func (s *nodeStore) node(hash common.Hash) []byte {
	s.mu.RLock()
	n, ok := s.nodes[hash]
	s.mu.RUnlock()
	if ok {
		return n.blob
	}
	if blob := s.clean.Get(nil, hash[:]); len(blob) > 0 {
		return blob
	}
	blob, err := s.disk.Get(hash[:])
	if err != nil || len(blob) == 0 {
		return nil
	}
	s.clean.Set(hash[:], blob)
	return blob
}

// NodeReader implements database.NodeDatabase: a reader of the state root,
// if its root node can be read.
func (s *nodeStore) NodeReader(root common.Hash) (database.NodeReader, error) {
	if root != types.EmptyRootHash && s.node(root) == nil {
		return nil, fmt.Errorf("state %x is not available: %w", root, errNodeMissing)
	}
	return nodeReader{s}, nil
}

type nodeReader struct{ s *nodeStore }

// Node implements database.NodeReader. Nodes are content-addressed: the
// owner and path do not matter to the lookup.
func (r nodeReader) Node(_ common.Hash, _ []byte, hash common.Hash) ([]byte, error) {
	if blob := r.s.node(hash); blob != nil {
		return blob, nil
	}
	return nil, errNodeMissing
}

// commit keeps the nodes of the state root, grown from parent, in memory as
// a layer, and takes a hold on it for the committer (a root committed
// before gets one more hold). Each commit's hold is given back by
// release. A parent that is neither in memory nor on disk is refused: the
// state could never be written whole.
func (s *nodeStore) commit(root, parent common.Hash, sets *trienode.MergedNodeSet) error {
	l := &layer{root: root, holds: 1}
	if sets != nil {
		for owner, set := range sets.Sets {
			for path, n := range set.Nodes {
				key := string(owner[:]) + path
				if n.IsDeleted() {
					l.nodes = append(l.nodes, pathNode{key: key})
					continue
				}
				l.nodes = append(l.nodes, pathNode{key: key, hash: n.Hash, blob: n.Blob})
				l.size += len(n.Blob)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.layers[root]; have != nil {
		have.holds++
		return nil
	}
	p := s.layers[parent]
	// Not in memory: on disk, or gone. Checked under the lock, so that
	// the parent cannot be dropped in between; after a write the parent
	// is in the clean cache, so this rarely reads the disk.
	if p == nil && parent != types.EmptyRootHash && !s.clean.Has(parent[:]) {
		if ok, err := s.disk.Has(parent[:]); err != nil || !ok {
			return fmt.Errorf("commit state %x: parent state %x: %w", root, parent, errNodeMissing)
		}
	}
	l.parent = p
	for _, pn := range l.nodes {
		if pn.hash == (common.Hash{}) {
			continue
		}
		m, ok := s.nodes[pn.hash]
		if !ok {
			m.blob = pn.blob
			s.size += int64(len(m.blob))
		}
		m.refs++
		s.nodes[pn.hash] = m
	}
	s.layers[root] = l
	return nil
}

// hold keeps the state root in memory until release. A root without a
// layer is on disk (or gone): holding it does nothing.
func (s *nodeStore) hold(root common.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.layers[root]; l != nil {
		l.holds++
	}
}

// release gives back a hold on each root and drops the layers nothing
// held needs any more.
func (s *nodeStore) release(roots ...common.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, root := range roots {
		if l := s.layers[root]; l != nil && l.holds > 0 {
			l.holds--
		}
	}
	s.gc()
}

// gc drops the layers that no held layer needs: a layer is needed by
// itself and by every layer above it. Called with s.mu held.
func (s *nodeStore) gc() {
	live := make(map[*layer]struct{}, len(s.layers))
	for _, l := range s.layers {
		if l.holds == 0 {
			continue
		}
		for x := l; x != nil; x = x.parent {
			if _, ok := live[x]; ok {
				break
			}
			live[x] = struct{}{}
		}
	}
	for root, l := range s.layers {
		if _, ok := live[l]; !ok {
			s.drop(l)
			delete(s.layers, root)
		}
	}
}

// drop lets go of a layer's nodes. Called with s.mu held.
func (s *nodeStore) drop(l *layer) {
	for _, pn := range l.nodes {
		if pn.hash == (common.Hash{}) {
			continue
		}
		m, ok := s.nodes[pn.hash]
		if !ok {
			continue
		}
		if m.refs--; m.refs > 0 {
			s.nodes[pn.hash] = m
			continue
		}
		s.size -= int64(len(m.blob))
		delete(s.nodes, pn.hash)
	}
	l.nodes = nil
}

// unwritten is the size of what writing root would write at most: the
// nodes of its layers down to the state on disk.
func (s *nodeStore) unwritten(root common.Hash) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for l := s.layers[root]; l != nil; l = l.parent {
		n += l.size
	}
	return n
}

// memory is the size of the nodes held in memory.
func (s *nodeStore) memory() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.size
}

// write puts the state root on disk: for every path of its layers, the
// newest node, the root node last and alone, so that a state whose root is
// on disk is on disk whole (a crash between the two writes leaves nodes
// nothing on disk refers to yet). The layer is then let go: the state is
// read from disk from now on, and the layers above it stop there. A root
// without a layer must be on disk already.
func (s *nodeStore) write(root common.Hash) error {
	s.mu.RLock()
	top := s.layers[root]
	type put struct {
		hash common.Hash
		blob []byte
	}
	var puts []put
	var rootBlob []byte
	if top != nil {
		seen := make(map[string]struct{}, len(top.nodes)*4)
		for l := top; l != nil; l = l.parent {
			for _, pn := range l.nodes {
				if _, ok := seen[pn.key]; ok {
					continue
				}
				seen[pn.key] = struct{}{}
				if pn.hash == (common.Hash{}) {
					continue
				}
				if pn.hash == root {
					rootBlob = pn.blob
					continue
				}
				puts = append(puts, put{pn.hash, pn.blob})
			}
		}
	}
	s.mu.RUnlock()
	if root == types.EmptyRootHash {
		return nil // nothing to write: the empty trie has no node
	}
	if top == nil {
		if s.node(root) != nil {
			return nil
		}
		return fmt.Errorf("write state %x: %w", root, errNodeMissing)
	}
	if rootBlob == nil {
		return fmt.Errorf("write state %x: root node not among its layers", root)
	}
	batch := s.disk.NewBatchWithSize(top.size)
	for _, p := range puts {
		if err := batch.Put(p.hash[:], p.blob); err != nil {
			return err
		}
	}
	if err := batch.Write(); err != nil {
		return fmt.Errorf("write state %x: %w", root, err)
	}
	if err := s.disk.Put(root[:], rootBlob); err != nil {
		return fmt.Errorf("write state %x root: %w", root, err)
	}
	for _, p := range puts {
		s.clean.Set(p.hash[:], p.blob)
	}
	s.clean.Set(root[:], rootBlob)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.layers[root] != top {
		return nil // dropped meanwhile
	}
	for _, l := range s.layers {
		if l.parent == top {
			l.parent = nil
		}
	}
	s.drop(top)
	delete(s.layers, root)
	s.gc()
	return nil
}

// reset drops every layer (the chain is closing).
func (s *nodeStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.nodes)
	clear(s.layers)
	s.size = 0
	s.clean.Reset()
}
