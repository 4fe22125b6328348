package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// TxProtocol is the request/response stream protocol by which a node pulls
// pooled transactions it lacks from a peer: what gossip lost, and the gaps
// that loss leaves in a sender's nonces. One request per stream, framed as
// SyncProtocol's (a uvarint length, then RLP):
//
//	request:  [kind, sender, from, count]    kind 0 Digest, 1 GetTxs
//	response: [code, message, payload]       codes as SyncProtocol's; payload by kind:
//	  Digest: [[sender, next], ...]           at most maxDigest senders with pooled
//	                                          executable transactions, the most recently
//	                                          extended first; next extends them
//	  GetTxs: [tx, ...]                       the sender's pooled transactions, binary
//	                                          encoded, nonces from, from+1, ... without
//	                                          a gap; at most min(count, maxPullTxs) and
//	                                          maxPullBytes (one always)
//
// Every few hundred milliseconds (Limits.PullInterval) a node asks the next
// connected peer for its digest and pulls, for each sender whose next nonce
// there is above its own and was at an earlier visit to this peer too (one
// of the last four), the run from its own next nonce up to the lower of the
// two. Transactions a peer held a visit ago and this node still lacks were
// lost; newer ones are usually on their way by gossip, and pulling them too
// would check each signature twice. What it pulls is checked as gossip is (static rules,
// senders recovered on every core, none the pool holds) and offered to the
// pool; what the pool takes is gossiped on.
//
// A visit is bounded by a deadline of pullVisitIntervals PullIntervals,
// whatever the peer answers and however slowly. A visit that fails (an
// answer that is late, malformed, breaks the rules, or holds nothing of a
// run the peer advertised) ends there, and the peer is skipped for its next
// pullCooldownVisits turns, which go to the other peers.
const TxProtocol protocol.ID = "/arbiter/txs/1"

// Request kinds of TxProtocol.
const (
	kindDigest uint64 = 0
	kindGetTxs uint64 = 1
)

// Bounds of TxProtocol.
const (
	maxDigest       = 256
	maxPullTxs      = 256
	maxPullBytes    = 1 << 20
	maxTxRequest    = 64
	maxDigestFrame  = maxDigest*40 + 1024
	maxGetTxsFrame  = maxPullBytes + rules.MaxTxSize + 5*maxPullTxs + 1024
	maxPullsPerPeer = 16 // GetTxs requests per digest
)

// Bounds of one visit to a peer by the pull loop. The loop visits one peer
// at a time, so what one peer holds it for, every other waits for.
const (
	// pullVisitIntervals bounds a visit, the digest and every GetTxs
	// together, to that many PullIntervals (1.2 s by default). Each request
	// alone may take the whole RequestTimeout, so a visit of a peer that
	// answers each just before it would otherwise hold the loop for
	// 1+maxPullsPerPeer timeouts (170 s by default), and honest peers would
	// be visited too rarely to recover what gossip lost. On a member link
	// 1.2 s is many round trips; the runs a visit had no time for are still
	// advertised at the next.
	pullVisitIntervals = 4
	// pullCooldownVisits is how many of its turns a peer whose visit failed
	// is passed over. An honest peer fails rarely: an empty answer to a run
	// it advertised means the run left its pool in between, mostly in a
	// block it imported before this node; so the cooldown is short, and
	// passes by turns, not by time, so that it costs the same share of
	// visits at any PullInterval. A peer that fails every visit holds the
	// loop for at most pullVisitIntervals ticks in every
	// pullCooldownVisits+1 of its turns.
	pullCooldownVisits = 8
)

var (
	// errWrongSender: a pulled transaction is not from the sender asked for.
	errWrongSender = errors.New("transaction from another sender")
	// errEmptyRun: a peer served none of the runs it advertised, at a
	// visit and an earlier one, that a visit asked for, and answered some
	// empty without excuse.
	errEmptyRun = errors.New("no transaction of the runs advertised")
)

type txRequest struct {
	Kind   uint64
	Sender common.Address
	From   uint64
	Count  uint64
}

// txSource is the pool as the pull server and client use it.
type txSource interface {
	txPool
	PendingNonce(addr common.Address) uint64
	Digest(k int) []txpool.SenderNonce
	Range(sender common.Address, from uint64, count int, maxBytes uint64) []*types.Transaction
}

// txServer answers TxProtocol streams, rate-limited per peer.
type txServer struct {
	pool    txSource
	timeout time.Duration
	limiter *limiter
	log     *slog.Logger
}

func (s *txServer) handle(st network.Stream) {
	serveRequest(st, time.Now().Add(s.timeout), s.answer, s.log, "transaction request")
}

func (s *txServer) answer(st network.Stream, p peer.ID) (uint64, string, rlp.RawValue) {
	raw, err := readFrame(st, maxTxRequest)
	if !s.limiter.allow(p, time.Now()) {
		return codeRateLimited, "too many requests", nil
	}
	if err != nil {
		return codeBadRequest, fmt.Sprintf("read request: %v", err), nil
	}
	var req txRequest
	if err := rlp.DecodeBytes(raw, &req); err != nil {
		return codeBadRequest, fmt.Sprintf("%v: %v", errMalformed, err), nil
	}
	return serveTxs(s.pool, req)
}

// serveTxs answers a decoded request from the pool. Its work is bounded by
// maxDigest or maxPullTxs, whatever the request says.
func serveTxs(pool txSource, req txRequest) (uint64, string, rlp.RawValue) {
	switch req.Kind {
	case kindDigest:
		d := pool.Digest(maxDigest)
		if d == nil {
			d = []txpool.SenderNonce{}
		}
		b, err := rlp.EncodeToBytes(d)
		if err != nil {
			return codeUnavailable, err.Error(), nil
		}
		return codeOK, "", b
	case kindGetTxs:
		if req.Count == 0 {
			return codeBadRequest, fmt.Sprintf("%v: count 0", errMalformed), nil
		}
		txs := pool.Range(req.Sender, req.From, int(min(req.Count, maxPullTxs)), maxPullBytes)
		raws := make([][]byte, 0, len(txs))
		for _, tx := range txs {
			enc, err := tx.MarshalBinary()
			if err != nil {
				return codeUnavailable, err.Error(), nil
			}
			raws = append(raws, enc)
		}
		b, err := rlp.EncodeToBytes(raws)
		if err != nil {
			return codeUnavailable, err.Error(), nil
		}
		return codeOK, "", b
	default:
		return codeBadRequest, errUnknownKind.Error(), nil
	}
}

// txClient sends TxProtocol requests, one stream per request.
type txClient struct {
	host    host.Host
	timeout time.Duration
}

func (c *txClient) roundTrip(ctx context.Context, p peer.ID, req txRequest, limit int) (rlp.RawValue, error) {
	return roundTrip(ctx, c.host, p, TxProtocol, c.timeout, &req, limit)
}

// digest asks p for its digest.
func (c *txClient) digest(ctx context.Context, p peer.ID) ([]txpool.SenderNonce, error) {
	payload, err := c.roundTrip(ctx, p, txRequest{Kind: kindDigest}, maxDigestFrame)
	if err != nil {
		return nil, err
	}
	var d []txpool.SenderNonce
	if err := rlp.DecodeBytes(payload, &d); err != nil {
		return nil, fmt.Errorf("%w: digest: %v", errMalformed, err)
	}
	if len(d) > maxDigest {
		return nil, fmt.Errorf("%w: digest of %d senders", errBadResponse, len(d))
	}
	return d, nil
}

// getTxs asks p for sender's transactions from nonce from.
func (c *txClient) getTxs(ctx context.Context, p peer.ID, sender common.Address, from, count uint64) ([]*types.Transaction, error) {
	payload, err := c.roundTrip(ctx, p, txRequest{Kind: kindGetTxs, Sender: sender, From: from, Count: count}, maxGetTxsFrame)
	if err != nil {
		return nil, err
	}
	return decodeTxRun(payload, from, count)
}

// decodeTxRun decodes a GetTxs answer and checks it holds at most count
// transactions, each of bounded size, with the nonces from, from+1, ...
// The static rules and the sender are the caller's to check.
func decodeTxRun(payload []byte, from, count uint64) ([]*types.Transaction, error) {
	var raws [][]byte
	if err := rlp.DecodeBytes(payload, &raws); err != nil {
		return nil, fmt.Errorf("%w: transactions: %v", errMalformed, err)
	}
	if uint64(len(raws)) > min(count, maxPullTxs) {
		return nil, fmt.Errorf("%w: %d transactions for %d asked", errBadResponse, len(raws), count)
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
		if tx.Nonce() != from+uint64(i) {
			return nil, fmt.Errorf("%w: transaction %d has nonce %d, want %d", errBadResponse, i, tx.Nonce(), from+uint64(i))
		}
		txs[i] = tx
	}
	return txs, nil
}

// puller runs anti-entropy: it compares the pool with one peer's digest at
// a time and pulls what the pool lacks.
type puller struct {
	pool     txSource
	client   *txClient
	rules    rules.Static
	peers    func() []peer.ID
	interval time.Duration
	log      *slog.Logger
	took     func(n int) // transactions the pool took
	checked  func(n int) // signatures recovered
	next     int         // round-robin position in peers
	// seen holds, for each connected peer, what its digests advertised at
	// earlier visits: a run is pulled only up to what the peer held then.
	seen map[peer.ID]*peerSeen
	// cooldown holds, for each connected peer whose last visit failed, how
	// many more of its turns it is passed over.
	cooldown map[peer.ID]int
}

// peerSeen is what a peer's recent digests advertised: each sender's next
// nonce at the last visit that listed it, for senders listed in the last
// seenVisits visits (at most seenVisits*maxDigest).
type peerSeen struct {
	visit uint64
	next  map[common.Address]seenNonce
}

type seenNonce struct{ next, visit uint64 }

// seenVisits is how many visits a peer's advertised nonce counts for: a
// sender on the edge of the digest's maxDigest most recently extended may
// miss a visit and still be pulled at the next.
const seenVisits = 4

func (p *puller) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			peers := p.peers()
			slices.Sort(peers) // the host lists them in map order: visit each in turn
			p.forgetGone(peers)
			pid, ok := p.pick(peers)
			if !ok {
				continue
			}
			if err := p.visit(ctx, pid); err != nil && ctx.Err() == nil {
				p.coolDown(pid)
				p.log.Debug("pulling transactions failed", "peer", pid, "err", err, "skipTurns", pullCooldownVisits)
			}
		}
	}
}

// pick moves the round-robin position to the next of peers (sorted) not
// cooling down and returns it, or false if every peer is. A cooling peer
// passed over has served one turn of its cooldown, and the tick goes to
// the peer after it.
func (p *puller) pick(peers []peer.ID) (peer.ID, bool) {
	for range peers {
		p.next = (p.next + 1) % len(peers)
		pid := peers[p.next]
		left := p.cooldown[pid]
		if left == 0 {
			return pid, true
		}
		if left == 1 {
			delete(p.cooldown, pid)
		} else {
			p.cooldown[pid] = left - 1
		}
	}
	return "", false
}

// coolDown passes pid over for its next pullCooldownVisits turns.
func (p *puller) coolDown(pid peer.ID) {
	if p.cooldown == nil {
		p.cooldown = make(map[peer.ID]int)
	}
	p.cooldown[pid] = pullCooldownVisits
}

// visit runs a round with pid within pullVisitIntervals PullIntervals. A
// visit its own deadline cut short while a request was out is no failure
// if every run the peer answered before held transactions and at least
// one did: a distant peer with many runs to serve answers slowly but
// truly, and the rest is pulled at the next visit. A peer that answers a
// run empty or not at all and then holds the next request open fails.
func (p *puller) visit(ctx context.Context, pid peer.ID) error {
	vctx, cancel := context.WithTimeout(ctx, pullVisitIntervals*p.interval)
	defer cancel()
	r, err := p.round(vctx, pid)
	// The stream's deadline and the context's timer are set to the same
	// time and may fire in either order: compare the clock with it.
	deadline, _ := vctx.Deadline()
	if err != nil && r.served > 0 && r.empty == 0 && ctx.Err() == nil && !time.Now().Before(deadline) && timedOut(err) {
		return nil
	}
	return err
}

// roundResult counts the runs a round's peer answered: with transactions
// the pool took (served), and empty without excuse (empty).
type roundResult struct{ served, empty int }

// round compares the pool with peer's digest and pulls, for at most
// maxPullsPerPeer senders, the run the pool lacks: whatever the peer
// advertises, at most 1+maxPullsPerPeer requests, maxPullsPerPeer*maxPullTxs
// signatures to recover and as many transactions offered to the pool. A
// failed request (late ones included: ctx bounds the round), and an answer
// that breaks the static rules or comes from another sender, ends the
// round with an error. An empty answer to a run does not: an honest peer
// gives one when a block took the run from its pool after its digest (and
// when this node's pool has since moved past the run's first nonce, the
// block reached it too, and the answer is excused); but a round in which
// no run was served and one came back empty without excuse ends with
// errEmptyRun. A round whose ctx ends between requests (its own checks
// took the time) ends without error: the rest is pulled at the next visit.
func (p *puller) round(ctx context.Context, pid peer.ID) (roundResult, error) {
	var r roundResult
	d, err := p.client.digest(ctx, pid)
	if err != nil {
		return r, err
	}
	if p.seen == nil {
		p.seen = make(map[peer.ID]*peerSeen)
	}
	seen := p.seen[pid]
	if seen == nil {
		seen = &peerSeen{next: make(map[common.Address]seenNonce)}
		p.seen[pid] = seen
	}
	runs := seen.pullRuns(d, p.pool.PendingNonce)
	for _, run := range runs {
		if ctx.Err() != nil {
			return r, nil
		}
		txs, err := p.client.getTxs(ctx, pid, run.Sender, run.From, run.Count)
		if err != nil {
			return r, err
		}
		if len(txs) == 0 {
			if p.pool.PendingNonce(run.Sender) <= run.From {
				r.empty++
			}
			continue
		}
		n0 := len(txs)
		txs = slices.DeleteFunc(txs, func(tx *types.Transaction) bool { return p.pool.Has(tx.Hash()) })
		had := len(txs) < n0 // gossip brought some of the run meanwhile
		n, err := checkStatic(txs, p.rules, p.pool)
		p.checked(n)
		if err != nil {
			return r, err
		}
		took := 0
		for _, tx := range txs {
			if from, _ := p.rules.CheckStatic(tx); from != run.Sender {
				return r, fmt.Errorf("%w: %s, asked for %s", errWrongSender, from, run.Sender)
			}
			if err := p.pool.Add(tx); err == nil {
				took++
			}
		}
		p.took(took)
		if took > 0 || had {
			// Served: transactions now in the pool. A run of transactions
			// the pool refuses (from an account that cannot pay, say)
			// costs the peer nothing to make and serves nothing.
			r.served++
		}
	}
	if r.empty > 0 && r.served == 0 {
		return r, fmt.Errorf("%w: %d runs asked for, none served", errEmptyRun, r.empty)
	}
	return r, nil
}

// pullRuns records a peer's digest d and picks what to pull: for at most
// maxPullsPerPeer senders whose next nonce at the peer is above the pool's
// (pending) both in d and at an earlier visit (seenVisits), the run from
// the pool's next nonce to the lower of the two, at most maxPullTxs. A
// sender the peer lists for the first time pulls nothing: what it holds
// that this node lacks may be on its way by gossip.
func (s *peerSeen) pullRuns(d []txpool.SenderNonce, pending func(common.Address) uint64) []txRequest {
	s.visit++
	var runs []txRequest
	for _, sn := range d {
		before, ok := s.next[sn.Sender]
		if ok && before.visit == s.visit {
			continue // listed twice in one digest: the first counts
		}
		s.next[sn.Sender] = seenNonce{next: sn.Next, visit: s.visit}
		if !ok || len(runs) == maxPullsPerPeer {
			continue
		}
		held := min(sn.Next, before.next) // held by the peer a visit ago
		mine := pending(sn.Sender)
		if held <= mine {
			continue
		}
		runs = append(runs, txRequest{Kind: kindGetTxs, Sender: sn.Sender, From: mine, Count: min(held-mine, maxPullTxs)})
	}
	s.age()
	return runs
}

// age forgets senders not listed in the last seenVisits visits: at most
// seenVisits*maxDigest remain.
func (s *peerSeen) age() {
	for a, e := range s.next {
		if e.visit+seenVisits <= s.visit {
			delete(s.next, a)
		}
	}
}

// forgetGone drops what peers no longer connected advertised, and their
// cooldowns. A peer that reconnects to shed its cooldown starts over
// unseen: it is asked for no run before its second visit.
func (p *puller) forgetGone(peers []peer.ID) {
	for pid := range p.seen {
		if !slices.Contains(peers, pid) {
			delete(p.seen, pid)
		}
	}
	for pid := range p.cooldown {
		if !slices.Contains(peers, pid) {
			delete(p.cooldown, pid)
		}
	}
}
