package chain

import (
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
)

// stateDatabase is go-ethereum's state.Database over the node store: the
// Merkle-Patricia tries of core/state, with their nodes kept and written
// by nodeStore instead of go-ethereum's hashdb
// (docs/decisions/0048-trie-node-layers.md).
type stateDatabase struct {
	nodes *nodeStore
	codes *state.CodeDB
}

var _ state.Database = (*stateDatabase)(nil)

func (db *stateDatabase) Type() state.DatabaseType { return state.TypeMPT }

// TrieDB implements state.Database. The node store is not a go-ethereum
// trie database; core/state does not call this for Merkle-Patricia tries.
func (db *stateDatabase) TrieDB() *triedb.Database { return nil }

// Reader returns a reader of the state root, which must be readable.
func (db *stateDatabase) Reader(root common.Hash) (state.Reader, error) {
	tr, err := trie.NewStateTrie(trie.StateTrieID(root), db.nodes)
	if err != nil {
		return nil, err
	}
	return &stateReader{
		CodeReader: db.codes.Reader(),
		nodes:      db.nodes,
		root:       root,
		main:       tr,
		subRoots:   make(map[common.Address]common.Hash),
		subTries:   make(map[common.Address]*trie.StateTrie),
	}, nil
}

func (db *stateDatabase) OpenTrie(root common.Hash) (state.Trie, error) {
	return trie.NewStateTrie(trie.StateTrieID(root), db.nodes)
}

func (db *stateDatabase) OpenStorageTrie(stateRoot common.Hash, address common.Address, root common.Hash, _ state.Trie) (state.Trie, error) {
	return trie.NewStateTrie(trie.StorageTrieID(stateRoot, crypto.Keccak256Hash(address.Bytes()), root), db.nodes)
}

// Commit writes new contract code to disk and keeps the update's trie
// nodes in memory as a layer, holding it for the committer
// (nodeStore.commit; Chain.keepCommitted). An update that changes nothing
// commits nothing and takes no hold.
func (db *stateDatabase) Commit(update *state.StateUpdate) error {
	if update.Empty() {
		return nil
	}
	if len(update.Codes) > 0 {
		batch := db.codes.NewBatchWithSize(len(update.Codes))
		for _, code := range update.Codes {
			batch.Put(code.Hash, code.Blob)
		}
		if err := batch.Commit(); err != nil {
			return err
		}
	}
	return db.nodes.commit(update.Root, update.OriginRoot, update.Nodes)
}

// Iteratee walks the tries of the state root. core/state needs it to
// delete the storage of an account that had some.
func (db *stateDatabase) Iteratee(root common.Hash) (state.Iteratee, error) {
	return &trieIteratee{db: db, root: root}, nil
}

// stateReader reads accounts and storage from the tries of one state. It is
// safe for concurrent use: the tries are not, so one lock guards them.
type stateReader struct {
	*state.CodeReader
	nodes *nodeStore
	root  common.Hash

	mu       sync.Mutex
	main     *trie.StateTrie
	subRoots map[common.Address]common.Hash
	subTries map[common.Address]*trie.StateTrie
}

func (r *stateReader) account(addr common.Address) (*types.StateAccount, error) {
	acct, err := r.main.GetAccount(addr)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		r.subRoots[addr] = types.EmptyRootHash
	} else {
		r.subRoots[addr] = acct.Root
	}
	return acct, nil
}

// Account implements state.StateReader: nil for an account that does not
// exist, an error only when a node cannot be read.
func (r *stateReader) Account(addr common.Address) (*types.StateAccount, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.account(addr)
}

// Storage implements state.StateReader.
func (r *stateReader) Storage(addr common.Address, key common.Hash) (common.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr, ok := r.subTries[addr]
	if !ok {
		root, known := r.subRoots[addr]
		if !known {
			if _, err := r.account(addr); err != nil {
				return common.Hash{}, err
			}
			root = r.subRoots[addr]
		}
		var err error
		tr, err = trie.NewStateTrie(trie.StorageTrieID(r.root, crypto.Keccak256Hash(addr.Bytes()), root), r.nodes)
		if err != nil {
			return common.Hash{}, err
		}
		r.subTries[addr] = tr
	}
	v, err := tr.GetStorage(addr, key.Bytes())
	if err != nil {
		return common.Hash{}, err
	}
	return common.BytesToHash(v), nil
}

// errNoPreimage: the iterators know keys by hash only.
var errNoPreimage = errors.New("key preimages are not kept")

// trieIteratee iterates a state's accounts and storage slots in hash order
// over its tries. Keys are hashes: no preimages are kept.
type trieIteratee struct {
	db   *stateDatabase
	root common.Hash
}

func (t *trieIteratee) NewAccountIterator(start common.Hash) (state.AccountIterator, error) {
	tr, err := t.db.OpenTrie(t.root)
	if err != nil {
		return nil, err
	}
	nit, err := tr.NodeIterator(start[:])
	if err != nil {
		return nil, err
	}
	return &trieIterator{it: trie.NewIterator(nit), account: true}, nil
}

func (t *trieIteratee) NewStorageIterator(addrHash, start common.Hash) (state.StorageIterator, error) {
	acct, err := trie.NewStateTrie(trie.StateTrieID(t.root), t.db.nodes)
	if err != nil {
		return nil, err
	}
	a, err := acct.GetAccountByHash(addrHash)
	if err != nil {
		return nil, err
	}
	if a == nil || a.Root == types.EmptyRootHash {
		return &trieIterator{}, nil
	}
	st, err := trie.NewStateTrie(trie.StorageTrieID(t.root, addrHash, a.Root), t.db.nodes)
	if err != nil {
		return nil, err
	}
	nit, err := st.NodeIterator(start[:])
	if err != nil {
		return nil, err
	}
	return &trieIterator{it: trie.NewIterator(nit)}, nil
}

// trieIterator is an account or storage iterator over a trie's leaves; a
// nil it is an empty iterator.
type trieIterator struct {
	it      *trie.Iterator
	account bool
	err     error
}

func (i *trieIterator) Next() bool {
	if i.it == nil || i.err != nil {
		return false
	}
	return i.it.Next()
}

func (i *trieIterator) Error() error {
	if i.err != nil {
		return i.err
	}
	if i.it == nil {
		return nil
	}
	return i.it.Err
}

func (i *trieIterator) Hash() common.Hash {
	if i.it == nil {
		return common.Hash{}
	}
	return common.BytesToHash(i.it.Key)
}

func (i *trieIterator) Release() {}

func (i *trieIterator) Address() (common.Address, error) {
	return common.Address{}, errNoPreimage
}

func (i *trieIterator) Key() (common.Hash, error) {
	return common.Hash{}, errNoPreimage
}

func (i *trieIterator) Account() *types.StateAccount {
	if !i.account || i.it == nil {
		return nil
	}
	var a types.StateAccount
	if err := rlp.DecodeBytes(i.it.Value, &a); err != nil {
		i.err = err
		return nil
	}
	return &a
}

func (i *trieIterator) Slot() common.Hash {
	if i.account || i.it == nil {
		return common.Hash{}
	}
	_, content, _, err := rlp.Split(i.it.Value)
	if err != nil {
		i.err = err
		return common.Hash{}
	}
	return common.BytesToHash(content)
}
