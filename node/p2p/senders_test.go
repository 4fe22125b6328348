package p2p

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// fixedAttesters is a validator set that does not change.
type fixedAttesters struct {
	vals  []Power
	total uint64
}

func (f fixedAttesters) Powers() ([]Power, uint64, bool) { return f.vals, f.total, len(f.vals) > 0 }

// validators makes a set of the named test keys with the given powers.
func validators(t testing.TB, names []string, powers ...uint64) fixedAttesters {
	var f fixedAttesters
	for i, n := range names {
		p := uint64(1)
		if i < len(powers) {
			p = powers[i]
		}
		f.vals = append(f.vals, Power{Address: addrOf(t, n), Power: p})
		f.total += p
	}
	return f
}

var fourNames = []string{"V1", "V2", "V3", "V4"}

// quorumCase is a batch of transfers, claimed by an origin.
type quorumCase struct {
	t       *testing.T
	r       rules.Static
	vals    fixedAttesters
	txs     []*types.Transaction
	senders []common.Address // the true senders
	raws    [][]byte
}

func newQuorumCase(t *testing.T, n int) *quorumCase {
	qc := &quorumCase{t: t, r: rules.NewStatic(big.NewInt(testChainID), 30_000_000), vals: validators(t, fourNames)}
	to := addrOf(t, "D")
	for i := range n {
		from := []string{"A", "B"}[i%2]
		tx := transfer(t, from, uint64(i/2), to)
		raw, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		qc.txs = append(qc.txs, tx)
		qc.senders = append(qc.senders, addrOf(t, from))
		qc.raws = append(qc.raws, raw)
	}
	return qc
}

// batch encodes the batch as origin claims senders; fresh decoded copies
// of the transactions go with it, as a peer would send them.
func (qc *quorumCase) batch(origin string, senders []common.Address) []byte {
	data, err := encodeSignedBatch(qc.txs, qc.raws, senders, testKey(qc.t, origin))
	if err != nil {
		qc.t.Fatal(err)
	}
	return data
}

// node returns the quorum of the validator named self, recording what it
// publishes.
func (qc *quorumCase) node(self string) (*quorum, *published) {
	pub := &published{}
	q := newQuorum(context.Background(), testKey(qc.t, self), qc.vals, pub.add)
	return q, pub
}

// nameOf names the validator with address a.
func (qc *quorumCase) nameOf(a common.Address) string {
	for _, n := range fourNames {
		if addrOf(qc.t, n) == a {
			return n
		}
	}
	return ""
}

// roles names the validators a batch by origin claiming senders designates,
// and one that it does not (not the origin either).
func (qc *quorumCase) roles(origin string, senders []common.Address) (chosen []string, other string) {
	s := statement(qc.txs, senders)
	picked := designated(s, qc.vals.vals, qc.vals.total, addrOf(qc.t, origin))
	for _, n := range fourNames {
		switch {
		case slices.Contains(picked, addrOf(qc.t, n)):
			chosen = append(chosen, n)
		case n != origin && other == "":
			other = n
		}
	}
	return chosen, other
}

type published struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (p *published) add(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, b)
	return nil
}

func (p *published) all() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// pooledFrom checks that the pool holds every transaction of the case
// under its true sender.
func (qc *quorumCase) pooledFrom(pool *syncPool) {
	qc.t.Helper()
	for i, tx := range qc.txs {
		if from, ok := pool.Sender(tx.Hash()); !ok || from != qc.senders[i] {
			qc.t.Fatalf("transaction %d pooled as from %s (%v), want %s", i, from, ok, qc.senders[i])
		}
	}
}

// TestSenderQuorumTrustsAttested: a validator that is neither the batch's
// origin nor designated takes the claimed senders without recovering any
// once a designated validator attested them: the origin and the attester
// hold half of the power, more than a third.
func TestSenderQuorumTrustsAttested(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, other := qc.roles("V1", qc.senders)
	if len(chosen) != 1 {
		t.Fatalf("designated %v, want one validator besides the origin", chosen)
	}
	data := qc.batch("V1", qc.senders)
	s := statement(qc.txs, qc.senders)

	// The attestation arrives while the batch waits for it.
	q, pub := qc.node(other)
	q.wait = time.Hour
	pool := newSyncPool(qc.r.Signer)
	type result struct {
		res   string
		c     batchCounts
		err   error
		after bool
	}
	done := make(chan result, 1)
	var attestedAt sync.Mutex
	sent := false
	go func() {
		res, c, err := checkTxBatch(data, qc.r, pool, nil, nil, q, common.Address{})
		attestedAt.Lock()
		defer attestedAt.Unlock()
		done <- result{resultName(res), c, err, sent}
	}()
	waitFor(t, "the batch waiting for attestations", func() bool { return q.waiting.Load() == 1 })
	attestedAt.Lock()
	q.add(addrOf(t, chosen[0]), s)
	sent = true
	attestedAt.Unlock()
	r := <-done
	if r.err != nil || r.res != "accept" || !r.after {
		t.Fatalf("have %s (%v, after the attestation: %v), want accept after the attestation", r.res, r.err, r.after)
	}
	if r.c.recovered != 0 || r.c.trusted != len(qc.txs) || r.c.attested {
		t.Fatalf("counts %+v: want no recovery, %d trusted, no attestation", r.c, len(qc.txs))
	}
	qc.pooledFrom(pool)
	if len(pub.all()) != 0 {
		t.Fatalf("a validator that was not designated published %d attestations", len(pub.all()))
	}

	// Attested before it arrives: taken at once.
	q2, _ := qc.node(other)
	q2.wait = time.Hour
	q2.add(addrOf(t, chosen[0]), s)
	pool2 := newSyncPool(qc.r.Signer)
	res, c, err := checkTxBatch(data, qc.r, pool2, nil, nil, q2, common.Address{})
	if err != nil || res != accept || c.recovered != 0 || c.trusted != len(qc.txs) {
		t.Fatalf("attested before it arrived: %s, %v, %+v", resultName(res), err, c)
	}
	qc.pooledFrom(pool2)
}

// TestSenderQuorumDesignatedChecks: the designated validator recovers the
// senders and attests a true claim; a false one (a sender swapped, signed
// by the origin) is refused and not attested.
func TestSenderQuorumDesignatedChecks(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, _ := qc.roles("V1", qc.senders)
	q, pub := qc.node(chosen[0])
	q.wait = time.Hour
	pool := newSyncPool(qc.r.Signer)
	res, c, err := checkTxBatch(qc.batch("V1", qc.senders), qc.r, pool, nil, nil, q, common.Address{})
	if err != nil || res != accept || c.recovered != len(qc.txs) || c.trusted != 0 || !c.attested {
		t.Fatalf("a true claim: %s, %v, %+v; want accepted, all recovered, attested", resultName(res), err, c)
	}
	qc.pooledFrom(pool)
	msgs := pub.all()
	if len(msgs) != 1 {
		t.Fatalf("published %d attestations, want 1", len(msgs))
	}
	s, signer, err := decodeAttestation(msgs[0])
	if err != nil || s != statement(qc.txs, qc.senders) || signer != addrOf(t, chosen[0]) {
		t.Fatalf("attestation: %x by %s (%v), want the claim's statement by %s", s, signer, err, chosen[0])
	}

	lie := slices.Clone(qc.senders)
	lie[3] = addrOf(t, "M")
	liar, _ := qc.roles("V1", lie)
	q2, pub2 := qc.node(liar[0])
	pool2 := newSyncPool(qc.r.Signer)
	res, _, err = checkTxBatch(qc.batch("V1", lie), qc.r, pool2, nil, nil, q2, common.Address{})
	if res != reject || !errors.Is(err, errClaim) {
		t.Fatalf("a false claim: %s, %v; want rejected as a bad claim", resultName(res), err)
	}
	if len(pub2.all()) != 0 {
		t.Fatal("a false claim was attested")
	}
	qc.pooledFrom(pool2) // the transactions stand on their own, under their true senders
}

// TestSenderQuorumLoneLiar: one Byzantine validator, the origin of a false
// claim, attests it as well: its power counts once, a quarter, not more
// than a third, and an attestation by a non-validator counts for nothing.
// The others wait, recover the senders themselves, refuse the batch and
// pool the transactions under their true senders, without holding the
// wait against the checkers that refused to attest the lie.
func TestSenderQuorumLoneLiar(t *testing.T) {
	qc := newQuorumCase(t, 8)
	lie := slices.Clone(qc.senders)
	lie[0], lie[1] = lie[1], lie[0]
	_, other := qc.roles("V1", lie)
	q, pub := qc.node(other)
	q.wait = 20 * time.Millisecond
	s := statement(qc.txs, lie)
	q.add(addrOf(t, "V1"), s)
	q.add(addrOf(t, "M"), s)
	pool := newSyncPool(qc.r.Signer)
	res, c, err := checkTxBatch(qc.batch("V1", lie), qc.r, pool, nil, nil, q, addrOf(t, "V1"))
	if res != reject || !errors.Is(err, errClaim) {
		t.Fatalf("a lone liar's claim: %s, %v; want rejected as a bad claim", resultName(res), err)
	}
	if c.trusted != 0 || c.recovered != len(qc.txs) {
		t.Fatalf("counts %+v: want every sender recovered, none trusted", c)
	}
	qc.pooledFrom(pool)
	if len(pub.all()) != 0 {
		t.Fatal("published an attestation without being designated")
	}
	// The checkers rightly left the false claim unattested: no miss.
	if len(q.misses) != 0 {
		t.Fatalf("misses after a false claim: %v", q.misses)
	}
}

// TestSenderQuorumSilentValidator: a designated validator that never
// attests costs a wait, then recovery; each wait in vain counts
// missWeight against it (waits ending together once), each turn attested
// in time one off, and at maxMisses this node stops waiting for it, for
// missForget after its last miss. An attestation of something else does
// not buy it back.
func TestSenderQuorumSilentValidator(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, other := qc.roles("V1", qc.senders)
	silent := addrOf(t, chosen[0])
	q, _ := qc.node(other)
	at := time.Unix(1000, 0)
	q.now = func() time.Time { return at }
	q.wait = time.Millisecond
	c, err := checkClaim(qc.txs, qc.senders, mustSign(t, statement(qc.txs, qc.senders), "V1"))
	if err != nil {
		t.Fatal(err)
	}
	turn := func() (role, bool) { // as checkTxBatch does, the claim being true
		r, waited := q.settle(c, len(qc.txs))
		if waited {
			q.missed(c)
		}
		return r, waited
	}
	// Two batches waiting at once, in vain: one miss.
	c2 := *c
	q.settle(c, len(qc.txs))
	q.settle(&c2, len(qc.txs))
	at = at.Add(time.Millisecond)
	q.missed(c)
	q.missed(&c2)
	if m := q.misses[silent]; m == nil || m.n != missWeight {
		t.Fatalf("misses after two waits at once: %+v, want %d", m, missWeight)
	}
	for i := 1; i < maxMisses/missWeight; i++ {
		at = at.Add(time.Second)
		if got, waited := turn(); got != roleRecover || !waited {
			t.Fatalf("turn %d without an attestation: role %d, waited %v; want a wait in vain", i, got, waited)
		}
	}
	if m := q.misses[silent]; m.n != maxMisses {
		t.Fatalf("misses of the silent validator: %d, want %d", m.n, maxMisses)
	}
	// Now it is not waited for: with an hour to wait, settle returns, and
	// attesting something else changes nothing.
	q.wait = time.Hour
	q.add(silent, common.Hash{1})
	settled := make(chan bool, 1)
	go func() { _, waited := q.settle(c, len(qc.txs)); settled <- waited }()
	select {
	case waited := <-settled:
		if waited {
			t.Fatal("waited for a validator that missed its turns")
		}
	case <-time.After(waitTimeout):
		t.Fatal("still waiting for a validator that missed its turns")
	}
	// A minute after its last miss it is waited for again.
	at = at.Add(missForget)
	q.wait = time.Millisecond
	if got, waited := turn(); got != roleRecover || !waited || q.misses[silent].n != missWeight {
		t.Fatalf("a minute later: role %d, waited %v, misses %d; want a wait in vain, %d", got, waited, q.misses[silent].n, missWeight)
	}
	// Its attestation of this batch makes a quorum and takes one off.
	q.add(silent, c.statement)
	if got, _ := turn(); got != roleTrust || q.misses[silent].n != missWeight-1 {
		t.Fatalf("after its attestation: role %d, misses %d; want trust, %d", got, q.misses[silent].n, missWeight-1)
	}

	// A checker that attests one turn in two runs up its count: claims of
	// other batches it checks, one missed, one kept, in turn.
	var turns []*claim
	for n := minQuorumTxs; len(turns) < 40; n++ {
		cm := newQuorumCase(t, n)
		if chosen, _ := cm.roles("V1", cm.senders); len(chosen) == 1 && chosen[0] == qc.nameOf(silent) {
			cl, err := checkClaim(cm.txs, cm.senders, mustSign(t, statement(cm.txs, cm.senders), "V1"))
			if err != nil {
				t.Fatal(err)
			}
			turns = append(turns, cl)
		}
	}
	q2, _ := qc.node(other)
	q2.now = q.now
	q2.wait = time.Millisecond
	for i := 0; !q2.unreliable([]common.Address{silent}); i += 2 {
		if i+1 >= len(turns) {
			t.Fatalf("a checker attesting one turn in two is still waited for: misses %d", q2.misses[silent].n)
		}
		at = at.Add(time.Second)
		if _, waited := q2.settle(turns[i], len(turns[i].txs)); waited {
			q2.missed(turns[i])
		}
		at = at.Add(time.Second)
		q2.add(silent, turns[i+1].statement)
		if got, _ := q2.settle(turns[i+1], len(turns[i+1].txs)); got != roleTrust {
			t.Fatalf("turn %d attested: role %d, want trust", i+1, got)
		}
	}
}

// TestSenderQuorumBounds: a batch with few new transactions is recovered
// without a wait; so is one beyond maxQuorumWaiters waiting batches, and one
// whose checker is not a direct peer.
func TestSenderQuorumBounds(t *testing.T) {
	qc := newQuorumCase(t, 8)
	_, other := qc.roles("V1", qc.senders)
	q, _ := qc.node(other)
	q.wait = time.Hour
	small := newQuorumCase(t, minQuorumTxs-1)
	_, smallOther := small.roles("V1", small.senders)
	qs, _ := small.node(smallOther)
	qs.wait = time.Hour
	done := make(chan struct{})
	go func() {
		defer close(done)
		pool := newSyncPool(qc.r.Signer)
		res, cnt, err := checkTxBatch(small.batch("V1", small.senders), small.r, pool, nil, nil, qs, common.Address{})
		if err != nil || res != accept || cnt.recovered != minQuorumTxs-1 || cnt.trusted != 0 {
			t.Errorf("%d new transactions: %s, %v, %+v; want all recovered", minQuorumTxs-1, resultName(res), err, cnt)
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("a batch of %d new transactions waited", minQuorumTxs-1)
	}
	c, err := checkClaim(qc.txs, qc.senders, mustSign(t, statement(qc.txs, qc.senders), "V1"))
	if err != nil {
		t.Fatal(err)
	}
	q.waiting.Store(maxQuorumWaiters)
	if got, waited := q.settle(c, len(qc.txs)); got != roleRecover || waited {
		t.Fatalf("with %d batches waiting: role %d, waited %v; want recovery at once", maxQuorumWaiters, got, waited)
	}
	if q.waiting.Load() != maxQuorumWaiters {
		t.Fatalf("waiting count %d after a refused wait, want %d", q.waiting.Load(), maxQuorumWaiters)
	}
	q.waiting.Store(0)
	q.connected = func(common.Address) bool { return false }
	if got, waited := q.settle(c, len(qc.txs)); got != roleRecover || waited {
		t.Fatalf("checker not a direct peer: role %d, waited %v; want recovery at once", got, waited)
	}
}

// TestDesignated: the checkers of a batch are chosen from its statement,
// never the origin, and just enough for more than a third of the power with
// the origin's; every validator gets turns.
func TestDesignated(t *testing.T) {
	four := validators(t, fourNames)
	origin := addrOf(t, "V1")
	turns := map[common.Address]int{}
	for i := range 200 {
		s := crypto.Keccak256Hash([]byte{byte(i), byte(i >> 8)})
		d := designated(s, four.vals, four.total, origin)
		if len(d) != 1 || d[0] == origin {
			t.Fatalf("statement %d: designated %v, want one validator other than the origin", i, d)
		}
		if again := designated(s, four.vals, four.total, origin); !slices.Equal(d, again) {
			t.Fatalf("statement %d: designated %v, then %v", i, d, again)
		}
		turns[d[0]]++
		if d := designated(s, four.vals, four.total, addrOf(t, "M")); len(d) != 2 || slices.Contains(d, addrOf(t, "M")) {
			t.Fatalf("statement %d from a non-validator: designated %v, want two validators", i, d)
		}
	}
	if len(turns) != 3 {
		t.Fatalf("turns %v: want each of the three other validators chosen", turns)
	}
	s := common.Hash{7}
	// Unequal power: an origin with 40% needs no one; one with 10% needs
	// validators adding up to more than a third with it.
	uneven := validators(t, fourNames, 40, 30, 20, 10)
	if d := designated(s, uneven.vals, uneven.total, addrOf(t, "V1")); len(d) != 0 {
		t.Fatalf("origin with 40%%: designated %v, want none", d)
	}
	d := designated(s, uneven.vals, uneven.total, addrOf(t, "V4"))
	power := uint64(10)
	for _, a := range d {
		i := slices.IndexFunc(uneven.vals, func(v Power) bool { return v.Address == a })
		power += uneven.vals[i].Power
	}
	if 3*power <= uneven.total || 3*(power-uneven.vals[slices.IndexFunc(uneven.vals, func(v Power) bool { return v.Address == d[len(d)-1] })].Power) > uneven.total {
		t.Fatalf("origin with 10%%: designated %v with %d of %d in all; want just over a third", d, power, uneven.total)
	}
}

func mustSign(t testing.TB, s common.Hash, name string) []byte {
	t.Helper()
	sig, err := crypto.Sign(s[:], testKey(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestDecodeEnvelope: a batch's claim is decoded and checked for shape
// before anything is trusted: as many senders as transactions, a
// 65-byte signature with them, neither without the other.
func TestDecodeEnvelope(t *testing.T) {
	qc := newQuorumCase(t, 3)
	sig := mustSign(t, statement(qc.txs, qc.senders), "V1")
	enc := func(raws [][]byte, senders []common.Address, sig []byte) []byte {
		b, err := rlp.EncodeToBytes([]any{raws, senders, sig})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	shortSender := func() []byte { // as many bytes as three addresses, one of them short
		b, err := rlp.EncodeToBytes([]any{qc.raws, [][]byte{qc.senders[0][:], append(qc.senders[1][:], 0), qc.senders[2][:19]}, sig})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name string
		data []byte
		want error
	}{
		{"claimed", enc(qc.raws, qc.senders, sig), nil},
		{"unclaimed", enc(qc.raws, nil, nil), nil},
		{"a sender missing", enc(qc.raws, qc.senders[:2], sig), errClaim},
		{"a sender too many", enc(qc.raws, append(slices.Clone(qc.senders), qc.senders[0]), sig), errClaim},
		{"a short sender", shortSender(), errClaim},
		{"a short signature", enc(qc.raws, qc.senders, sig[:64]), errClaim},
		{"a signature without senders", enc(qc.raws, nil, sig), errClaim},
		{"senders without a signature", enc(qc.raws, qc.senders, nil), errClaim},
		{"the old shape", func() []byte { b, _ := rlp.EncodeToBytes(qc.raws); return b }(), errMalformed},
		{"a fourth item", func() []byte { b, _ := rlp.EncodeToBytes([]any{qc.raws, qc.senders, sig, []byte{1}}); return b }(), errMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			txs, senders, got, err := decodeEnvelope(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("have %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if len(txs) != len(qc.txs) {
				t.Fatalf("%d transactions, want %d", len(txs), len(qc.txs))
			}
			c, err := checkClaim(txs, senders, got)
			if err != nil {
				t.Fatal(err)
			}
			if len(senders) > 0 && (c == nil || c.origin != addrOf(t, "V1")) {
				t.Fatalf("claim %+v, want one by V1", c)
			}
		})
	}
	// A relay that changes a claimed sender changes the statement: the
	// signature then names someone else, whose claim counts for nothing.
	lie := slices.Clone(qc.senders)
	lie[0] = addrOf(t, "M")
	txs, senders, got, err := decodeEnvelope(enc(qc.raws, lie, sig))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := checkClaim(txs, senders, got); err == nil && c.origin == addrOf(t, "V1") {
		t.Fatal("a changed claim still reads as V1's")
	}
}

// TestCheckSendersMsg: an attestation counts only if it is well formed and
// signed by a validator; a bad signature is the relay's fault, a
// non-validator's attestation is dropped quietly.
func TestCheckSendersMsg(t *testing.T) {
	vals := validators(t, fourNames)
	q := newQuorum(context.Background(), testKey(t, "V1"), vals, func([]byte) error { return nil })
	n := &Node{cfg: Config{Attesters: vals}, quorum: q}
	s := common.Hash{9}
	good, err := encodeAttestation(s, testKey(t, "V2"))
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := encodeAttestation(s, testKey(t, "M"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := rlp.EncodeToBytes(&attestation{Statement: s, Sig: make([]byte, 65)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"a validator's", good, "accept"},
		{"the same again", good, "accept"},
		{"a non-validator's", outsider, "ignore"},
		{"a bad signature", bad, "reject"},
		{"garbage", []byte{0xc0}, "reject"},
		{"oversized", make([]byte, maxAttestation+1), "reject"},
	} {
		res, _, _ := n.checkSendersMsg(tt.data, common.Address{})
		if resultName(res) != tt.want {
			t.Errorf("%s: have %s, want %s", tt.name, resultName(res), tt.want)
		}
	}
	c := &claim{statement: s, origin: addrOf(t, "V3")}
	if have := q.attested(c, vals.vals, nil); have != 2 {
		t.Fatalf("power vouching: %d, want 2 (the origin and the validator's attestation)", have)
	}
	// A high-s copy of a valid signature is refused: no relay makes a
	// second message of one attestation.
	var a attestation
	if err := rlp.DecodeBytes(good, &a); err != nil {
		t.Fatal(err)
	}
	sv := new(big.Int).SetBytes(a.Sig[32:64])
	sv.Sub(crypto.S256().Params().N, sv)
	high := slices.Clone(a.Sig)
	sv.FillBytes(high[32:64])
	high[64] ^= 1
	if _, err := signerOf(s, high); err == nil {
		t.Fatal("a high-s signature was taken")
	}
	// One member relays at most four seconds of its budget at once.
	at := time.Unix(5000, 0)
	q.now = func() time.Time { return at }
	relay := common.Address{0x77}
	passed := 0
	burst := 4 * attestRatePerValidator * len(vals.vals)
	for range burst + 10 {
		if res, _, err := n.checkSendersMsg(good, relay); res == accept {
			passed++
		} else if !errors.Is(err, errAttestRate) {
			t.Fatalf("over the budget: %v, want %v", err, errAttestRate)
		}
	}
	if passed != burst {
		t.Fatalf("attestations relayed by one member at once: %d, want %d", passed, burst)
	}
	if res, _, _ := n.checkSendersMsg(good, common.Address{0x78}); res != accept {
		t.Fatal("another member's relay held back by the first one's budget")
	}
}

// TestBatcherClaimsSenders: with a key, the batcher's batches claim their
// senders and carry the signature of the key; a batch with a sender it does
// not know claims none, and so does one too small for a quorum.
func TestBatcherClaimsSenders(t *testing.T) {
	qc := newQuorumCase(t, 4)
	var out [][]byte
	known := map[common.Hash]common.Address{}
	for i, tx := range qc.txs {
		known[tx.Hash()] = qc.senders[i]
	}
	b := &batcher{
		publish: func(d []byte) error { out = append(out, d); return nil },
		key:     testKey(t, "V2"),
		sender: func(tx *types.Transaction) (common.Address, bool) {
			a, ok := known[tx.Hash()]
			return a, ok
		},
	}
	for _, tx := range qc.txs {
		if err := b.add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	delete(known, qc.txs[2].Hash())
	for _, tx := range qc.txs {
		if err := b.add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	for _, tx := range qc.txs[:minQuorumTxs-1] {
		if err := b.add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("%d batches, want 3", len(out))
	}
	if _, senders, sig, err := decodeEnvelope(out[2]); err != nil || len(senders) != 0 || len(sig) != 0 {
		t.Fatalf("a batch of %d: senders %v, signature %x, %v; want no claim", minQuorumTxs-1, senders, sig, err)
	}
	txs, senders, sig, err := decodeEnvelope(out[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkClaim(txs, senders, sig)
	if err != nil || c == nil || c.origin != addrOf(t, "V2") || !slices.Equal(c.senders, qc.senders) {
		t.Fatalf("claim %+v (%v): want the true senders, signed by V2", c, err)
	}
	if _, senders, sig, err := decodeEnvelope(out[1]); err != nil || len(senders) != 0 || len(sig) != 0 {
		t.Fatalf("a batch with an unknown sender: senders %v, signature %x, %v; want no claim", senders, sig, err)
	}
}

// TestSenderQuorumOverGossip: three members, each a validator of equal
// power; a burst into A reaches every pool under its true senders, and B
// and C take some of it on each other's attestations instead of
// recovering it.
func TestSenderQuorumOverGossip(t *testing.T) {
	g := testGenesis(t)
	vals := validators(t, []string{"A", "B", "C"})
	// A long wait: on a slow machine under -race, the attestations must
	// still beat it.
	with := func(c *Config) { c.Attesters, c.quorumWait = vals, time.Minute }
	a := startNode(t, "A", newTestChain(t, g, "A"), nil, with)
	b := startNode(t, "B", newTestChain(t, g, "B"), nil, with, withPeers(a))
	c := startNode(t, "C", newTestChain(t, g, "C"), nil, with, withPeers(a, b))
	waitFor(t, "full meshes", func() bool {
		return len(a.txTopic.ListPeers()) == 2 && len(b.txTopic.ListPeers()) == 2 && len(c.txTopic.ListPeers()) == 2 &&
			len(a.sendersTopic.ListPeers()) == 2 && len(b.sendersTopic.ListPeers()) == 2 && len(c.sendersTopic.ListPeers()) == 2
	})
	var burst []*types.Transaction
	for _, from := range []string{"A", "B"} {
		for n := uint64(0); n < 400; n++ {
			burst = append(burst, transfer(t, from, n, addrOf(t, "D")))
		}
	}
	for _, tx := range burst {
		if err := a.tc.pool.Add(tx); err != nil {
			t.Fatalf("add to A: %v", err)
		}
	}
	waitFor(t, "the burst in B's and C's pools", func() bool {
		return b.tc.pool.Len() == len(burst) && c.tc.pool.Len() == len(burst)
	})
	signer := a.tc.chain.Rules().Signer
	for _, n := range []*testNode{b, c} {
		for _, tx := range burst {
			want, err := types.Sender(signer, tx)
			if err != nil {
				t.Fatal(err)
			}
			if have, ok := n.tc.pool.Sender(tx.Hash()); !ok || have != want {
				t.Fatalf("pooled sender %s (%v), want %s", have, ok, want)
			}
		}
	}
	if n := b.rejects(labelTxs) + c.rejects(labelTxs) + b.rejects(labelSenders) + c.rejects(labelSenders); n != 0 {
		t.Fatalf("rejected messages: %v", n)
	}
	trusted := counterValue(b.metrics.trusted) + counterValue(c.metrics.trusted)
	attested := counterValue(b.metrics.attested) + counterValue(c.metrics.attested)
	if trusted == 0 || attested == 0 {
		t.Fatalf("trusted %v transactions and attested %v batches, want some of each", trusted, attested)
	}
	t.Logf("B and C recovered %v senders, trusted %v, attested %v batches", counterValue(b.metrics.recovered)+counterValue(c.metrics.recovered), trusted, attested)
}

// TestSenderQuorumRelayed: a batch taken on a quorum and pooled in full is
// passed on as it is, its marks settled; a false claim found by a checker
// is refused and its marks released, so this node announces what its pool
// took from it in its own batches.
func TestSenderQuorumRelayed(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, other := qc.roles("V1", qc.senders)
	q, _ := qc.node(other)
	q.add(addrOf(t, chosen[0]), statement(qc.txs, qc.senders))
	rel := newRelayed(func([]*types.Transaction) {})
	rel.activate()
	pool := newSyncPool(qc.r.Signer)
	res, c, err := checkTxBatch(qc.batch("V1", qc.senders), qc.r, pool, rel, nil, q, common.Address{})
	if err != nil || res != accept || c.trusted != len(qc.txs) {
		t.Fatalf("a batch taken on a quorum: %s, %v, %+v; want accepted, all trusted", resultName(res), err, c)
	}
	for _, tx := range qc.txs {
		if !rel.take(tx.Hash()) {
			t.Fatalf("%x not marked as passed on", tx.Hash())
		}
	}
	if n := rel.size(); n != 0 {
		t.Fatalf("%d marks left after the announcements", n)
	}

	lie := slices.Clone(qc.senders)
	lie[2] = addrOf(t, "M")
	liar, _ := qc.roles("V1", lie)
	q2, _ := qc.node(liar[0])
	rel2 := newRelayed(func([]*types.Transaction) {})
	rel2.activate()
	pool2 := newSyncPool(qc.r.Signer)
	res, _, err = checkTxBatch(qc.batch("V1", lie), qc.r, pool2, rel2, nil, q2, common.Address{})
	if res != reject || !errors.Is(err, errClaim) {
		t.Fatalf("a false claim: %s, %v; want rejected", resultName(res), err)
	}
	if n := rel2.size(); n != 0 {
		t.Fatalf("%d marks held after a refused batch", n)
	}
	for _, tx := range qc.txs {
		if rel2.take(tx.Hash()) {
			t.Fatalf("%x still marked as passed on after its batch was refused", tx.Hash())
		}
	}
}

// TestSenderQuorumChargesOnlyFromOrigin: a wait in vain for a true claim
// counts against its checkers only when the batch came from its origin;
// relayed by anyone else, it may have been sent to this node alone.
func TestSenderQuorumChargesOnlyFromOrigin(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, other := qc.roles("V1", qc.senders)
	for _, tt := range []struct {
		via     string
		charged bool
	}{{"V1", true}, {"M", false}} {
		q, _ := qc.node(other)
		q.wait = time.Millisecond
		pool := newSyncPool(qc.r.Signer)
		res, c, err := checkTxBatch(qc.batch("V1", qc.senders), qc.r, pool, nil, nil, q, addrOf(t, tt.via))
		if err != nil || res != accept || c.recovered != len(qc.txs) {
			t.Fatalf("via %s: %s, %v, %+v; want accepted after recovery", tt.via, resultName(res), err, c)
		}
		if m := q.misses[addrOf(t, chosen[0])]; (m != nil && m.n > 0) != tt.charged {
			t.Fatalf("via %s: misses %+v, want charged %v", tt.via, m, tt.charged)
		}
	}
}

// TestSenderQuorumCheckerWithLittleNew: a designated checker that already
// holds most of a batch (pulled, say) still checks and attests it, so that
// nodes lacking it are not left waiting.
func TestSenderQuorumCheckerWithLittleNew(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, _ := qc.roles("V1", qc.senders)
	q, pub := qc.node(chosen[0])
	pool := newSyncPool(qc.r.Signer)
	for _, tx := range qc.txs[:len(qc.txs)-1] {
		if _, err := qc.r.CheckStatic(tx); err != nil {
			t.Fatal(err)
		}
		if err := pool.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	res, c, err := checkTxBatch(qc.batch("V1", qc.senders), qc.r, pool, nil, nil, q, addrOf(t, "V1"))
	if err != nil || res != ignore || !c.attested || len(pub.all()) != 1 {
		t.Fatalf("one new transaction: %s, %v, %+v, %d published; want attested", resultName(res), err, c, len(pub.all()))
	}
}

// TestSenderQuorumPooledDuringWait: transactions the pool takes by another
// way while a batch waits for its quorum are not new to it afterwards: the
// batch offers the pool only the rest and is still passed on as it is.
func TestSenderQuorumPooledDuringWait(t *testing.T) {
	qc := newQuorumCase(t, 8)
	chosen, other := qc.roles("V1", qc.senders)
	data := qc.batch("V1", qc.senders)
	q, _ := qc.node(other)
	q.wait = time.Hour
	pool := newSyncPool(qc.r.Signer)
	type result struct {
		res string
		c   batchCounts
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, c, err := checkTxBatch(data, qc.r, pool, nil, nil, q, common.Address{})
		done <- result{resultName(res), c, err}
	}()
	waitFor(t, "the batch waiting for attestations", func() bool { return q.waiting.Load() == 1 })
	if _, err := qc.r.CheckStatic(qc.txs[0]); err != nil {
		t.Fatal(err)
	}
	if err := pool.Add(qc.txs[0]); err != nil { // pulled, say
		t.Fatal(err)
	}
	q.add(addrOf(t, chosen[0]), statement(qc.txs, qc.senders))
	r := <-done
	if r.err != nil || r.res != "accept" {
		t.Fatalf("have %s (%v), want accept", r.res, r.err)
	}
	if want := len(qc.txs) - 1; r.c.took != want || r.c.trusted != want || r.c.recovered != 0 {
		t.Fatalf("counts %+v: want %d taken and trusted, none recovered", r.c, want)
	}
	qc.pooledFrom(pool)
}
