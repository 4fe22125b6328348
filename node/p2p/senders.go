package p2p

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Sender quorums (decision 46). Recovering a transaction's sender is most
// of what a transaction costs a validator, and every validator used to
// recover every transaction. A batch now carries the senders its origin
// claims, signed by the origin's node key; a few validators, chosen from
// the batch's statement, recover the senders themselves and, if they
// match, sign the same statement (an attestation, on the senders topic).
// The others take the claimed senders once the origin and the attesters
// together hold more than a third of the voting power: at least one of
// them is honest as long as the Byzantine validators hold at most a third,
// the assumption BFT safety rests on anyway. A node that sees no quorum in
// time recovers the senders itself, so a silent or lying validator costs
// time, never a wrong sender.

const (
	// sendersDomain separates the statements signed here from everything
	// else a node key signs (consensus votes and proposals).
	sendersDomain = "arbiter/tx-senders/1"
	// quorumWait is how long a node waits for a batch's attestations
	// before it recovers the senders itself: the chosen checker's own
	// check of the batch, a gossip hop and some queueing under load.
	quorumWait = 200 * time.Millisecond
	// maxQuorumWaiters bounds the batches waiting for attestations at
	// once; more are checked at once by recovery.
	maxQuorumWaiters = 64
	// minQuorumTxs is the fewest new transactions worth waiting for: a
	// few are cheaper to recover than to hold a batch for.
	minQuorumTxs = 4
	// attestationsPerSigner bounds the recent attestations kept of one
	// validator (about 40 s of a busy validator's batches).
	attestationsPerSigner = 1024
	// maxAttestation bounds a senders-topic message.
	maxAttestation = 128
	// A validator's turns left unattested (a true claim, this node waited
	// in vain) count missWeight each, its turns attested in time one off;
	// at maxMisses this node stops waiting for it, for missForget after
	// its last miss. Waits that end together count as one miss.
	missWeight = 2
	maxMisses  = 3 * missWeight
	missForget = time.Minute
	// attestRatePerValidator budgets the attestations one member relays,
	// checked before their signatures are, per validator: an honest
	// validator attests about one batch in three of the others' at 25
	// batches a second each, and a budget refused is a message lost for
	// good (pubsub marks it seen before validation), so the budget is
	// several times that; the burst is four seconds of it.
	attestRatePerValidator = 128
)

var (
	// errClaim: a batch's claimed senders or their signature are malformed
	// or not the transactions' senders.
	errClaim = errors.New("bad sender claim")
	// errAttestation: a senders-topic message is malformed or not signed by
	// a validator.
	errAttestation = errors.New("bad sender attestation")
)

// Power is a validator and its voting power.
type Power struct {
	Address common.Address
	Power   uint64
}

// Attesters names the validators whose attestations of senders count: those
// deciding the next block. *posval's Attesters satisfies it.
type Attesters interface {
	// Powers returns the validators with their voting power, sorted by
	// address, and the total; ok is false when there are none.
	Powers() (vals []Power, total uint64, ok bool)
}

// statement is what an origin and its attesters sign for a batch: the
// domain, then each transaction's hash and claimed sender.
func statement(txs []*types.Transaction, senders []common.Address) common.Hash {
	buf := make([]byte, 0, len(sendersDomain)+len(txs)*(common.HashLength+common.AddressLength))
	buf = append(buf, sendersDomain...)
	for i, tx := range txs {
		h := tx.Hash()
		buf = append(buf, h[:]...)
		buf = append(buf, senders[i][:]...)
	}
	return crypto.Keccak256Hash(buf)
}

// attestation is a senders-topic message: a validator's signature of a
// batch's statement.
type attestation struct {
	Statement common.Hash
	Sig       []byte
}

func encodeAttestation(s common.Hash, key *ecdsa.PrivateKey) ([]byte, error) {
	sig, err := crypto.Sign(s[:], key)
	if err != nil {
		return nil, err
	}
	return rlp.EncodeToBytes(&attestation{Statement: s, Sig: sig})
}

// decodeAttestation decodes a senders-topic message and recovers its
// signer, size first.
func decodeAttestation(data []byte) (common.Hash, common.Address, error) {
	if len(data) > maxAttestation {
		return common.Hash{}, common.Address{}, fmt.Errorf("%w: %d bytes, limit %d", errOversized, len(data), maxAttestation)
	}
	var a attestation
	if err := rlp.DecodeBytes(data, &a); err != nil {
		return common.Hash{}, common.Address{}, fmt.Errorf("%w: %v", errAttestation, err)
	}
	signer, err := signerOf(a.Statement, a.Sig)
	if err != nil {
		return common.Hash{}, common.Address{}, fmt.Errorf("%w: %v", errAttestation, err)
	}
	return a.Statement, signer, nil
}

// signerOf recovers the address that signed s. Only the canonical (low s)
// form of a signature is taken, so that no relay can make a second
// message, with another message id, of the same signature.
func signerOf(s common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, fmt.Errorf("signature of %d bytes", len(sig))
	}
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(sig[64], r, sv, true) {
		return common.Address{}, errors.New("signature values out of range or not canonical")
	}
	pub, err := crypto.SigToPub(s[:], sig)
	if err != nil {
		return common.Address{}, err
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// claim is a batch's signed claim of its senders, checked against its
// signature: who made it (origin), what was signed (statement), the
// senders by transaction hash, and the validators designated to check it
// (set by settle).
type claim struct {
	statement common.Hash
	origin    common.Address
	txs       []*types.Transaction
	senders   []common.Address
	byHash    map[common.Hash]common.Address
	chosen    []common.Address
	waitedAt  time.Time // when a wait in vain for it began (settle)
}

// Sender serves the claimed senders as a senderCache, once a quorum
// attested them.
func (c *claim) Sender(hash common.Hash) (common.Address, bool) {
	a, ok := c.byHash[hash]
	return a, ok
}

// checkClaim checks a batch's claim: as many senders as transactions and a
// signature by someone (recovered). A batch without a claim has none (nil,
// nil).
func checkClaim(txs []*types.Transaction, senders []common.Address, sig []byte) (*claim, error) {
	if len(senders) == 0 && len(sig) == 0 {
		return nil, nil
	}
	if len(senders) != len(txs) {
		return nil, fmt.Errorf("%w: %d senders for %d transactions", errClaim, len(senders), len(txs))
	}
	s := statement(txs, senders)
	origin, err := signerOf(s, sig)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errClaim, err)
	}
	c := &claim{statement: s, origin: origin, txs: txs, senders: senders, byHash: make(map[common.Hash]common.Address, len(txs))}
	for i, tx := range txs {
		c.byHash[tx.Hash()] = senders[i]
	}
	return c, nil
}

// designated returns the validators that check a batch with statement s
// from origin and attest it for the others: in the order of
// keccak256(s, address), skipping the origin, as many as it takes for the
// origin's power and theirs to exceed a third of the total. Every node
// computes the same list from the same validators.
func designated(s common.Hash, vals []Power, total uint64, origin common.Address) []common.Address {
	type ranked struct {
		rank common.Hash
		v    Power
	}
	rs := make([]ranked, 0, len(vals))
	var have uint64
	for _, v := range vals {
		if v.Address == origin {
			have += v.Power
			continue
		}
		rs = append(rs, ranked{crypto.Keccak256Hash(s[:], v.Address[:]), v})
	}
	slices.SortFunc(rs, func(a, b ranked) int { return bytes.Compare(a.rank[:], b.rank[:]) })
	var out []common.Address
	for _, r := range rs {
		if 3*have > total {
			break
		}
		out = append(out, r.v.Address)
		have += r.v.Power
	}
	return out
}

// quorum keeps validators' recent attestations and lets checks wait for a
// batch's. The zero value is not usable: see newQuorum.
type quorum struct {
	ctx       context.Context
	self      common.Address
	key       *ecdsa.PrivateKey
	attesters Attesters
	publish   func([]byte) error
	// connected reports whether a validator is a direct peer on the
	// transaction topic (nil: always): a batch is waited for only if its
	// checkers get it from the origin, not after someone else's wait.
	connected func(common.Address) bool
	wait      time.Duration
	now       func() time.Time
	waiting   atomic.Int32

	mu       sync.Mutex
	bySigner map[common.Address]*recent
	waiters  map[common.Hash][]chan struct{}
	misses   map[common.Address]*misses
	relays   map[common.Address]*bucket // each relaying member's attestation budget
}

// misses counts a validator's designated turns left unattested, less those
// attested in time, since its last miss less than missForget ago.
type misses struct {
	n  int
	at time.Time
}

// recent is one validator's last attestations: a set and a ring that
// evicts the oldest.
type recent struct {
	set  map[common.Hash]struct{}
	ring []common.Hash
	next int
}

func newQuorum(ctx context.Context, key *ecdsa.PrivateKey, attesters Attesters, publish func([]byte) error) *quorum {
	return &quorum{
		ctx: ctx, self: crypto.PubkeyToAddress(key.PublicKey), key: key, attesters: attesters, publish: publish, wait: quorumWait,
		now: time.Now, bySigner: make(map[common.Address]*recent), waiters: make(map[common.Hash][]chan struct{}),
		misses: make(map[common.Address]*misses), relays: make(map[common.Address]*bucket),
	}
}

// allowRelay takes one of the attestations the member from may relay
// (attestRatePerValidator a second per validator, four seconds' worth at
// once), before any is checked.
func (q *quorum) allowRelay(from common.Address) bool {
	vals, _, _ := q.attesters.Powers()
	rate := float64(attestRatePerValidator * max(1, len(vals)))
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	b := q.relays[from]
	if b == nil {
		b = &bucket{tokens: 4 * rate, last: now}
		q.relays[from] = b
	}
	return b.take(now, rate, 4*rate)
}

// add records signer's attestation of s and wakes the checks waiting for
// s. The caller has checked that signer is a validator.
func (q *quorum) add(signer common.Address, s common.Hash) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.bySigner[signer]
	if r == nil {
		r = &recent{set: make(map[common.Hash]struct{})}
		q.bySigner[signer] = r
	}
	if _, ok := r.set[s]; ok {
		return
	}
	if len(r.ring) < attestationsPerSigner {
		r.ring = append(r.ring, s)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = s
		r.next = (r.next + 1) % attestationsPerSigner
	}
	r.set[s] = struct{}{}
	for _, ch := range q.waiters[s] {
		close(ch)
	}
	delete(q.waiters, s)
}

// attested sums the power of the validators that vouch for c: its origin
// and those that attested its statement. It registers ch (if not nil) to
// be closed on the next attestation of the statement.
func (q *quorum) attested(c *claim, vals []Power, ch chan struct{}) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var have uint64
	for _, v := range vals {
		if v.Address == c.origin {
			have += v.Power
			continue
		}
		if r := q.bySigner[v.Address]; r != nil {
			if _, ok := r.set[c.statement]; ok {
				have += v.Power
			}
		}
	}
	if ch != nil {
		q.waiters[c.statement] = append(q.waiters[c.statement], ch)
	}
	return have
}

// forget drops the waiter ch of s, which stopped waiting.
func (q *quorum) forget(s common.Hash, ch chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ws := q.waiters[s]
	for i, w := range ws {
		if w == ch {
			ws = slices.Delete(ws, i, i+1)
			break
		}
	}
	if len(ws) == 0 {
		delete(q.waiters, s)
	} else {
		q.waiters[s] = ws
	}
}

// role is what this node does about a claimed batch.
type role int

const (
	roleRecover role = iota // recover the senders, as without a claim
	roleCheck               // recover them, and attest the claim if it holds
	roleTrust               // the claim holds: a quorum vouches for it
)

// settle decides how this node learns the senders of the claimed batch c,
// of which fresh transactions are new to it: checking and attesting it if
// this node is designated, taking the claim once a quorum vouches for it,
// or recovering them when there are no validators, fewer than
// minQuorumTxs new transactions, too many batches waiting, a checker that
// is not a direct peer or has missed its turns, or no quorum within the
// wait. waited reports a wait in vain: the caller charges it to the
// checkers (missed) once it knows the claim was true.
func (q *quorum) settle(c *claim, fresh int) (r role, waited bool) {
	vals, total, ok := q.attesters.Powers()
	if !ok || total == 0 {
		return roleRecover, false
	}
	c.chosen = designated(c.statement, vals, total, c.origin)
	chosen := c.chosen
	if slices.Contains(chosen, q.self) {
		return roleCheck, false
	}
	if 3*q.attested(c, vals, nil) > total {
		q.kept(c, chosen)
		return roleTrust, false
	}
	if fresh < minQuorumTxs || q.unreliable(chosen) {
		return roleRecover, false
	}
	if q.connected != nil {
		for _, a := range chosen {
			if !q.connected(a) {
				return roleRecover, false
			}
		}
	}
	if q.waiting.Add(1) > maxQuorumWaiters {
		q.waiting.Add(-1)
		return roleRecover, false
	}
	defer q.waiting.Add(-1)
	c.waitedAt = q.now()
	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	for {
		ch := make(chan struct{})
		if 3*q.attested(c, vals, ch) > total {
			q.forget(c.statement, ch)
			q.kept(c, chosen)
			return roleTrust, false
		}
		select {
		case <-ch:
		case <-timer.C:
			q.forget(c.statement, ch)
			return roleRecover, true
		case <-q.ctx.Done():
			q.forget(c.statement, ch)
			return roleRecover, false
		}
	}
}

// unreliable reports whether a designated validator is not worth waiting
// for: its misses reached maxMisses, the last less than missForget ago.
func (q *quorum) unreliable(chosen []common.Address) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, a := range chosen {
		if m := q.misses[a]; m != nil && m.n >= maxMisses && now.Sub(m.at) < missForget {
			return true
		}
	}
	return false
}

// missed counts a turn against the designated validators that did not
// attest c, a true claim, while this node waited. Only turns this node saw
// count; a wait that began before a checker's last charged miss was part of
// that stall and counts no more; a count is forgotten missForget after its
// last miss: a validator that stopped attesting is waited for again a
// minute later, and one that attests fewer than two of its turns in three
// runs up its count.
func (q *quorum) missed(c *claim) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, a := range c.chosen {
		if r := q.bySigner[a]; r != nil {
			if _, ok := r.set[c.statement]; ok {
				continue
			}
		}
		m := q.misses[a]
		if m == nil || now.Sub(m.at) >= missForget {
			m = &misses{}
			q.misses[a] = m
		} else if m.n > 0 && c.waitedAt.Before(m.at) {
			continue // the same stall, seen by another waiting batch
		}
		m.n += missWeight
		m.at = now
	}
}

// kept takes a turn off the count of each designated validator that
// attested c.
func (q *quorum) kept(c *claim, chosen []common.Address) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, a := range chosen {
		m := q.misses[a]
		if m == nil {
			continue
		}
		if r := q.bySigner[a]; r != nil {
			if _, ok := r.set[c.statement]; ok && m.n > 0 {
				m.n--
			}
		}
	}
}

// attest publishes this node's attestation of c, whose senders it
// recovered and found as claimed.
func (q *quorum) attest(c *claim) error {
	data, err := encodeAttestation(c.statement, q.key)
	if err != nil {
		return err
	}
	return q.publish(data)
}

// matches reports whether the senders of c's transactions, as recovered or
// known to this node (cached in each transaction after the static checks,
// or in known), are the claimed ones.
func (c *claim) matches(signer types.Signer, known senderCache) error {
	for i, tx := range c.txs {
		from, ok := knownSender(known, tx)
		if !ok {
			var err error
			if from, err = types.Sender(signer, tx); err != nil {
				return fmt.Errorf("%w: batch item %d: %v", errClaim, i, err)
			}
		}
		if from != c.senders[i] {
			return fmt.Errorf("%w: batch item %d is from %s, claimed %s", errClaim, i, from, c.senders[i])
		}
	}
	return nil
}
