package watcher

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// claimResult is what the watchtower made of a claim.
type claimResult struct {
	outcome  string
	tx       common.Hash
	detail   string
	evidence []channel.SignedState // signed states seen in the claim, to keep
	pending  *pending              // the action to follow up, if any
}

// onClaim acts on GameClaimed for a game the bridge's store holds. The
// claim rests on the claimant's state at ply restPly: the claimed ply, or
// the ply before it for a draw claim whose last state is the opponent's.
// In order of preference the watchtower
//
//   - refutes it with a state the claimant signed at a later ply, or at
//     restPly but different from the claimed one (double signing), taken
//     from the bridge's store or from states seen in earlier claims;
//   - answers a timeout claim with the opponent's signed move on the
//     claimed state;
//   - or, holding neither, leaves the claim to its window.
//
// The opponent is notified either way. A refute or answer the node
// refuses is recorded as OutcomeRetrying and followed up (see
// followUp) until the claim's window closes. An error means the claim
// could not be judged now (a chain or store read failed) and is retried.
func (w *Watcher) onClaim(ctx context.Context, l types.Log, ev event) (claimResult, error) {
	c := ev.Claim
	g, err := w.states.Game(ctx, ev.GameID)
	if errors.Is(err, bridge.ErrNotFound) {
		return claimResult{outcome: OutcomeUnwatched}, nil
	} else if err != nil {
		return claimResult{}, fmt.Errorf("watcher: bridge store: %w", err)
	}
	side, opponent := chessrules.White, g.Black
	switch c.Claimant {
	case g.White:
	case g.Black:
		side, opponent = chessrules.Black, g.White
	default:
		return claimResult{outcome: OutcomeUnwatched, detail: "claimant does not play the stored game"}, nil
	}
	d, err := w.domainOf(ctx)
	if err != nil {
		return claimResult{}, err
	}
	var res claimResult
	call, err := w.claimCall(ctx, l.TxHash, ev)
	if err != nil {
		return claimResult{}, err
	}
	var claimed *channel.State
	if call != nil {
		last := call.Last.State()
		claimed = &last
		res.evidence = signedBy(d, g, channel.SignedState{State: call.Base.State(), Signature: call.BaseSig},
			channel.SignedState{State: last, Signature: call.LastSig})
	}
	restPly, restOnBase := c.Ply, channel.Signer(c.Ply) != side
	if restOnBase {
		restPly--
	}
	cands, err := w.candidates(ctx, g, restPly, c.Ply+1)
	if err != nil {
		return claimResult{}, err
	}
	cands = append(cands, res.evidence...)

	var (
		method string
		state  channel.SignedState
		found  bool
	)
	if s, ok := refutation(d, g, cands, side, restPly, restOnBase, claimed); ok {
		method, state, found = "refute", s, true
		res.detail = fmt.Sprintf("claim at ply %d refuted with the claimant's state at ply %d", c.Ply, s.State.Ply)
	} else if s, ok := answer(d, g, cands, c, claimed); ok {
		method, state, found = "answer", s, true
		res.detail = fmt.Sprintf("timeout claim at ply %d answered with ply %d", c.Ply, s.State.Ply)
	}
	notice := Notification{Player: opponent, GameID: ev.GameID, Claim: l.TxHash}
	switch {
	case !found:
		res.outcome = OutcomePending
		res.detail = fmt.Sprintf("claim of kind %d at ply %d: no later or conflicting state held; the window closes at block %d", c.Kind, c.Ply, c.Deadline)
		notice.Event = NoticePending
	case w.cfg.Key == nil:
		res.outcome = OutcomeNoKey
		res.detail += " (not sent: the watchtower has no key)"
		notice.Event = NoticePending
	default:
		p := pending{
			Claim: l.TxHash, Method: method, Game: ev.GameID, Player: opponent, Deadline: c.Deadline,
			What: res.detail, LogBlock: l.BlockHash, LogIndex: l.Index,
		}
		if p.Data, err = w.abi.Pack(method, [32]byte(ev.GameID), channel.NewABIState(state.State), state.Signature); err != nil {
			return claimResult{}, fmt.Errorf("watcher: pack %s: %w", method, err)
		}
		r, err := w.attempt(ctx, p)
		switch {
		case errors.Is(err, errStore), ctx.Err() != nil:
			return claimResult{}, err
		case err != nil:
			r = attemptResult{status: attemptRefused, why: err.Error()}
		}
		ch, event, keep := w.step(&p, r, w.cfg.Now())
		res.outcome, res.tx, res.detail = ch.outcome, ch.tx, ch.detail
		notice.Event, notice.Tx = event, ch.tx
		if keep {
			res.pending = &p
		}
	}
	notice.Detail = res.detail
	if err := w.notifier.Notify(ctx, notice); err != nil {
		w.log.Warn("watcher notification failed", "player", notice.Player, "game", ev.GameID, "err", err)
	}
	return res, nil
}

// domainOf returns the EIP-712 domain states are signed in, asking the
// chain for its id once.
func (w *Watcher) domainOf(ctx context.Context) (channel.Domain, error) {
	if w.domain == nil {
		id, err := w.client.ChainID(ctx)
		if err != nil {
			return channel.Domain{}, fmt.Errorf("watcher: eth_chainId: %w", err)
		}
		w.domain = &channel.Domain{ChainID: id, Contract: w.cfg.Arbiter}
		w.signer = types.LatestSignerForChainID(id)
	}
	return *w.domain, nil
}

// claimCall returns the arguments of the claim behind a GameClaimed log,
// or nil if its transaction is gone or is not a direct claim() call (then
// the watchtower judges from the event alone).
func (w *Watcher) claimCall(ctx context.Context, txHash common.Hash, ev event) (*channel.ClaimArgs, error) {
	tx, _, err := w.client.TransactionByHash(ctx, txHash)
	if errors.Is(err, ethereum.NotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("watcher: claim transaction %s: %w", txHash, err)
	}
	call, err := decodeClaimCall(w.abi, tx.Data(), ev.GameID, ev.Claim)
	if err != nil {
		w.log.Warn("watcher cannot read the claim's arguments", "tx", txHash, "err", err)
		return nil, nil
	}
	return &call, nil
}

// candidates returns the signed states that may refute or answer a claim:
// from the bridge's store, the state at restPly, the state at answerPly
// and the newest one; from the watcher's evidence, every state from
// restPly on.
func (w *Watcher) candidates(ctx context.Context, g bridge.GameRecord, restPly, answerPly uint32) ([]channel.SignedState, error) {
	var out []channel.SignedState
	head, ok, err := w.states.Head(ctx, g.ID)
	if err != nil {
		return nil, fmt.Errorf("watcher: bridge store: %w", err)
	}
	if ok {
		out = append(out, head.State)
		// The claimant's newest state is the head or the one before.
		for _, ply := range []uint32{head.Ply() - 1, restPly, answerPly} {
			if ply == 0 || ply >= head.Ply() {
				continue
			}
			recs, err := w.states.States(ctx, g.ID, ply, 1)
			if err != nil {
				return nil, fmt.Errorf("watcher: bridge store: %w", err)
			}
			if len(recs) == 1 && recs[0].Ply() == ply {
				out = append(out, recs[0].State)
			}
		}
	}
	ev, err := w.db.evidence(g.ID, restPly)
	if err != nil {
		return nil, err
	}
	return append(out, ev...), nil
}

// signedBy keeps the states that carry g's id and a valid signature of
// the player whose ply it is.
func signedBy(d channel.Domain, g bridge.GameRecord, states ...channel.SignedState) []channel.SignedState {
	var out []channel.SignedState
	for _, s := range states {
		if s.State.Ply == 0 || s.State.GameID != g.ID {
			continue
		}
		if signer, err := channel.RecoverState(d, s.State, s.Signature); err == nil && signer == player(g, channel.Signer(s.State.Ply)) {
			out = append(out, s)
		}
	}
	return out
}

func player(g bridge.GameRecord, c chessrules.Color) common.Address {
	if c == chessrules.White {
		return g.White
	}
	return g.Black
}

// refutation picks a state, signed by the claimant (side), that refutes a
// claim resting on restPly: the newest at a later ply, else one at
// restPly that differs from the claimed state (known only if claimed is
// not nil).
func refutation(d channel.Domain, g bridge.GameRecord, cands []channel.SignedState, side chessrules.Color, restPly uint32, restOnBase bool, claimed *channel.State) (channel.SignedState, bool) {
	var restHash *common.Hash
	if claimed != nil {
		h := claimed.StructHash()
		if restOnBase {
			h = claimed.PrevHash
		}
		restHash = &h
	}
	var (
		best, double channel.SignedState
		haveBest     bool
		haveDouble   bool
	)
	for _, s := range signedBy(d, g, cands...) {
		ply := s.State.Ply
		switch {
		case channel.Signer(ply) != side:
		case ply > restPly && (!haveBest || ply > best.State.Ply):
			best, haveBest = s, true
		case ply == restPly && restHash != nil && s.State.StructHash() != *restHash:
			double, haveDouble = s, true
		}
	}
	if haveBest {
		return best, true
	}
	return double, haveDouble
}

// answer picks the opponent's signed legal move on the claimed state of a
// timeout claim. Without the claimed state it offers the opponent's state
// at the next ply and leaves the check to the chain's dry run.
func answer(d channel.Domain, g bridge.GameRecord, cands []channel.SignedState, c claimEvent, claimed *channel.State) (channel.SignedState, bool) {
	if c.Kind != channel.ClaimTimeout {
		return channel.SignedState{}, false
	}
	for _, s := range signedBy(d, g, cands...) {
		if s.State.Ply != c.Ply+1 {
			continue
		}
		if claimed == nil {
			return s, true
		}
		if channel.CheckTransition(*claimed, s.State, player(g, channel.Signer(s.State.Ply)), g.White, g.Black) == nil {
			return s, true
		}
	}
	return channel.SignedState{}, false
}

// sign builds and signs a transaction to the arbiter with data, after a
// dry run (eth_estimateGas) that must succeed. why is the chain's reason
// when the dry run fails.
func (w *Watcher) sign(ctx context.Context, data []byte) (tx *types.Transaction, why string, err error) {
	to := w.cfg.Arbiter
	gas, err := w.client.EstimateGas(ctx, ethereum.CallMsg{From: w.from, To: &to, Data: data})
	var rerr rpc.Error
	if errors.As(err, &rerr) {
		return nil, err.Error(), nil
	} else if err != nil {
		return nil, "", fmt.Errorf("watcher: eth_estimateGas: %w", err)
	}
	nonce, err := w.client.PendingNonceAt(ctx, w.from)
	if err != nil {
		return nil, "", fmt.Errorf("watcher: pending nonce: %w", err)
	}
	price, err := w.client.SuggestGasPrice(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("watcher: eth_gasPrice: %w", err)
	}
	tx, err = types.SignNewTx(w.cfg.Key, w.signer, &types.LegacyTx{
		Nonce: nonce, To: &to, Gas: gas + gas/4, GasPrice: price, Value: new(big.Int), Data: data,
	})
	if err != nil {
		return nil, "", fmt.Errorf("watcher: sign: %w", err)
	}
	return tx, "", nil
}

func cryptoAddress(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
