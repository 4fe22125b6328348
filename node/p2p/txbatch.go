package p2p

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/rlp"
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// Bounds of a transaction batch, the message of the txs topic: the RLP list
// [txs, senders, sig] of the binary encodings of at most maxBatchTxs
// transactions, at most maxBatchBytes of them (one transaction of the
// largest size always fits), the senders their origin claims (one address
// each, or none) and the origin's signature of the claim (65 bytes, or
// none; see senders.go).
const (
	maxBatchTxs   = 256
	maxBatchBytes = 512 << 10
	// maxBatchGossip bounds a batch payload: the encodings plus their RLP
	// headers (at most 5 bytes each, and the lists'), the senders (21
	// bytes each) and the signature.
	maxBatchGossip = maxBatchBytes + 5*maxBatchTxs + (1+common.AddressLength)*maxBatchTxs + 1 + crypto.SignatureLength + 32
	// batchDelay is how long a transaction may wait for others to share
	// its batch. Every batch costs each receiver a pubsub message (its id
	// hashed, its validation scheduled, its frames decrypted) whatever its
	// size: with load spread over four nodes, 15 ms gave batches of about
	// six transactions, and 40 ms cut CPU per transfer by about a tenth
	// (docs/BENCHMARKS.md, fourth pass).
	batchDelay = 40 * time.Millisecond
	// recoverPerWorker is how many signatures make it worth starting
	// another goroutine for recovery.
	recoverPerWorker = 8
)

var (
	// errBatch: a batch is empty or holds more transactions than a batch may.
	errBatch = errors.New("bad transaction batch")
	// errDropped: a batch was dropped on purpose (Config.dropTxGossip).
	errDropped = errors.New("transaction gossip dropped")
)

// txPool is the pool as the batch validator uses it.
type txPool interface {
	Has(hash common.Hash) bool
	Add(tx *types.Transaction) error
	senderCache
}

// senderCache knows senders by transaction hash (*txpool.Pool's Sender):
// those of admitted transactions, of valid blocks' and of transactions
// refused for lack of room (the pool records them).
type senderCache interface {
	Sender(hash common.Hash) (common.Address, bool)
}

// encodeBatch encodes the binary transaction encodings raw as one batch
// without a claim of their senders.
func encodeBatch(raw [][]byte) ([]byte, error) {
	return rlp.EncodeToBytes([]any{raw, []common.Address{}, []byte{}})
}

// encodeSignedBatch encodes raw as one batch that claims senders, signed
// with key.
func encodeSignedBatch(txs []*types.Transaction, raw [][]byte, senders []common.Address, key *ecdsa.PrivateKey) ([]byte, error) {
	s := statement(txs, senders)
	sig, err := crypto.Sign(s[:], key)
	if err != nil {
		return nil, err
	}
	return rlp.EncodeToBytes([]any{raw, senders, sig})
}

// decodeBatch decodes a batch payload's transactions (see decodeEnvelope).
func decodeBatch(data []byte) ([]*types.Transaction, error) {
	txs, _, _, err := decodeEnvelope(data)
	return txs, err
}

// decodeEnvelope decodes a batch payload, cheapest checks first: its size,
// its shape, its count of transactions before any is decoded, then each
// transaction's size and decoding, then the claimed senders (as many as the
// transactions, or none) and the claim's signature (65 bytes, or none).
// Neither the static rules nor the claim's signature are checked here.
func decodeEnvelope(data []byte) ([]*types.Transaction, []common.Address, []byte, error) {
	if len(data) > maxBatchGossip {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(data), maxBatchGossip)
	}
	content, rest, err := rlp.SplitList(data)
	if err != nil || len(rest) != 0 {
		return nil, nil, nil, fmt.Errorf("%w: batch is not one list: %v", errMalformed, err)
	}
	txList, content, err := rlp.SplitList(content)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: batch's transactions are not a list: %v", errMalformed, err)
	}
	senderList, content, err := rlp.SplitList(content)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: batch's senders are not a list: %v", errMalformed, err)
	}
	sig, content, err := rlp.SplitString(content)
	if err != nil || len(content) != 0 {
		return nil, nil, nil, fmt.Errorf("%w: batch's signature is not the last string: %v", errMalformed, err)
	}
	txs, err := decodeTxList(txList)
	if err != nil {
		return nil, nil, nil, err
	}
	var senders []common.Address
	if len(senderList) > 0 {
		if len(senderList) != len(txs)*(1+common.AddressLength) {
			return nil, nil, nil, fmt.Errorf("%w: %d bytes of senders for %d transactions", errClaim, len(senderList), len(txs))
		}
		senders = make([]common.Address, len(txs))
		for i := range senders {
			a, tail, err := rlp.SplitString(senderList)
			if err != nil || len(a) != common.AddressLength {
				return nil, nil, nil, fmt.Errorf("%w: sender %d: %v", errClaim, i, err)
			}
			senders[i], senderList = common.BytesToAddress(a), tail
		}
	}
	if len(sig) != 0 && len(sig) != crypto.SignatureLength || (len(sig) == 0) != (len(senders) == 0) {
		return nil, nil, nil, fmt.Errorf("%w: %d senders with a signature of %d bytes", errClaim, len(senders), len(sig))
	}
	return txs, senders, sig, nil
}

// decodeTxList decodes the content of a batch's list of transactions.
func decodeTxList(content []byte) ([]*types.Transaction, error) {
	n, err := rlp.CountValues(content)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	case n == 0 || n > maxBatchTxs:
		return nil, fmt.Errorf("%w: %d transactions, limit %d", errBatch, n, maxBatchTxs)
	}
	txs := make([]*types.Transaction, 0, n)
	for len(content) > 0 {
		raw, tail, err := rlp.SplitString(content)
		if err != nil {
			return nil, fmt.Errorf("%w: batch item %d: %v", errMalformed, len(txs), err)
		}
		content = tail
		if len(raw) > maxTxGossip {
			return nil, fmt.Errorf("%w: transaction of %d bytes, limit %d", errOversized, len(raw), maxTxGossip)
		}
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("%w: batch item %d: %v", errMalformed, len(txs), err)
		}
		txs = append(txs, tx)
	}
	return txs, nil
}

// knownSender returns the sender known holds for tx, if any.
func knownSender(known senderCache, tx *types.Transaction) (common.Address, bool) {
	if known == nil {
		return common.Address{}, false
	}
	return known.Sender(tx.Hash())
}

// checkStatic checks the static rules of txs, recovering their senders
// (cached in each transaction) on every core. A sender the node already
// knows by transaction hash (known; nil: none) is not recovered again: a
// transaction this node executed in a block before its gossip arrived, or
// one its pool refused for lack of room, has its sender in the pool's
// cache. It returns the
// first error in batch order, and how many senders it recovered.
func checkStatic(txs []*types.Transaction, r rules.Static, known senderCache) (int, error) {
	errs := make([]error, len(txs))
	var recovered atomic.Int64
	workers := min(runtime.GOMAXPROCS(0), max(1, len(txs)/recoverPerWorker))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(txs); i += workers {
				from, ok := knownSender(known, txs[i])
				if ok {
					r.KnownSender(txs[i], from)
				}
				_, errs[i] = r.CheckStatic(txs[i])
				if !ok && (errs[i] == nil || errors.Is(errs[i], rules.ErrBadSignature)) {
					recovered.Add(1) // the cheap checks passed, so recovery ran
				}
			}
		}(w)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return int(recovered.Load()), fmt.Errorf("batch item %d: %w", i, err)
		}
	}
	return int(recovered.Load()), nil
}

// passOnShare: a batch is passed on only if at least 1/passOnShare of its
// transactions' bytes are new to the pool (decision 33).
const passOnShare = 4

// encodedSize sums the transactions' encoded sizes (cached when they were
// decoded).
func encodedSize(txs []*types.Transaction) uint64 {
	var n uint64
	for _, tx := range txs {
		n += tx.Size()
	}
	return n
}

// checkTxBatch decides on a gossiped batch and offers its transactions to
// the pool. A batch that does not decode, is out of bounds, or holds a
// transaction that breaks the static rules or comes from a sender no
// member may vouch for is rejected: an honest member only sends what its
// pool took. Transactions the pool already holds cost a hash, not a
// signature recovery. A batch that brings the pool enough new (a quarter
// of its bytes), and whose new transactions the pool took in full, is
// accepted (the others it held already): gossipsub passes it on as it is, and its new
// transactions, marked in rel (nil: none), are not announced again in this
// node's own batches. Any other batch is at best ignored, and what the
// pool took from it goes out in this node's batches: rel hands back those
// whose announcement was skipped. Transactions another check holds
// (cl, nil: none) are checked last, after this batch's others were offered
// to the pool: a batch rejected for one of those may have had its others
// taken, each of which passed its own checks. It returns how many
// signatures it recovered and how many transactions the pool took.
//
// With a sender quorum (q, nil: none), a batch relayed by from that claims its senders is
// settled first (see senders.go): checked and attested if this node is
// designated, taken on the claim once validators with more than a third of
// the power vouch for it, or recovered as without a claim.
func checkTxBatch(data []byte, r rules.Static, pool txPool, rel *relayed, cl *claims, q *quorum, from common.Address) (pubsub.ValidationResult, batchCounts, error) {
	txs, senders, sig, err := decodeEnvelope(data)
	if err != nil {
		return reject, batchCounts{}, err
	}
	fresh := notPooled(txs, pool)
	var (
		known  senderCache = pool
		c      *claim
		role   = roleRecover
		waited bool
		trust  int
	)
	if q != nil && len(fresh) > 0 {
		// A claim costs the recovery of its signature: not worth it for
		// a batch with nothing new (a designated checker then leaves it
		// unattested, and whoever waits for it recovers in the end).
		if c, err = checkClaim(txs, senders, sig); err != nil {
			return reject, batchCounts{}, err
		}
		if c != nil {
			role, waited = q.settle(c, len(fresh))
			// The wait may have let other batches, a block's fetch or
			// the pull bring some of these in: those are not new now.
			fresh = notPooled(fresh, pool)
		}
		if role == roleTrust {
			known, trust = trustedSenders{c, pool}, len(fresh)
		}
	}
	// Transactions another batch is checking right now are left to it;
	// they are looked at again once this batch's own are done.
	fresh, later, wait := cl.take(fresh)
	recovered, err := checkStatic(fresh, r, known)
	if err != nil {
		cl.release(fresh)
		return reject, batchCounts{recovered: recovered}, err
	}
	// Passed on if the pool takes every transaction new to it; the rest
	// it held already (announced when it took them). At least a quarter
	// of its bytes must be new, so that a member cannot have everyone
	// relay batches of known transactions for one small new one each.
	// Marked before the pool announces them.
	passOn := len(fresh) > 0 && passOnShare*encodedSize(fresh) >= encodedSize(txs) && len(later) == 0 && rel.mark(fresh)
	o := addAll(fresh, pool)
	cl.release(fresh)
	if len(later) > 0 {
		for _, ch := range wait {
			<-ch
		}
		later = notPooled(later, pool)
		n, err := checkStatic(later, r, known)
		recovered += n
		if err != nil {
			return reject, batchCounts{recovered: recovered, took: o.took}, err
		}
		l := addAll(later, pool)
		o.took += l.took
		if o.res != reject {
			o.res = l.res
		}
		if o.firstErr == nil {
			o.firstErr = l.firstErr
		}
	}
	counts := batchCounts{took: o.took, recovered: recovered, trusted: trust}
	if c != nil && role != roleTrust {
		// Every sender is now recovered (cached in the transaction) or
		// known to the pool: a false claim is its signer's lie, and the
		// batch is refused (the transactions stand on their own). A
		// designated checker attests a true one.
		if err := c.matches(r.Signer, pool); err != nil {
			if passOn {
				rel.release(fresh)
			}
			return reject, counts, err
		}
		if role == roleCheck {
			counts.attested = q.attest(c) == nil
		}
		if waited && from == c.origin {
			// True, and its checkers let this node wait in vain. Only
			// for a batch from its origin: anyone else may have sent it
			// to this node alone, so the checkers never saw it.
			q.missed(c)
		}
	}
	switch {
	case !passOn:
	case o.res == ignore && o.took == len(fresh):
		rel.settle(fresh)
		o.res = accept
	default:
		rel.release(fresh)
	}
	return o.res, counts, o.firstErr
}

// trustedSenders serves a claim's senders, which a quorum vouched for,
// then the pool's.
type trustedSenders struct {
	c    *claim
	pool senderCache
}

func (t trustedSenders) Sender(hash common.Hash) (common.Address, bool) {
	if a, ok := t.c.Sender(hash); ok {
		return a, true
	}
	return t.pool.Sender(hash)
}

// notPooled returns the transactions of txs the pool does not hold.
func notPooled(txs []*types.Transaction, pool txPool) []*types.Transaction {
	out := make([]*types.Transaction, 0, len(txs))
	for _, tx := range txs {
		if !pool.Has(tx.Hash()) {
			out = append(out, tx)
		}
	}
	return out
}

// added is what offering transactions to the pool did.
type added struct {
	res      pubsub.ValidationResult // ignore, or reject for a non-member's
	took     int                     // transactions the pool took
	firstErr error                   // the first refusal
}

// addAll offers txs, which passed the static rules, to the pool.
func addAll(txs []*types.Transaction, pool txPool) added {
	a := added{res: ignore}
	for _, tx := range txs {
		switch err := pool.Add(tx); {
		case err == nil:
			a.took++
		case errors.Is(err, rules.ErrNotAllowed):
			a.res, a.firstErr = reject, err
		case errors.Is(err, txpool.ErrAlreadyKnown):
		default:
			// A replay of an included nonce, unaffordable or over a pool
			// limit: depends on state the sending peer may not share.
			if a.firstErr == nil {
				a.firstErr = err
			}
		}
	}
	return a
}

// claims lets only one of the concurrent checks of peers' batches (pubsub
// validates them in parallel) recover a transaction's sender. A batch
// holding transactions another batch is checking finishes its own first,
// releasing them, then waits for the others' and looks at theirs again:
// by then the pool holds them, or its cache knows their senders, or (the
// other batch was refused) they are checked here. Waiting while holding
// nothing, no two batches wait for each other. A nil *claims claims
// nothing.
type claims struct {
	mu sync.Mutex
	m  map[common.Hash]chan struct{}
}

func newClaims() *claims { return &claims{m: make(map[common.Hash]chan struct{})} }

// take claims those of txs no other check holds and returns them, the rest,
// and the channels that close when the rest are released.
func (c *claims) take(txs []*types.Transaction) (mine, others []*types.Transaction, wait []chan struct{}) {
	if c == nil || len(txs) == 0 {
		return txs, nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	mine = txs[:0:0]
	for _, tx := range txs {
		if ch, ok := c.m[tx.Hash()]; ok {
			others = append(others, tx)
			wait = append(wait, ch)
			continue
		}
		c.m[tx.Hash()] = make(chan struct{})
		mine = append(mine, tx)
	}
	return mine, others, wait
}

// release ends the claims on txs, taken by take.
func (c *claims) release(txs []*types.Transaction) {
	if c == nil || len(txs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tx := range txs {
		if ch, ok := c.m[tx.Hash()]; ok {
			close(ch)
			delete(c.m, tx.Hash())
		}
	}
}

// batchCounts is what checking a batch cost and brought: signatures
// recovered, new transactions whose senders a quorum vouched for,
// transactions the pool took, and whether this node attested the claim.
type batchCounts struct {
	recovered, trusted, took int
	attested                 bool
}

// batcher collects transactions into batches bounded by count and bytes and
// hands each to publish when it is full or batchDelay after its first
// transaction arrived.
//
// With a key, a batch of at least minQuorumTxs transactions claims their
// senders (sender; a batch with a sender it does not know claims none) and
// is signed.
type batcher struct {
	publish func([]byte) error
	key     *ecdsa.PrivateKey
	sender  func(*types.Transaction) (common.Address, bool)
	raw     [][]byte
	txs     []*types.Transaction
	bytes   int
}

// add appends tx, first flushing the pending batch if tx would overflow it,
// and flushes when the batch is full.
func (b *batcher) add(tx *types.Transaction) error {
	enc, err := tx.MarshalBinary()
	if err != nil {
		return err
	}
	if len(enc) > maxTxGossip {
		return fmt.Errorf("%w: transaction of %d bytes", errOversized, len(enc))
	}
	var ferr error
	if b.bytes+len(enc) > maxBatchBytes {
		ferr = b.flush()
	}
	b.raw = append(b.raw, enc)
	b.txs = append(b.txs, tx)
	b.bytes += len(enc)
	if len(b.raw) >= maxBatchTxs || b.bytes >= maxBatchBytes {
		if err := b.flush(); ferr == nil {
			ferr = err
		}
	}
	return ferr
}

// pending reports whether transactions wait for a flush.
func (b *batcher) pending() bool { return len(b.raw) > 0 }

// flush publishes the pending batch, if any.
func (b *batcher) flush() error {
	if len(b.raw) == 0 {
		return nil
	}
	data, err := b.encode()
	b.raw, b.txs, b.bytes = nil, nil, 0
	if err != nil {
		return err
	}
	return b.publish(data)
}

// encode encodes the pending batch, claiming its senders if it can.
func (b *batcher) encode() ([]byte, error) {
	if b.key == nil || b.sender == nil || len(b.txs) < minQuorumTxs {
		return encodeBatch(b.raw)
	}
	senders := make([]common.Address, len(b.txs))
	for i, tx := range b.txs {
		a, ok := b.sender(tx)
		if !ok {
			return encodeBatch(b.raw)
		}
		senders[i] = a
	}
	return encodeSignedBatch(b.txs, b.raw, senders, b.key)
}

// publishTxs gossips, in batches, every transaction the pool takes in:
// from RPC, from the pull protocol and from peers' batches alike, so a
// transaction spreads through every member whose pool admits it; except
// the transactions of peers' batches that gossipsub passes on as they are
// (relayed).
func (n *Node) publishTxs(ch <-chan []*types.Transaction, sub event.Subscription) {
	defer sub.Unsubscribe()
	b := &batcher{publish: func(data []byte) error { return n.txTopic.Publish(n.ctx, data) }}
	if n.quorum != nil {
		b.key, b.sender = n.cfg.Key, n.senderOf
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	report := func(err error) {
		if err != nil && n.ctx.Err() == nil {
			n.log.Debug("publishing transactions failed", "err", err)
		}
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case txs := <-ch:
			was := b.pending()
			for _, tx := range txs {
				if !n.relayed.take(tx.Hash()) {
					report(b.add(tx))
				}
			}
			if !was && b.pending() {
				timer.Reset(batchDelay)
			}
		case txs := <-n.again:
			was := b.pending()
			for _, tx := range txs {
				report(b.add(tx))
			}
			if !was && b.pending() {
				timer.Reset(batchDelay)
			}
		case <-timer.C:
			report(b.flush())
		}
	}
}

// senderOf returns the sender of a transaction of the pool: from the pool's
// cache, else cached in the transaction (types.Sender recovers only if
// neither knows it).
func (n *Node) senderOf(tx *types.Transaction) (common.Address, bool) {
	if a, ok := n.pool.Sender(tx.Hash()); ok {
		return a, true
	}
	a, err := types.Sender(n.cfg.Rules.Signer, tx)
	return a, err == nil
}

// PublishTx gossips one transaction as a batch of its own.
func (n *Node) PublishTx(tx *types.Transaction) error {
	enc, err := tx.MarshalBinary()
	if err != nil {
		return err
	}
	data, err := encodeBatch([][]byte{enc})
	if err != nil {
		return err
	}
	return n.txTopic.Publish(n.ctx, data)
}
