package watcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// maxFollowUps bounds the pending actions one poll works on (each costs a
// few calls to the node); the earliest deadlines go first, the rest wait
// for the next poll.
const maxFollowUps = 32

// methods are the watchtower's calls, the label values of its metrics.
var methods = []string{"refute", "answer"}

// attemptStatus is what one attempt made of a pending action.
type attemptStatus int

const (
	// attemptLanded: its transaction is in a block.
	attemptLanded attemptStatus = iota
	// attemptSent: the node holds its transaction, ready to include.
	attemptSent
	// attemptRefused: the node refused the transaction or could not be
	// reached; tried again after a backoff while the window is open.
	attemptRefused
	// attemptFinal: the chain's dry run refuses the call (the claim was
	// settled, or its window closed); not tried again.
	attemptFinal
	// attemptMissed: the window closed before the transaction was in a
	// block.
	attemptMissed
)

// attemptResult is the result of one attempt.
type attemptResult struct {
	status attemptStatus
	tx     common.Hash // the action's transaction, if one was signed
	why    string      // the refusal or failure
}

// change is what an attempt writes on the claim's Handled record.
type change struct {
	outcome string
	tx      common.Hash
	detail  string
}

// txState is where the node has a transaction.
type txState int

const (
	txMissing txState = iota // unknown, or pooled behind a nonce gap
	txQueued                 // pooled and executable
	txLanded                 // in a block
)

// txStatus asks the node where the watchtower's transaction h is. A
// pooled transaction whose nonce is not below the account's pending nonce
// waits behind a gap (an earlier nonce was dropped) and counts as
// missing, so that the action is signed again with the nonce that fills
// the gap.
func (w *Watcher) txStatus(ctx context.Context, h common.Hash) (txState, error) {
	tx, isPending, err := w.client.TransactionByHash(ctx, h)
	switch {
	case errors.Is(err, ethereum.NotFound):
		return txMissing, nil
	case err != nil:
		return txMissing, fmt.Errorf("watcher: look up %s: %w", h, err)
	case !isPending:
		return txLanded, nil
	}
	next, err := w.client.PendingNonceAt(ctx, w.from)
	if err != nil {
		return txMissing, fmt.Errorf("watcher: pending nonce: %w", err)
	}
	if tx.Nonce() < next {
		return txQueued, nil
	}
	return txMissing, nil
}

// attempt makes sure the node holds a transaction of p. If the node
// already holds the stored one (a replay, or an earlier attempt), that is
// the result; otherwise it dry-runs the call, signs it with the account's
// pending nonce and the current gas price, stores it and sends it. The
// signature is deterministic, so nothing having changed gives the stored
// transaction again, same hash; a changed nonce or price gives one that
// replaces it. An error means the node could not be reached (or the
// watcher's store failed: errStore).
func (w *Watcher) attempt(ctx context.Context, p pending) (attemptResult, error) {
	a, ok, err := w.db.action(p.Claim)
	if err != nil {
		return attemptResult{}, err
	}
	if ok {
		st, err := w.txStatus(ctx, a.TxHash)
		if err != nil {
			return attemptResult{}, err
		}
		switch st {
		case txLanded:
			return attemptResult{status: attemptLanded, tx: a.TxHash}, nil
		case txQueued:
			return attemptResult{status: attemptSent, tx: a.TxHash}, nil
		}
	}
	signed, why, err := w.sign(ctx, p.Data)
	if err != nil {
		return attemptResult{}, err
	}
	if why != "" {
		return attemptResult{status: attemptFinal, why: why}, nil
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return attemptResult{}, err
	}
	a = action{Method: p.Method, TxHash: signed.Hash(), Raw: raw}
	if err := w.db.putAction(p.Claim, a); err != nil {
		return attemptResult{}, err
	}
	err = w.client.SendTransaction(ctx, signed)
	var rerr rpc.Error
	switch {
	case err == nil:
	case !errors.As(err, &rerr):
		return attemptResult{}, fmt.Errorf("watcher: send %s: %w", p.Method, err)
	default:
		// Refused: fine if the node has it already.
		_, _, lookErr := w.client.TransactionByHash(ctx, a.TxHash)
		if errors.Is(lookErr, ethereum.NotFound) {
			return attemptResult{status: attemptRefused, tx: a.TxHash, why: err.Error()}, nil
		} else if lookErr != nil {
			return attemptResult{}, fmt.Errorf("watcher: look up %s: %w", a.TxHash, lookErr)
		}
	}
	w.metrics.txs.WithLabelValues(p.Method).Inc()
	w.log.Info("watchtower sent transaction", "method", p.Method, "tx", a.TxHash, "claim", p.Claim, "nonce", signed.Nonce(), "attempt", p.Attempts+1)
	return attemptResult{status: attemptSent, tx: a.TxHash}, nil
}

// step applies the result of an attempt to p: it schedules the next
// attempt after a refusal, counts and logs failures, and returns the
// change to the claim's record, the notification due to the player (""
// if they were told already) and whether p stays pending.
func (w *Watcher) step(p *pending, r attemptResult, now time.Time) (ch change, notice string, keep bool) {
	args := []any{"method", p.Method, "claim", p.Claim, "game", p.Game, "deadline", p.Deadline}
	switch r.status {
	case attemptLanded, attemptSent:
		delete(w.retryAt, p.Claim)
		p.Sent, p.Tx, p.LastError = r.status == attemptSent, r.tx, ""
		ch = change{outcome: p.done(), tx: r.tx, detail: p.What}
		notice, keep = NoticeRefuted, r.status == attemptSent
		if p.Method == "answer" {
			notice = NoticeAnswered
		}
		if r.status == attemptLanded {
			w.log.Info("watchtower transaction in a block", append(args, "tx", r.tx)...)
		}
	case attemptRefused:
		p.Attempts++
		p.Sent, p.Tx, p.LastError = false, common.Hash{}, r.why
		wait := backoff(w.cfg.RetryBackoff, w.cfg.RetryBackoffMax, p.Attempts)
		w.retryAt[p.Claim] = now.Add(wait)
		w.metrics.failures.WithLabelValues(p.Method).Inc()
		w.log.Warn("watchtower action failed; retrying", append(args, "attempt", p.Attempts, "retry_in", wait, "err", r.why)...)
		ch = change{outcome: OutcomeRetrying, tx: r.tx,
			detail: fmt.Sprintf("%s: attempt %d failed (%s); retrying until block %d", p.What, p.Attempts, r.why, p.Deadline)}
		notice, keep = NoticeRetrying, true
	case attemptFinal:
		delete(w.retryAt, p.Claim)
		w.metrics.failures.WithLabelValues(p.Method).Inc()
		w.log.Warn("watchtower action refused by the chain", append(args, "err", r.why)...)
		ch = change{outcome: OutcomeRefused, detail: p.What + ": " + r.why}
		notice = NoticeFailed
	case attemptMissed:
		delete(w.retryAt, p.Claim)
		w.metrics.missed.WithLabelValues(p.Method).Inc()
		w.log.Error("watchtower missed a claim window", append(args, "failed_attempts", p.Attempts, "last_error", p.LastError, "tx", r.tx)...)
		ch = change{outcome: OutcomeMissed, tx: r.tx,
			detail: fmt.Sprintf("%s: the window closed at block %d before the transaction was in a block (%d failed attempts; last: %s)", p.What, p.Deadline, p.Attempts, p.LastError)}
		notice = NoticeFailed
	}
	if notice == p.Notice {
		notice = ""
	} else {
		p.Notice = notice
	}
	return ch, notice, keep
}

// backoff is the wait after the n-th failed attempt: base, doubling with
// each further failure, at most max.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// followUp works on the stored pending actions, earliest deadline first,
// at most maxFollowUps of them: an action whose window closed (head is at
// or past its deadline) is settled as landed or missed; a refused one is
// tried again once its backoff has passed; a sent one is checked at every
// poll, and sent again at once if the node lost it. A restarted watcher
// has no backoff to wait for and tries every stored action at once. It
// returns an error only when the watcher's store fails or the node cannot
// tell its chain id. poll updates the at-risk gauge after it.
func (w *Watcher) followUp(ctx context.Context, head uint64) error {
	ps, err := w.db.pendings()
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		if _, err := w.domainOf(ctx); err != nil {
			return err
		}
	}
	now, worked := w.cfg.Now(), 0
	for _, p := range ps {
		if worked == maxFollowUps {
			break
		}
		if !p.Sent && head < p.Deadline && now.Before(w.retryAt[p.Claim]) {
			continue
		}
		worked++
		if err := w.follow(ctx, p, head, now); err != nil {
			return err
		}
	}
	return nil
}

// follow makes one attempt on p and records what came of it.
func (w *Watcher) follow(ctx context.Context, p pending, head uint64, now time.Time) error {
	var (
		r   attemptResult
		err error
	)
	if head >= p.Deadline {
		r, err = w.closing(ctx, p)
	} else {
		r, err = w.attempt(ctx, p)
		if err == nil && r.status == attemptSent && p.Sent && r.tx == p.Tx {
			return nil // still in the node's pool
		}
	}
	switch {
	case errors.Is(err, errStore), ctx.Err() != nil:
		return err
	case err != nil:
		r = attemptResult{status: attemptRefused, why: err.Error()}
	}
	ch, notice, keep := w.step(&p, r, now)
	if notice != "" {
		n := Notification{Player: p.Player, GameID: p.Game, Event: notice, Detail: ch.detail, Claim: p.Claim, Tx: ch.tx}
		if err := w.notifier.Notify(ctx, n); err != nil {
			w.log.Warn("watcher notification failed", "player", p.Player, "game", p.Game, "err", err)
		}
	}
	return w.db.settle(p, keep, func(h *Handled) { h.Outcome, h.Action, h.Detail = ch.outcome, ch.tx, ch.detail })
}

// closing settles p once its window has closed: landed if its
// transaction made it into a block, missed otherwise.
func (w *Watcher) closing(ctx context.Context, p pending) (attemptResult, error) {
	a, ok, err := w.db.action(p.Claim)
	if err != nil || !ok {
		return attemptResult{status: attemptMissed}, err
	}
	st, err := w.txStatus(ctx, a.TxHash)
	if err != nil {
		return attemptResult{}, err
	}
	if st == txLanded {
		return attemptResult{status: attemptLanded, tx: a.TxHash}, nil
	}
	return attemptResult{status: attemptMissed, tx: a.TxHash}, nil
}

// countAtRisk sets the at-risk gauge to the stored pending actions by
// method.
func (w *Watcher) countAtRisk() error {
	ps, err := w.db.pendings()
	if err != nil {
		return err
	}
	counts := make(map[string]int, len(methods))
	for _, p := range ps {
		counts[p.Method]++
	}
	for _, m := range methods {
		w.metrics.atRisk.WithLabelValues(m).Set(float64(counts[m]))
	}
	return nil
}
