package watcher

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// pending is a watchtower action not yet in a block: the refute or answer
// of one claim, followed until its transaction lands, the chain refuses
// the call, or the claim's window closes.
type pending struct {
	// Claim is the claim's transaction, which keys the action.
	Claim  common.Hash `json:"claim"`
	Method string      `json:"method"`
	Game   common.Hash `json:"game"`
	// Player is the claimant's opponent, who is notified.
	Player common.Address `json:"player"`
	// Deadline is the last block that may include the action.
	Deadline uint64 `json:"deadline"`
	// Data is the call to the arbiter; it is signed afresh (nonce, gas,
	// price) whenever the node holds no transaction of it.
	Data hexutil.Bytes `json:"data"`
	// What says in a sentence what the action does, for the record.
	What string `json:"what"`
	// LogBlock and LogIndex name the claim's log, whose Handled record
	// follows the action.
	LogBlock common.Hash `json:"logBlock"`
	LogIndex uint        `json:"logIndex"`
	// Attempts counts the attempts that failed (the node refused the
	// transaction or could not be reached).
	Attempts int `json:"attempts"`
	// Sent is true while the node holds the transaction Tx.
	Sent bool        `json:"sent"`
	Tx   common.Hash `json:"tx"`
	// Notice is the last notification sent to Player about the action.
	Notice string `json:"notice"`
	// LastError is why the last failed attempt failed.
	LastError string `json:"lastError,omitempty"`
}

// done is the outcome the action's method records once sent.
func (p pending) done() string {
	if p.Method == "answer" {
		return OutcomeAnswered
	}
	return OutcomeRefuted
}

func setPending(txn *badger.Txn, p pending) error {
	val, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return txn.Set(pendingKey(p.Claim), val)
}

// pendings returns the stored pending actions, earliest deadline first
// (then by claim), so that the most urgent are tried first.
func (d *DB) pendings() ([]pending, error) {
	var out []pending
	if err := scanJSON(d.db, pendingPrefix, func(_ []byte, p pending) { out = append(out, p) }); err != nil {
		return nil, err
	}
	sortPendings(out)
	return out, nil
}

// settle stores p (keep) or deletes it, and applies update to the
// Handled record of its claim's log if that record still exists (a
// reorganisation may have dropped it), in one transaction.
func (d *DB) settle(p pending, keep bool, update func(*Handled)) error {
	err := d.db.Update(func(txn *badger.Txn) error {
		if update != nil {
			if err := updateHandled(txn, p.LogBlock, p.LogIndex, update); err != nil {
				return err
			}
		}
		if keep {
			return setPending(txn, p)
		}
		return txn.Delete(pendingKey(p.Claim))
	})
	if err != nil {
		return fmt.Errorf("%w: action for %s: %w", errStore, p.Claim, err)
	}
	return nil
}

// updateHandled rewrites the record of the log at (blockHash, index), if
// any, keeping its sequence number.
func updateHandled(txn *badger.Txn, blockHash common.Hash, index uint, update func(*Handled)) error {
	key := logKey(handledPrefix, blockHash, index)
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var h Handled
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &h) }); err != nil {
		return err
	}
	seq := h.Seq
	update(&h)
	h.Seq = seq
	val, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return txn.Set(key, val)
}
