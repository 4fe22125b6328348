package chess

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// signedPair checks a base state and the state built on it: last carries
// gameId id and is signed by the player whose ply it is, base is the start
// state (its signature ignored) or signed by the other player. It returns
// last's signer. It does not check the move; see checkTransition.
func signedPair(ctx *native.Context, g *game, base channel.State, baseSig []byte, last channel.State, lastSig []byte) (common.Address, error) {
	if last.GameID != g.id {
		return common.Address{}, fmt.Errorf("%w: %s", errWrongGame, common.Hash(last.GameID))
	}
	signer, err := recoverState(ctx, last, lastSig)
	if err != nil {
		return common.Address{}, err
	}
	if base.Ply == 0 {
		return signer, nil // CheckTransition insists on the exact start state
	}
	baseSigner, err := recoverState(ctx, base, baseSig)
	if err != nil {
		return common.Address{}, err
	}
	if want := g.player(sideOf(base.Ply)); baseSigner != want {
		return common.Address{}, fmt.Errorf("%w: base ply %d signed by %s, want %s", errWrongSigner, base.Ply, baseSigner, want)
	}
	return signer, nil
}

// restPly is the ply a claim rests on: its last state's, or its base's
// when the claimant's latest signed state is the base.
func restPly(lastPly uint32, restOnBase bool) uint32 {
	if restOnBase && lastPly > 0 { // ply 0 is refused later: it follows no state
		return lastPly - 1
	}
	return lastPly
}

// claim starts a checkmate, draw or timeout claim on last, the state at
// ply n built on base at ply n-1. The claim rests on the claimant's own
// latest signed state: last for every kind, or, for a draw only, base when
// the opponent's move in last stalemated the claimant or otherwise drew.
// Once a timeout claim has been answered, a claim must rest on a later ply
// than it did: the game has moved on, and the same claim made again would
// make the opponent answer it again and again until one window is missed.
func claim(ctx *native.Context, args native.Args) ([]any, error) {
	var in channel.ClaimArgs
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusActive)
	if err != nil {
		return nil, err
	}
	claimant := g.side(ctx.Caller())
	if claimant == 0 {
		return nil, errNotPlayer
	}
	if !channel.ValidClaimKind(in.Kind) {
		return nil, errBadKind
	}
	base, last := in.Base.State(), in.Last.State()
	restOnBase := sideOf(last.Ply) != claimant
	if rest := restPly(last.Ply, restOnBase); g.answeredPly != 0 && rest <= g.answeredPly {
		return nil, fmt.Errorf("%w: rests on ply %d, answered claim on ply %d", errClaimNotLater, rest, g.answeredPly)
	}
	signer, err := signedPair(ctx, g, base, in.BaseSig, last, in.LastSig)
	if err != nil {
		return nil, err
	}
	if err := checkTransition(ctx, g, base, last, signer); err != nil {
		return nil, fmt.Errorf("%w: %w", errTransition, err)
	}
	if restOnBase && in.Kind != channel.ClaimDraw {
		return nil, errNotOwnState
	}
	res, err := status(ctx, last)
	if err != nil {
		return nil, err
	}
	switch err := channel.JudgeClaim(in.Kind, res); {
	case errors.Is(err, channel.ErrNoLegalMove):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w after ply %d", err, last.Ply)
	}
	g.status, g.kind, g.claimant, g.restOnBase = channel.StatusClaimed, in.Kind, claimant, restOnBase
	g.claimPly, g.deadline = last.Ply, ctx.Number()+g.moveTimeout
	g.saveMeta(ctx)
	g.saveClaimed(ctx, last)
	ctx.Emit(channel.EventGameClaimed, g.id, ctx.Caller(), in.Kind, last.Ply, g.deadline)
	return nil, nil
}

// answer meets a timeout claim with the opponent's signed legal move on the
// claimed state; play resumes off-chain.
func answer(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		GameId  [32]byte
		Next    channel.ABIState
		NextSig []byte
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	if g.kind != channel.ClaimTimeout {
		return nil, errNotTimeout
	}
	if ctx.Number() > g.deadline {
		return nil, fmt.Errorf("%w at block %d", errWindowClosed, g.deadline)
	}
	next := in.Next.State()
	if next.GameID != g.id {
		return nil, fmt.Errorf("%w: %s", errWrongGame, common.Hash(next.GameID))
	}
	signer, err := recoverState(ctx, next, in.NextSig)
	if err != nil {
		return nil, err
	}
	if err := checkTransition(ctx, g, g.loadClaimed(ctx), next, signer); err != nil {
		return nil, fmt.Errorf("%w: %w", errTransition, err)
	}
	g.answeredPly = g.claimPly // a timeout claim rests on its last state
	g.status, g.kind, g.claimant, g.restOnBase, g.claimPly, g.deadline = channel.StatusActive, 0, 0, false, 0, 0
	g.saveMeta(ctx)
	ctx.Emit(channel.EventClaimAnswered, g.id, next.Ply)
	return nil, nil
}

// refute dismisses a pending claim with a state the claimant signed after
// the one the claim rests on, or a different one at the same ply: the
// claimant forfeits.
func refute(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		GameId   [32]byte
		Newer    channel.ABIState
		NewerSig []byte
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	if ctx.Number() > g.deadline {
		return nil, fmt.Errorf("%w at block %d", errWindowClosed, g.deadline)
	}
	newer := in.Newer.State()
	if newer.GameID != g.id {
		return nil, fmt.Errorf("%w: %s", errWrongGame, common.Hash(newer.GameID))
	}
	signer, err := recoverState(ctx, newer, in.NewerSig)
	if err != nil {
		return nil, err
	}
	if want := g.player(g.claimant); signer != want || sideOf(newer.Ply) != g.claimant {
		return nil, fmt.Errorf("%w: ply %d signed by %s, want the claimant %s on its own ply", errWrongSigner, newer.Ply, signer, want)
	}
	claimed := g.loadClaimed(ctx)
	restPly, restHash := claimed.Ply, claimed.PrevHash
	if err := ctx.UseGas(native.GasTypedHash); err != nil {
		return nil, err
	}
	if g.restOnBase {
		restPly--
	} else {
		restHash = claimed.StructHash()
	}
	switch {
	case newer.Ply > restPly:
	case newer.Ply == restPly && newer.StructHash() != restHash:
	default:
		return nil, fmt.Errorf("%w: claim rests on ply %d", errNotNewer, restPly)
	}
	return nil, end(ctx, g, winResult(other(g.claimant)), "stale claim refuted")
}

// proveCheat ends the game against the signer of bad, a state whose move is
// illegal from base or whose FEN does not follow from it.
func proveCheat(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		GameId  [32]byte
		Base    channel.ABIState
		BaseSig []byte
		Bad     channel.ABIState
		BadSig  []byte
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusActive, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	base, bad := in.Base.State(), in.Bad.State()
	signer, err := signedPair(ctx, g, base, in.BaseSig, bad, in.BadSig)
	if err != nil {
		return nil, err
	}
	cheat := sideOf(bad.Ply)
	if cheat == 0 || signer != g.player(cheat) {
		return nil, fmt.Errorf("%w: ply %d signed by %s", errWrongSigner, bad.Ply, signer)
	}
	if _, err := chessrules.ParseFEN(base.FEN); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBase, err)
	}
	err = checkTransition(ctx, g, base, bad, signer)
	switch {
	case err == nil:
		return nil, errNoCheat
	case errors.Is(err, channel.ErrIllegalMove), errors.Is(err, channel.ErrGameOver),
		errors.Is(err, channel.ErrFENMismatch), errors.Is(err, channel.ErrBadFEN):
		return nil, end(ctx, g, winResult(other(cheat)), "cheating proven")
	case errors.Is(err, native.ErrOutOfGas):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: %w", errNotProof, err)
	}
}
