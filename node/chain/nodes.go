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
	clean *fastcache.Cache // nodes read from disk

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

// nodePath is where a node sits: its trie (the owner: zero for the account
// trie, the account's hash for a storage trie) and its path in it.
type nodePath struct {
	owner common.Hash
	path  string
}

// pathNode is a node a commit created or deleted at a path of a trie.
type pathNode struct {
	nodePath
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
	// written: this state is on disk. The layer stays while held, so
	// that the newest blocks read its nodes from memory, but the layers
	// above it stop at it (below it, everything is on disk).
	written bool
}

// below returns the layer under l that a walk down l's state goes on to:
// nil at a state on disk.
func (l *layer) below() *layer {
	if l.written || l.parent == nil || l.parent.written {
		return nil
	}
	return l.parent
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
		n := 0
		for _, set := range sets.Sets {
			n += len(set.Nodes)
		}
		l.nodes = make([]pathNode, 0, n)
		for owner, set := range sets.Sets {
			for path, n := range set.Nodes {
				at := nodePath{owner: owner, path: path}
				if n.IsDeleted() {
					l.nodes = append(l.nodes, pathNode{nodePath: at})
					continue
				}
				l.nodes = append(l.nodes, pathNode{nodePath: at, hash: n.Hash, blob: n.Blob})
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
	// the parent cannot be dropped in between. A parent written lately is
	// still in memory (written layers stay while held), so this rarely
	// reads the disk.
	if p == nil && !s.onDisk(parent) {
		return fmt.Errorf("commit state %x: parent state %x: %w", root, parent, errNodeMissing)
	}
	l.parent = p
	for i := range l.nodes {
		pn := &l.nodes[i]
		if pn.hash == (common.Hash{}) {
			continue
		}
		m, ok := s.nodes[pn.hash]
		if ok {
			pn.blob = m.blob // one copy of a node however many layers hold it
		} else {
			m.blob = pn.blob
			s.size += int64(len(m.blob))
		}
		m.refs++
		s.nodes[pn.hash] = m
	}
	s.layers[root] = l
	return nil
}

// hold keeps the state root in memory until release, and reports whether
// the state can be read: held in memory, or on disk (holding a state on
// disk does nothing). Checked under the lock, so a true answer stays true
// until the release.
func (s *nodeStore) hold(root common.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.layers[root]; l != nil {
		l.holds++
		return true
	}
	return s.onDisk(root)
}

// onDisk reports whether the root node of a state not in memory is on
// disk (a state's root is written last), keeping it in the clean cache so
// that the next look (an empty block's hold on the same root) does not
// read the disk again. Called with s.mu held.
func (s *nodeStore) onDisk(root common.Hash) bool {
	if root == types.EmptyRootHash || s.clean.Has(root[:]) {
		return true
	}
	blob, err := s.disk.Get(root[:])
	if err != nil || len(blob) == 0 {
		return false
	}
	s.clean.Set(root[:], blob)
	return true
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
		for x := l; x != nil; x = x.below() {
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
	if l := s.layers[root]; l != nil && !l.written {
		for ; l != nil; l = l.below() {
			n += l.size
		}
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
// nothing on disk refers to yet). The layer is then marked written: walks
// from the layers above stop at it, and it goes when its holds do. A root
// without a layer must be on disk already.
func (s *nodeStore) write(root common.Hash) error {
	if root == types.EmptyRootHash {
		return nil // nothing to write: the empty trie has no node
	}
	s.mu.RLock()
	top := s.layers[root]
	var (
		puts     []pathNode
		rootBlob []byte
	)
	if top != nil && !top.written {
		n := 0
		for l := top; l != nil; l = l.below() {
			n += len(l.nodes)
		}
		puts = make([]pathNode, 0, n)
		seen := make(map[nodePath]struct{}, n)
		for l := top; l != nil; l = l.below() {
			for _, pn := range l.nodes {
				if _, ok := seen[pn.nodePath]; ok {
					continue
				}
				seen[pn.nodePath] = struct{}{}
				switch pn.hash {
				case common.Hash{}:
				case root:
					rootBlob = pn.blob
				default:
					puts = append(puts, pn)
				}
			}
		}
	}
	written := top != nil && top.written
	s.mu.RUnlock()
	if written {
		return nil
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
	put := batch.Put
	if sp, ok := batch.(sharedPutter); ok {
		put = sp.PutShared // node encodings never change: no copy
	}
	for _, p := range puts {
		if err := put(p.hash[:], p.blob); err != nil {
			return err
		}
	}
	if err := batch.Write(); err != nil {
		return fmt.Errorf("write state %x: %w", root, err)
	}
	if err := s.disk.Put(root[:], rootBlob); err != nil {
		return fmt.Errorf("write state %x root: %w", root, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.layers[root] == top {
		top.written = true
		top.parent = nil
		s.gc()
	}
	return nil
}

// sharedPutter is a batch that can take a value without copying it.
type sharedPutter interface {
	PutShared(key, value []byte) error
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
