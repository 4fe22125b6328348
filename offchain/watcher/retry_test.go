package watcher

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// retryWindow is the claims' deadline in these tests: the claim is in
// block 1, so blocks 2 to 6 may still take the watchtower's action.
const retryWindow = 6

// step is one thing that happens in a retry scenario.
type step func(e *env)

func poll(e *env) { e.poll() }

func mine(e *env) { e.chain.mine("a", nil) }

func wait(d time.Duration) step { return func(e *env) { e.clock.advance(d) } }

// evictLast drops the last transaction sent from the node's pool.
func evictLast(e *env) {
	sent := e.chain.sentTxs()
	e.chain.evict(sent[len(sent)-1].Hash())
}

// takeNonce uses the watchtower's next nonce elsewhere.
func takeNonce(e *env) { e.chain.useNonce(addrOf(e.tower)) }

// settleClaim makes the chain's dry run refuse every further call, as
// once the claim was settled by someone else.
func settleClaim(e *env) {
	e.chain.estimate = func(ethereum.CallMsg) (uint64, error) {
		return 0, &rpcError{code: 3, msg: "execution reverted: game is not claimed"}
	}
}

// atRisk checks the at-risk gauge of method.
func atRisk(method string, want float64) step {
	return func(e *env) {
		e.tb.Helper()
		if have := e.methodMetric("arbiter_watcher_claims_at_risk", method); have != want {
			e.tb.Fatalf("claims at risk (%s): have %v, want %v", method, have, want)
		}
	}
}

// sends checks how many times the watchtower called SendTransaction.
func sends(want int) step {
	return func(e *env) {
		e.tb.Helper()
		e.chain.mu.Lock()
		have := e.chain.sends
		e.chain.mu.Unlock()
		if have != want {
			e.tb.Fatalf("sends: have %d, want %d", have, want)
		}
	}
}

// repeat returns steps n times over.
func repeat(n int, steps ...step) []step {
	var out []step
	for range n {
		out = append(out, steps...)
	}
	return out
}

// staleClaim mines, in block 1, a claim the watchtower can act on: a
// timeout claim by white at ply 3 while the store holds white's ply 5
// (refute), or black's ply 4 (answer). It returns the claim's
// transaction.
func staleClaim(e *env, method string) common.Hash {
	e.tb.Helper()
	plies := 6
	if method == "answer" {
		plies = 4
	}
	s := e.play(channel.StartState(e.newGame("g")), shuffle(plies)...)
	e.accept(s...)
	tx, l := e.claim(e.white, channel.ClaimTimeout, s[1], s[2], retryWindow)
	e.chain.mine("a", []types.Log{l}, tx)
	return tx.Hash()
}

// claimRecord returns the Handled record of the claim.
func (e *env) claimRecord(claim common.Hash) Handled {
	e.tb.Helper()
	for _, h := range e.handled() {
		if h.TxHash == claim {
			return h
		}
	}
	e.tb.Fatalf("no record of claim %s", claim)
	return Handled{}
}

// noticesFor returns the events notified about the claim, in order.
func (e *env) noticesFor(claim common.Hash) []string {
	var out []string
	for _, n := range e.notes.Notifications() {
		if n.Claim == claim {
			if n.Player != addrOf(e.black) {
				e.tb.Fatalf("notification to %s, want black %s", n.Player, addrOf(e.black))
			}
			out = append(out, n.Event)
		}
	}
	return out
}

// retryCase is a retry scenario and what must come of it.
type retryCase struct {
	name   string
	method string // "refute" or "answer"
	refuse int    // sends the node refuses as a full pool before it accepts
	steps  []step

	wantOutcome  string
	wantLanded   bool   // the recorded action is in a block no later than the deadline
	wantNonce    uint64 // of the landed transaction
	wantFailures float64
	wantMissed   float64
	wantNotices  []string
}

// check runs the scenario's steps and checks the result.
func (tt retryCase) check(t *testing.T, e *env, claim common.Hash) {
	t.Helper()
	for _, s := range tt.steps {
		s(e)
	}
	rec := e.claimRecord(claim)
	if rec.Outcome != tt.wantOutcome {
		t.Fatalf("outcome: have %s (%s), want %s", rec.Outcome, rec.Detail, tt.wantOutcome)
	}
	n, landed := e.chain.minedIn(rec.Action)
	switch {
	case tt.wantLanded && (!landed || n > retryWindow):
		t.Fatalf("action %s: have in block %d (mined %v), want in a block <= %d", rec.Action, n, landed, retryWindow)
	case !tt.wantLanded && landed:
		t.Fatalf("action %s: have in block %d, want none landed", rec.Action, n)
	}
	if tt.wantLanded {
		tx, _, err := e.chain.TransactionByHash(t.Context(), rec.Action)
		requireNoErr(t, "TransactionByHash", err)
		if method, _ := e.sentCall(tx); method != tt.method || tx.Nonce() != tt.wantNonce {
			t.Fatalf("landed: have %s with nonce %d, want %s with nonce %d", method, tx.Nonce(), tt.method, tt.wantNonce)
		}
	}
	if have := e.methodMetric("arbiter_watcher_action_failures_total", tt.method); have != tt.wantFailures {
		t.Fatalf("failures: have %v, want %v", have, tt.wantFailures)
	}
	if have := e.methodMetric("arbiter_watcher_claims_missed_total", tt.method); have != tt.wantMissed {
		t.Fatalf("missed: have %v, want %v", have, tt.wantMissed)
	}
	if have := e.noticesFor(claim); !slices.Equal(have, tt.wantNotices) {
		t.Fatalf("notifications: have %v, want %v", have, tt.wantNotices)
	}
	alerts := e.logs.find(slog.LevelError, "watchtower missed a claim window")
	if have := float64(len(alerts)); have != tt.wantMissed {
		t.Fatalf("error logs of a missed window: have %d, want %v", len(alerts), tt.wantMissed)
	}
	for _, a := range alerts {
		if a["claim"] != claim.Hex() || a["method"] != tt.method {
			t.Fatalf("alert: have %v, want claim %s and method %s", a, claim.Hex(), tt.method)
		}
	}
	if tt.wantFailures > 0 && len(e.logs.find(slog.LevelWarn, "watchtower action failed; retrying"))+len(e.logs.find(slog.LevelWarn, "watchtower action refused by the chain")) == 0 {
		t.Fatalf("no warning logged for %v failed attempts", tt.wantFailures)
	}
	ps, err := e.db.pendings()
	requireNoErr(t, "pendings", err)
	if len(ps) != 0 {
		t.Fatalf("pending actions left: %+v", ps)
	}
	atRisk(tt.method, 0)(e)
}

// TestWatchtowerRetries has the node refuse the watchtower's refute or
// answer (a full pool), lose it from its pool, or see its nonce taken,
// and checks that the watchtower keeps at it, with a backoff, until its
// transaction is in a block before the claim's window closes; that it
// stops when the chain refuses the call; and that when the window closes
// first it alerts: an error log and the missed counter.
func TestWatchtowerRetries(t *testing.T) {
	tests := []retryCase{
		{
			name: "refused twice, then sent", method: "refute", refuse: 2,
			steps: []step{
				poll, sends(1), atRisk("refute", 1),
				poll, sends(1), // the backoff has not passed
				wait(time.Second), poll, sends(2),
				wait(time.Second), poll, sends(2), // the backoff doubled
				wait(time.Second), poll, sends(3),
				mine, poll,
			},
			wantOutcome: OutcomeRefuted, wantLanded: true, wantFailures: 2,
			wantNotices: []string{NoticeRetrying, NoticeRefuted},
		},
		{
			name: "answer refused, then sent", method: "answer", refuse: 1,
			steps:       []step{poll, atRisk("answer", 1), wait(time.Second), poll, mine, poll},
			wantOutcome: OutcomeAnswered, wantLanded: true, wantFailures: 1,
			wantNotices: []string{NoticeRetrying, NoticeAnswered},
		},
		{
			name: "lost from the pool, sent again", method: "refute",
			steps:       []step{poll, sends(1), atRisk("refute", 1), evictLast, poll, sends(2), mine, poll},
			wantOutcome: OutcomeRefuted, wantLanded: true,
			wantNotices: []string{NoticeRefuted},
		},
		{
			name: "nonce taken meanwhile, signed again", method: "refute", refuse: 1,
			steps:       []step{poll, takeNonce, wait(time.Second), poll, mine, poll},
			wantOutcome: OutcomeRefuted, wantLanded: true, wantNonce: 1, wantFailures: 1,
			wantNotices: []string{NoticeRetrying, NoticeRefuted},
		},
		{
			name: "claim settled meanwhile, given up", method: "refute", refuse: 1,
			steps:       []step{poll, settleClaim, wait(time.Second), poll, sends(1), wait(time.Minute), mine, poll, sends(1)},
			wantOutcome: OutcomeRefused, wantFailures: 2,
			wantNotices: []string{NoticeRetrying, NoticeFailed},
		},
		{
			name: "window closes while refused", method: "refute", refuse: 1000,
			steps: append(append([]step{poll}, repeat(retryWindow-1, wait(4*time.Second), mine, poll)...),
				sends(retryWindow-1), wait(time.Minute), poll, sends(retryWindow-1)),
			wantOutcome: OutcomeMissed, wantFailures: retryWindow - 1, wantMissed: 1,
			wantNotices: []string{NoticeRetrying, NoticeFailed},
		},
	}
	forBackends(t, []string{backendMemory, backendPostgres}, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{RetryBackoff: time.Second, RetryBackoffMax: 2 * time.Second}, false)
				e.chain.refuse = tt.refuse
				tt.check(t, e, staleClaim(e, tt.method))
			})
		}
	})
}

// TestWatchtowerResumesAfterRestart stops the watcher while an action is
// pending and starts a new one over the same database: it resumes the
// action at once, or settles it as landed or missed if that happened
// while it was down.
func TestWatchtowerResumesAfterRestart(t *testing.T) {
	restart := func(e *env) { e.restart() }
	tests := []retryCase{
		{
			name: "refused, resumed at once", method: "refute", refuse: 1,
			steps:       []step{poll, sends(1), restart, poll, sends(2), atRisk("refute", 1), mine, poll},
			wantOutcome: OutcomeRefuted, wantLanded: true,
			wantNotices: []string{NoticeRetrying, NoticeRefuted},
		},
		{
			name: "sent, landed while down", method: "answer",
			steps:       []step{poll, restart, mine, poll, sends(1)},
			wantOutcome: OutcomeAnswered, wantLanded: true,
			wantNotices: []string{NoticeAnswered},
		},
		{
			name: "refused, window closed while down", method: "refute", refuse: 1000,
			steps:       append(append([]step{poll, restart}, repeat(retryWindow-1, mine)...), poll, sends(1)),
			wantOutcome: OutcomeMissed, wantMissed: 1,
			wantNotices: []string{NoticeRetrying, NoticeFailed},
		},
	}
	forBackends(t, persistentBackends, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnvOn(t, backend, Config{}, false)
				e.chain.refuse = tt.refuse
				tt.check(t, e, staleClaim(e, tt.method))
			})
		}
	})
}

// TestBackoff checks the wait after each failed attempt.
func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 8 * time.Second}, {1000, 8 * time.Second},
	}
	for _, tt := range tests {
		if have := backoff(time.Second, 8*time.Second, tt.n); have != tt.want {
			t.Errorf("backoff after %d failures: have %v, want %v", tt.n, have, tt.want)
		}
	}
}
