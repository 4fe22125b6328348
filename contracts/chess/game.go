package chess

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// GameID returns the id of the game white opens with the transaction of
// the given nonce: keccak256(abi.encode(white, nonce)).
func GameID(white common.Address, nonce uint64) common.Hash {
	return crypto.Keccak256Hash(common.LeftPadBytes(white[:], 32), new(big.Int).SetUint64(nonce).FillBytes(make([]byte, 32)))
}

type gameArg struct{ GameId [32]byte }

// open escrows white's stake for a game against black.
func open(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		Black       common.Address
		MoveTimeout uint64
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	white := ctx.Caller()
	switch {
	case in.Black == (common.Address{}):
		return nil, errZeroBlack
	case in.Black == white:
		return nil, errSelfPlay
	case in.MoveTimeout == 0 || in.MoveTimeout > MaxMoveTimeout:
		return nil, errBadTimeout
	}
	if err := ctx.UseGas(native.KeccakGas(64)); err != nil {
		return nil, err
	}
	id := GameID(white, ctx.TxNonce())
	if load(ctx, id).exists() {
		return nil, fmt.Errorf("%w: %s", errGameExists, id)
	}
	g := &game{id: id, white: white, black: in.Black, stake: ctx.Value(), moveTimeout: in.MoveTimeout, status: channel.StatusOpen}
	g.create(ctx)
	ctx.Emit(channel.EventGameOpened, id, white, in.Black, g.stake.ToBig(), in.MoveTimeout)
	return []any{[32]byte(id)}, nil
}

// join escrows black's stake, equal to white's.
func join(ctx *native.Context, args native.Args) ([]any, error) {
	var in gameArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusOpen)
	if err != nil {
		return nil, err
	}
	if ctx.Caller() != g.black {
		return nil, errNotBlack
	}
	if v := ctx.Value(); !v.Eq(g.stake) {
		return nil, fmt.Errorf("%w: have %v, want %v", errWrongStake, v, g.stake)
	}
	g.status = channel.StatusActive
	g.saveMeta(ctx)
	ctx.Emit(channel.EventGameJoined, g.id)
	return nil, nil
}

// cancel refunds white before black has joined.
func cancel(ctx *native.Context, args native.Args) ([]any, error) {
	var in gameArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusOpen)
	if err != nil {
		return nil, err
	}
	if ctx.Caller() != g.white {
		return nil, errNotWhite
	}
	g.status = channel.StatusCancelled
	g.saveMeta(ctx)
	if err := ctx.Transfer(g.white, g.stake); err != nil {
		return nil, fmt.Errorf("%w: %w", errInternalTransfer, err)
	}
	ctx.Emit(channel.EventGameEnded, g.id, uint8(0), "cancelled")
	return nil, nil
}

// resign ends the game at once: the caller loses.
func resign(ctx *native.Context, args native.Args) ([]any, error) {
	var in gameArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusActive, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	side := g.side(ctx.Caller())
	if side == 0 {
		return nil, errNotPlayer
	}
	return nil, end(ctx, g, winResult(other(side)), "resigned")
}

// conclude pays out a result both players signed.
func conclude(ctx *native.Context, args native.Args) ([]any, error) {
	var in struct {
		GameId   [32]byte
		Result   uint8
		WhiteSig []byte
		BlackSig []byte
	}
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusActive, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	if in.Result < channel.ResultWhiteWins || in.Result > channel.ResultDraw {
		return nil, errBadResult
	}
	o := channel.Outcome{GameID: g.id, Result: in.Result}
	for _, s := range []struct {
		sig  []byte
		want common.Address
		name string
	}{{in.WhiteSig, g.white, "white"}, {in.BlackSig, g.black, "black"}} {
		signer, err := recoverOutcome(ctx, o, s.sig)
		if err != nil {
			return nil, err
		}
		if signer != s.want {
			return nil, fmt.Errorf("%w: %s's outcome signed by %s", errWrongSigner, s.name, signer)
		}
	}
	return nil, end(ctx, g, in.Result, "agreed")
}

// finalize rules on a claim whose window has passed: checkmate and timeout
// claims win for the claimant, draw claims draw.
func finalize(ctx *native.Context, args native.Args) ([]any, error) {
	var in gameArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g, err := require(ctx, in.GameId, channel.StatusClaimed)
	if err != nil {
		return nil, err
	}
	if ctx.Number() <= g.deadline {
		return nil, fmt.Errorf("%w: until block %d", errWindowOpen, g.deadline)
	}
	switch g.kind {
	case channel.ClaimCheckmate:
		return nil, end(ctx, g, winResult(g.claimant), "checkmate")
	case channel.ClaimDraw:
		return nil, end(ctx, g, channel.ResultDraw, "draw by rule")
	default:
		return nil, end(ctx, g, winResult(g.claimant), "timeout")
	}
}

// gameView returns a game's record; zeros for an unknown game.
func gameView(ctx *native.Context, args native.Args) ([]any, error) {
	var in gameArg
	if err := args.Decode(&in); err != nil {
		return nil, err
	}
	g := load(ctx, in.GameId)
	stake := new(big.Int)
	if g.exists() {
		stake = g.stake.ToBig()
	}
	return []any{g.white, g.black, stake, g.moveTimeout, g.status, g.result, g.claimPly, g.deadline}, nil
}

// end records result, pays out and emits GameEnded. The status moves to
// StatusEnded before any transfer and every caller requires an active or
// claimed game, so no game pays twice.
func end(ctx *native.Context, g *game, result uint8, reason string) error {
	g.status, g.result = channel.StatusEnded, result
	g.saveMeta(ctx)
	var err error
	switch result {
	case channel.ResultWhiteWins:
		err = ctx.Transfer(g.white, new(uint256.Int).Add(g.stake, g.stake))
	case channel.ResultBlackWins:
		err = ctx.Transfer(g.black, new(uint256.Int).Add(g.stake, g.stake))
	default:
		if err = ctx.Transfer(g.white, g.stake); err == nil {
			err = ctx.Transfer(g.black, g.stake)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errInternalTransfer, err)
	}
	ctx.Emit(channel.EventGameEnded, g.id, result, reason)
	return nil
}
