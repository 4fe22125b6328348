package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// VerifyHead checks the head after a restart: its state trie (and every
// contract's storage trie) is complete and every node hashes to its key;
// then the head passes validate afresh, as if it were imported now (header
// rules, engine proof, under a certifying engine its stored certificate,
// re-execution on its parent's state reproducing its receipts and state
// root).
func (c *Chain) VerifyHead() error {
	head := c.CurrentBlock()
	if _, err := c.verifyTrie(head.Root()); err != nil {
		return err
	}
	if head.NumberU64() == 0 {
		return nil
	}
	var cert []byte
	if c.certifier != nil {
		cert = c.Certificate(head.Hash(), head.NumberU64())
	}
	if _, err := c.validate(head, check{cert: cert, stored: true}); err != nil {
		return fmt.Errorf("head %d: %w", head.NumberU64(), err)
	}
	return nil
}

// verifyTrie walks the account trie at root and every storage trie under it,
// checking that each stored node hashes to the hash it is stored under.
func (c *Chain) verifyTrie(root common.Hash) (int, error) {
	t, err := trie.NewStateTrie(trie.StateTrieID(root), c.nodes)
	if err != nil {
		return 0, fmt.Errorf("%w: open state trie %x: %v", ErrNoState, root, err)
	}
	n, err := walk(t.NodeIterator(nil))
	if err != nil {
		return n, fmt.Errorf("state trie %x: %w", root, err)
	}
	acc, err := t.NodeIterator(nil)
	if err != nil {
		return n, err
	}
	leaves := trie.NewIterator(acc)
	for leaves.Next() {
		var a types.StateAccount
		if err := rlp.DecodeBytes(leaves.Value, &a); err != nil {
			return n, fmt.Errorf("decode account: %w", err)
		}
		if a.Root == types.EmptyRootHash {
			continue
		}
		st, err := trie.NewStateTrie(trie.StorageTrieID(root, common.BytesToHash(leaves.Key), a.Root), c.nodes)
		if err != nil {
			return n, fmt.Errorf("%w: storage trie %x: %v", ErrNoState, a.Root, err)
		}
		m, err := walk(st.NodeIterator(nil))
		n += m
		if err != nil {
			return n, fmt.Errorf("storage trie %x: %w", a.Root, err)
		}
	}
	if leaves.Err != nil {
		return n, fmt.Errorf("%w: %v", ErrNoState, leaves.Err)
	}
	return n, nil
}

func walk(it trie.NodeIterator, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n := 0
	for it.Next(true) {
		if h := it.Hash(); h != (common.Hash{}) {
			if got := crypto.Keccak256Hash(it.NodeBlob()); got != h {
				return n, fmt.Errorf("node %x hashes to %x", h, got)
			}
			n++
		}
	}
	if it.Error() != nil {
		return n, fmt.Errorf("%w: %v", ErrNoState, it.Error())
	}
	return n, nil
}
