package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// BlockTxProtocol is the request/response stream protocol by which a node
// fills a compact proposal (a block sent as its header and transaction
// hashes, docs/decisions/0038-compact-proposals.md) with the transactions
// its pool lacks. One request per stream, framed as SyncProtocol's:
//
//	request:  [hash, ...]                at most maxFetchHashes
//	response: [code, message, [tx, ...]] the asked transactions the peer holds,
//	                                     binary encoded, in the order asked;
//	                                     at most maxFetchBytes (one always)
//
// A peer answers from its pool and from the transactions of the proposals
// it sent or filled lately (KeepTxs). The asker checks each answer's hash
// against what it asked; signatures and the block's validity are judged
// by the proposal's validation, as for a full proposal.
const BlockTxProtocol protocol.ID = "/arbiter/block-txs/1"

// Bounds of BlockTxProtocol.
const (
	maxFetchHashes   = 4096
	maxFetchBytes    = 2 << 20
	maxFetchRequest  = maxFetchHashes*33 + 16
	maxFetchResponse = maxFetchBytes + maxTxGossip + 5*maxFetchHashes + 1024
	// keptTxs bounds the transactions of recent proposals held to answer
	// fetches: several full blocks' worth.
	keptTxs = 16384
	// fetchPeerTimeout bounds the time one peer may take to answer a
	// fill, below the caller's deadline so that the next peer is asked.
	fetchPeerTimeout = 2 * time.Second
)

// errNotAsked: a fetched transaction is not one of those asked for.
var errNotAsked = errors.New("transaction not asked for")

// ErrTxsMissing is returned by FetchTxs when no connected peer holds some
// of the transactions.
var ErrTxsMissing = errors.New("p2p: transactions missing at every peer")

// txByHash is the pool as the block-transaction server uses it.
type txByHash interface {
	GetMany(hashes []common.Hash) []*types.Transaction
}

// keptTxStore holds the transactions of recent proposals by hash.
type keptTxStore struct {
	mu  sync.Mutex
	txs lru.BasicLRU[common.Hash, *types.Transaction]
}

func newKeptTxStore() *keptTxStore {
	return &keptTxStore{txs: lru.NewBasicLRU[common.Hash, *types.Transaction](keptTxs)}
}

func (k *keptTxStore) add(txs []*types.Transaction) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, tx := range txs {
		k.txs.Add(tx.Hash(), tx)
	}
}

func (k *keptTxStore) get(h common.Hash) *types.Transaction {
	k.mu.Lock()
	defer k.mu.Unlock()
	tx, _ := k.txs.Get(h)
	return tx
}

// blockTxServer answers BlockTxProtocol streams, rate-limited per peer.
type blockTxServer struct {
	pool    txByHash
	kept    *keptTxStore
	timeout time.Duration
	limiter *limiter
	log     *slog.Logger
}

func (s *blockTxServer) handle(st network.Stream) {
	serveRequest(st, time.Now().Add(s.timeout), s.answer, s.log, "block transaction request")
}

func (s *blockTxServer) answer(st network.Stream, p peer.ID) (uint64, string, rlp.RawValue) {
	raw, err := readFrame(st, maxFetchRequest)
	if !s.limiter.allow(p, time.Now()) {
		return codeRateLimited, "too many requests", nil
	}
	if err != nil {
		return codeBadRequest, fmt.Sprintf("read request: %v", err), nil
	}
	var hashes []common.Hash
	if err := rlp.DecodeBytes(raw, &hashes); err != nil {
		return codeBadRequest, fmt.Sprintf("%v: %v", errMalformed, err), nil
	}
	if len(hashes) == 0 || len(hashes) > maxFetchHashes {
		return codeBadRequest, fmt.Sprintf("%v: %d hashes, limit %d", errMalformed, len(hashes), maxFetchHashes), nil
	}
	return serveBlockTxs(s.pool, s.kept, hashes)
}

// serveBlockTxs answers with the transactions among hashes that the pool
// or the kept proposals hold, in the order asked, up to maxFetchBytes.
func serveBlockTxs(pool txByHash, kept *keptTxStore, hashes []common.Hash) (uint64, string, rlp.RawValue) {
	found := pool.GetMany(hashes)
	raws := make([][]byte, 0, len(hashes))
	size := 0
	for i, h := range hashes {
		tx := found[i]
		if tx == nil {
			tx = kept.get(h)
		}
		if tx == nil {
			continue
		}
		enc, err := tx.MarshalBinary()
		if err != nil {
			return codeUnavailable, err.Error(), nil
		}
		if len(raws) > 0 && size+len(enc) > maxFetchBytes {
			break
		}
		size += len(enc)
		raws = append(raws, enc)
	}
	b, err := rlp.EncodeToBytes(raws)
	if err != nil {
		return codeUnavailable, err.Error(), nil
	}
	return codeOK, "", b
}

// decodeBlockTxs decodes an answer to a request for asked: every
// transaction must be of bounded size, decode, and be one of asked, each
// at most once. It clears what it found from asked.
func decodeBlockTxs(payload []byte, asked map[common.Hash]bool) ([]*types.Transaction, error) {
	var raws [][]byte
	if err := rlp.DecodeBytes(payload, &raws); err != nil {
		return nil, fmt.Errorf("%w: transactions: %v", errMalformed, err)
	}
	if len(raws) > len(asked) {
		return nil, fmt.Errorf("%w: %d transactions for %d asked", errBadResponse, len(raws), len(asked))
	}
	txs := make([]*types.Transaction, len(raws))
	for i, raw := range raws {
		if len(raw) > maxTxGossip {
			return nil, fmt.Errorf("%w: transaction of %d bytes", errOversized, len(raw))
		}
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %v", errMalformed, i, err)
		}
		if !asked[tx.Hash()] {
			return nil, fmt.Errorf("%w: %x", errNotAsked, tx.Hash())
		}
		asked[tx.Hash()] = false // a second copy is not asked for
		txs[i] = tx
	}
	return txs, nil
}

// KeepTxs holds the transactions of a proposal this node sent or filled,
// so that it can answer peers that fill the same proposal after the
// transactions left its pool.
func (n *Node) KeepTxs(txs []*types.Transaction) { n.kept.add(txs) }

// FetchTxs asks connected peers for the transactions with the hashes: the
// peer of member prefer first (a proposal's author holds all of its
// block), then the others in turn, each for what is still missing, until
// all are found. It returns what it found by hash and ErrTxsMissing if
// some were found nowhere. A peer whose answer breaks the protocol is
// skipped (and its answer dropped). The work is bounded by the number of
// hashes, which the caller bounds (a compact proposal's by its gas limit).
func (n *Node) FetchTxs(ctx context.Context, prefer common.Address, hashes []common.Hash) (map[common.Hash]*types.Transaction, error) {
	got := make(map[common.Hash]*types.Transaction, len(hashes))
	missing := func() []common.Hash {
		var out []common.Hash
		for _, h := range hashes {
			if got[h] == nil {
				out = append(out, h)
			}
		}
		return out
	}
	peers := n.peerIDs()
	for i, p := range peers {
		if a, err := AddressOf(p); err == nil && a == prefer {
			peers[0], peers[i] = peers[i], peers[0]
			break
		}
	}
	var lastErr error
	for _, p := range peers {
		if lastErr = n.fetchPeer(ctx, p, missing, got); lastErr != nil {
			n.log.Debug("fetching block transactions failed", "peer", p, "err", lastErr)
		}
		if err := ctx.Err(); err != nil {
			return got, err
		}
		if len(missing()) == 0 {
			break
		}
	}
	if rest := missing(); len(rest) > 0 {
		if lastErr != nil {
			return got, fmt.Errorf("%w: %d of %d (last error: %v)", ErrTxsMissing, len(rest), len(hashes), lastErr)
		}
		return got, fmt.Errorf("%w: %d of %d", ErrTxsMissing, len(rest), len(hashes))
	}
	return got, nil
}

// fetchPeer asks p for what is missing, at most maxFetchHashes at a time,
// and adds what it answers to got. Every transaction of an answer is new
// (decodeBlockTxs refuses copies and what was not asked), and it asks
// again only after an answer that brought some, so the requests to one
// peer are at most the transactions it delivers plus one. The peer gets
// fetchPeerTimeout in all: a silent one does not use up the caller's
// deadline before the others are asked.
func (n *Node) fetchPeer(ctx context.Context, p peer.ID, missing func() []common.Hash, got map[common.Hash]*types.Transaction) error {
	ctx, cancel := context.WithTimeout(ctx, fetchPeerTimeout)
	defer cancel()
	want := missing()
	for len(want) > 0 {
		chunk := want[:min(len(want), maxFetchHashes)]
		txs, err := n.fetchFrom(ctx, p, chunk)
		if err != nil {
			return err
		}
		if len(txs) == 0 {
			return nil // the peer holds none of this chunk
		}
		for _, tx := range txs {
			got[tx.Hash()] = tx
		}
		want = missing()
	}
	return nil
}

// fetchFrom asks p once for the transactions with hashes.
func (n *Node) fetchFrom(ctx context.Context, p peer.ID, hashes []common.Hash) ([]*types.Transaction, error) {
	payload, err := roundTrip(ctx, n.host, p, BlockTxProtocol, n.cfg.Limits.RequestTimeout, hashes, maxFetchResponse)
	if err != nil {
		return nil, err
	}
	asked := make(map[common.Hash]bool, len(hashes))
	for _, h := range hashes {
		asked[h] = true
	}
	txs, err := decodeBlockTxs(payload, asked)
	if err != nil {
		return nil, err
	}
	n.metrics.fetchedTxs(len(txs))
	return txs, nil
}
