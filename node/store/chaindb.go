package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/dgraph-io/badger/v4"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// ReadHeadHash returns the hash of the canonical head, or ErrNotFound on an
// empty database.
func (d *DB) ReadHeadHash() (common.Hash, error) { return d.readHash(headKey) }

// ReadFinalizedHash returns the hash of the newest final block.
func (d *DB) ReadFinalizedHash() (common.Hash, error) { return d.readHash(finalizedKey) }

// ReadCanonicalHash returns the hash of the canonical block at number.
func (d *DB) ReadCanonicalHash(number uint64) (common.Hash, error) {
	return d.readHash(canonicalKey(number))
}

func (d *DB) readHash(key []byte) (common.Hash, error) {
	v, err := d.get(key)
	if err != nil {
		return common.Hash{}, err
	}
	if len(v) != common.HashLength {
		return common.Hash{}, fmt.Errorf("corrupt hash record %q: %d bytes", key, len(v))
	}
	return common.BytesToHash(v), nil
}

// ReadNumber returns the number of the stored block with the given hash.
func (d *DB) ReadNumber(hash common.Hash) (uint64, error) {
	v, err := d.get(numberKey(hash))
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("corrupt number record for %x", hash)
	}
	return binary.BigEndian.Uint64(v), nil
}

// HasBlock reports whether a block with this hash and number is stored.
func (d *DB) HasBlock(hash common.Hash, number uint64) bool {
	ok, _ := d.has(bodyKey(number, hash))
	return ok
}

// ReadHeader returns the stored header.
func (d *DB) ReadHeader(hash common.Hash, number uint64) (*types.Header, error) {
	v, err := d.get(headerKey(number, hash))
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(v, h); err != nil {
		return nil, fmt.Errorf("decode header %x: %w", hash, err)
	}
	return h, nil
}

// ReadBlock returns the stored block.
func (d *DB) ReadBlock(hash common.Hash, number uint64) (*types.Block, error) {
	h, err := d.ReadHeader(hash, number)
	if err != nil {
		return nil, err
	}
	v, err := d.get(bodyKey(number, hash))
	if err != nil {
		return nil, err
	}
	body := new(types.Body)
	if err := rlp.DecodeBytes(v, body); err != nil {
		return nil, fmt.Errorf("decode body %x: %w", hash, err)
	}
	return types.NewBlockWithHeader(h).WithBody(*body), nil
}

// ReadReceipts returns the stored receipts of a block with their derived
// fields (hashes, indexes, gas used, log positions) filled in.
func (d *DB) ReadReceipts(block *types.Block, config *params.ChainConfig) (types.Receipts, error) {
	v, err := d.get(receiptsKey(block.NumberU64(), block.Hash()))
	if err != nil {
		return nil, err
	}
	var stored []*types.ReceiptForStorage
	if err := rlp.DecodeBytes(v, &stored); err != nil {
		return nil, fmt.Errorf("decode receipts %x: %w", block.Hash(), err)
	}
	receipts := make(types.Receipts, len(stored))
	for i, r := range stored {
		receipts[i] = (*types.Receipt)(r)
	}
	if err := receipts.DeriveFields(config, block.Hash(), block.NumberU64(), block.Time(), block.BaseFee(), nil, block.Transactions()); err != nil {
		return nil, fmt.Errorf("derive receipt fields %x: %w", block.Hash(), err)
	}
	return receipts, nil
}

// ReadTD returns the total difficulty of the chain ending in the block.
func (d *DB) ReadTD(hash common.Hash, number uint64) (*big.Int, error) {
	v, err := d.get(tdKey(number, hash))
	if err != nil {
		return nil, err
	}
	td := new(big.Int)
	if err := rlp.DecodeBytes(v, td); err != nil {
		return nil, fmt.Errorf("decode td %x: %w", hash, err)
	}
	return td, nil
}

// ReadCertificate returns the stored certificate of a block (see
// consensus.Certifier), or ErrNotFound.
func (d *DB) ReadCertificate(hash common.Hash, number uint64) ([]byte, error) {
	return d.get(certKey(number, hash))
}

// TxLookup is where a canonical transaction sits.
type TxLookup struct {
	Number uint64
	Index  uint32
}

// ReadTxLookup returns the canonical position of a transaction.
func (d *DB) ReadTxLookup(txHash common.Hash) (TxLookup, error) {
	v, err := d.get(txLookupKey(txHash))
	if err != nil {
		return TxLookup{}, err
	}
	if len(v) != 12 {
		return TxLookup{}, fmt.Errorf("corrupt tx lookup for %x", txHash)
	}
	return TxLookup{Number: binary.BigEndian.Uint64(v), Index: binary.BigEndian.Uint32(v[8:])}, nil
}

// Batch is one atomic write: everything put into it lands together on Commit
// or not at all. Block import writes a block, its receipts, its total
// difficulty, the canonical index changes and the new head in one Batch.
type Batch struct {
	txn *badger.Txn
	err error
}

// NewBatch starts an atomic write. Call Discard when done (safe after Commit).
func (d *DB) NewBatch() *Batch { return &Batch{txn: d.db.NewTransaction(true)} }

func (b *Batch) set(key, value []byte) {
	if b.err != nil {
		return
	}
	if err := b.txn.Set(key, value); err != nil {
		b.err = fmt.Errorf("write %q: %w", key[:1], err)
	}
}

func (b *Batch) del(key []byte) {
	if b.err != nil {
		return
	}
	if err := b.txn.Delete(key); err != nil {
		b.err = fmt.Errorf("delete %q: %w", key[:1], err)
	}
}

// WriteBlock stores a block with its receipts and total difficulty. It does
// not make the block canonical.
func (b *Batch) WriteBlock(block *types.Block, receipts types.Receipts, td *big.Int) {
	hash, num := block.Hash(), block.NumberU64()
	header, err := rlp.EncodeToBytes(block.Header())
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	body, err := rlp.EncodeToBytes(block.Body())
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	stored := make([]*types.ReceiptForStorage, len(receipts))
	for i, r := range receipts {
		stored[i] = (*types.ReceiptForStorage)(r)
	}
	rec, err := rlp.EncodeToBytes(stored)
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	tdb, err := rlp.EncodeToBytes(td)
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	b.set(headerKey(num, hash), header)
	b.set(bodyKey(num, hash), body)
	b.set(receiptsKey(num, hash), rec)
	b.set(tdKey(num, hash), tdb)
	b.set(numberKey(hash), encodeNumber(num))
}

// WriteCertificate stores the certificate that the block with this hash
// and number was decided.
func (b *Batch) WriteCertificate(hash common.Hash, number uint64, cert []byte) {
	b.set(certKey(number, hash), cert)
}

// DeleteCertificate removes a block's certificate.
func (b *Batch) DeleteCertificate(hash common.Hash, number uint64) {
	b.del(certKey(number, hash))
}

// WriteCanonical makes block the canonical block at its height and indexes
// its transactions.
func (b *Batch) WriteCanonical(block *types.Block) {
	b.set(canonicalKey(block.NumberU64()), block.Hash().Bytes())
	for i, tx := range block.Transactions() {
		v := make([]byte, 12)
		binary.BigEndian.PutUint64(v, block.NumberU64())
		binary.BigEndian.PutUint32(v[8:], uint32(i))
		b.set(txLookupKey(tx.Hash()), v)
	}
}

// DeleteCanonical removes block from the canonical index (a reorg dropped it).
func (b *Batch) DeleteCanonical(block *types.Block, keepTxs map[common.Hash]bool) {
	b.del(canonicalKey(block.NumberU64()))
	for _, tx := range block.Transactions() {
		if !keepTxs[tx.Hash()] {
			b.del(txLookupKey(tx.Hash()))
		}
	}
}

// DeleteCanonicalNumber removes the canonical entry at number.
func (b *Batch) DeleteCanonicalNumber(number uint64) { b.del(canonicalKey(number)) }

// WriteHead sets the canonical head.
func (b *Batch) WriteHead(hash common.Hash) { b.set(headKey, hash.Bytes()) }

// WriteFinalized sets the newest final block.
func (b *Batch) WriteFinalized(hash common.Hash) { b.set(finalizedKey, hash.Bytes()) }

// Commit makes every write of the batch durable at once.
func (b *Batch) Commit() error {
	if b.err != nil {
		b.txn.Discard()
		return b.err
	}
	if err := b.txn.Commit(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

// Discard abandons the batch. It is safe to call after Commit.
func (b *Batch) Discard() { b.txn.Discard() }
