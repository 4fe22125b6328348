package bridge

import (
	"context"
	"fmt"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// BuildClaim returns the arbiter call claim(gameId, kind, base, baseSig,
// last, lastSig) built from the accepted states, for the claimant to sign
// and send. last is the newest accepted state, at ply n, and must be the
// claimant's; base is the state at ply n-1, signed by the opponent, or the
// unsigned start state with an empty signature when n is 1. So base is the
// opponent's newest signed state and last the claimant's state built on
// it.
//
// The claim is judged as the arbiter judges it (channel.JudgeClaim), from
// last's position with the opponent to move.
//
// Errors: ErrUnknownGame; ErrGameNotActive unless the arbiter reports the
// game active; ErrInvalidParams for an unknown kind or a claimant who is
// not a player; ErrFalseClaim if the newest accepted state is not the
// claimant's or the position does not bear the claim out.
func (b *Bridge) BuildClaim(ctx context.Context, req BuildClaimRequest) (ClaimTx, error) {
	if !channel.ValidClaimKind(req.Kind) {
		return ClaimTx{}, fmt.Errorf("%w: claim kind %d", ErrInvalidParams, req.Kind)
	}
	g, err := b.game(ctx, req.GameID)
	if err != nil {
		return ClaimTx{}, err
	}
	side := playerColor(g, req.Claimant)
	if side == chessrules.NoColor {
		return ClaimTx{}, fmt.Errorf("%w: %s does not play %s", ErrInvalidParams, req.Claimant, req.GameID)
	}
	info, err := b.arbiter.Game(ctx, req.GameID)
	if err != nil {
		return ClaimTx{}, err
	}
	if info.Status != channel.StatusActive {
		return ClaimTx{}, fmt.Errorf("%w: arbiter reports status %d", ErrGameNotActive, info.Status)
	}
	last, ok, err := b.store.Head(ctx, req.GameID)
	if err != nil {
		return ClaimTx{}, err
	}
	if !ok || channel.Signer(last.Ply()) != side {
		return ClaimTx{}, fmt.Errorf("%w: the newest accepted state is not %s's", ErrFalseClaim, side)
	}
	if err := judgeClaim(req.Kind, last.State.State); err != nil {
		return ClaimTx{}, err
	}
	base := channel.SignedState{State: channel.StartState(req.GameID)}
	if n := last.Ply(); n > 1 {
		recs, err := b.store.States(ctx, req.GameID, n-1, 1)
		if err != nil {
			return ClaimTx{}, err
		}
		if len(recs) != 1 || recs[0].Ply() != n-1 {
			return ClaimTx{}, fmt.Errorf("bridge: state %d of %s missing from the store", n-1, req.GameID)
		}
		base = recs[0].State
	}
	data, err := packClaim(req.GameID, req.Kind, base.State, base.Signature, last.State.State, last.State.Signature)
	if err != nil {
		return ClaimTx{}, fmt.Errorf("bridge: pack claim: %w", err)
	}
	return ClaimTx{To: b.cfg.Arbiter, Data: data}, nil
}

// judgeClaim reports whether a claim of kind holds after last, with the
// side that did not sign last to move.
func judgeClaim(kind uint8, last channel.State) error {
	pos, err := chessrules.ParseFEN(last.FEN)
	if err != nil {
		return fmt.Errorf("bridge: accepted state %d: %w", last.Ply, err)
	}
	res, err := chessrules.Status(pos)
	if err != nil {
		return fmt.Errorf("bridge: accepted state %d: %w", last.Ply, err)
	}
	if err := channel.JudgeClaim(kind, res); err != nil {
		return fmt.Errorf("%w: %w after ply %d", ErrFalseClaim, err, last.Ply)
	}
	return nil
}
