package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/ethereum/go-ethereum/common"
)

// SubmitMove checks a signed state and, if it is the next state of its
// game, stores it; subscribers of the game then receive it. Nothing is
// stored or relayed unless every check passes. The checks run in this
// order and the first failure decides the error:
//
//  1. the game is registered (ErrUnknownGame);
//  2. the signature recovers, in the EIP-712 domain of the node's chain id
//     and the arbiter's address, to white or black (ErrBadSignature):
//     checked here, before anything asks the node, so that a state anyone
//     can forge costs the node nothing;
//  3. the arbiter reports the game active, or claimed, since play may go
//     on during a claim window (ErrGameNotActive);
//  4. if a state is already accepted at its ply: the same state (same
//     struct hash) is ErrDuplicate, any other is ErrNotNext;
//  5. the signer is the player to move after the newest accepted state
//     (ErrNotYourTurn);
//  6. channel.CheckTransition from the newest accepted state (the start
//     state before the first move): ply and prevHash continue it
//     (ErrNotNext), the move is legal (ErrIllegalMove), the FEN is the
//     position it leads to (ErrFENMismatch);
//  7. the Store's compare-and-set append. If another instance stored a
//     state at this ply first, the checks rerun from 4 and report
//     ErrDuplicate or ErrNotNext: of concurrent submits of one ply exactly
//     one is accepted.
func (b *Bridge) SubmitMove(ctx context.Context, req SubmitMoveRequest) (MoveReceipt, error) {
	start := time.Now()
	r, err := b.submit(ctx, req.State)
	if err != nil {
		b.metrics.rejected.WithLabelValues(strconv.Itoa(wire.ErrorCode(err))).Inc()
		return MoveReceipt{}, err
	}
	b.metrics.accepted.Inc()
	b.metrics.submit.Observe(time.Since(start).Seconds())
	return r, nil
}

// maxAppendAttempts bounds the check-and-append loop. A lost
// compare-and-set means the head moved to at least our ply, so the second
// pass always ends in step 4; the third is slack.
const maxAppendAttempts = 3

func (b *Bridge) submit(ctx context.Context, ss channel.SignedState) (MoveReceipt, error) {
	next := ss.State
	g, err := b.game(ctx, next.GameID)
	if err != nil {
		return MoveReceipt{}, err
	}
	d, err := b.domain(ctx)
	if err != nil {
		return MoveReceipt{}, err
	}
	signer, err := channel.RecoverState(d, next, ss.Signature)
	if err != nil {
		return MoveReceipt{}, transitionError(err)
	}
	if signer != g.White && signer != g.Black {
		return MoveReceipt{}, fmt.Errorf("%w: recovered %s, not a player of %s", ErrBadSignature, signer, next.GameID)
	}
	info, err := b.arbiter.Game(ctx, next.GameID)
	if err != nil {
		return MoveReceipt{}, err
	}
	if info.Status != channel.StatusActive && info.Status != channel.StatusClaimed {
		return MoveReceipt{}, fmt.Errorf("%w: arbiter reports status %d", ErrGameNotActive, info.Status)
	}
	for range maxAppendAttempts {
		prev, err := b.head(ctx, next.GameID)
		if err != nil {
			return MoveReceipt{}, err
		}
		if next.Ply <= prev.Ply {
			return MoveReceipt{}, b.notNew(ctx, next)
		}
		toMove := g.Black
		if channel.Signer(prev.Ply+1) == chessrules.White {
			toMove = g.White
		}
		if signer != toMove {
			return MoveReceipt{}, fmt.Errorf("%w: %s to move after ply %d", ErrNotYourTurn, channel.Signer(prev.Ply+1), prev.Ply)
		}
		if err := channel.CheckTransition(prev, next, signer, g.White, g.Black); err != nil {
			return MoveReceipt{}, transitionError(err)
		}
		err = b.store.Append(ctx, Record{State: ss, Accepted: time.Now()})
		switch {
		case err == nil:
			return MoveReceipt{Accepted: true, Ply: next.Ply, FEN: next.FEN}, nil
		case !errors.Is(err, ErrConflict):
			return MoveReceipt{}, err
		}
	}
	return MoveReceipt{}, fmt.Errorf("bridge: append to %s kept conflicting", next.GameID)
}

// notNew explains why a state at an already accepted ply is refused.
func (b *Bridge) notNew(ctx context.Context, next channel.State) error {
	if next.Ply == 0 {
		return fmt.Errorf("%w: ply 0 is the start state", ErrNotNext)
	}
	recs, err := b.store.States(ctx, next.GameID, next.Ply, 1)
	if err != nil {
		return err
	}
	if len(recs) == 1 && recs[0].Ply() == next.Ply && recs[0].State.State.StructHash() == next.StructHash() {
		return fmt.Errorf("%w: ply %d", ErrDuplicate, next.Ply)
	}
	return fmt.Errorf("%w: ply %d is already accepted with another state", ErrNotNext, next.Ply)
}

// playerColor returns the side addr plays in g, or NoColor.
func playerColor(g GameRecord, addr common.Address) chessrules.Color {
	switch addr {
	case g.White:
		return chessrules.White
	case g.Black:
		return chessrules.Black
	default:
		return chessrules.NoColor
	}
}
