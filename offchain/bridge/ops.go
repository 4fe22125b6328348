package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// OpenGame registers a game that is active on chain: it reads the players,
// stake and move timeout from the arbiter and stores them. Opening a game
// already registered returns it unchanged. Errors: ErrGameNotActive if the
// arbiter does not report the game as active.
func (b *Bridge) OpenGame(ctx context.Context, req OpenGameRequest) (Game, error) {
	rec, err := b.store.Game(ctx, req.GameID)
	switch {
	case err == nil:
		return b.view(ctx, rec)
	case !errors.Is(err, ErrNotFound):
		return Game{}, err
	}
	info, err := b.arbiter.Game(ctx, req.GameID)
	if err != nil {
		return Game{}, err
	}
	if info.Status != channel.StatusActive {
		return Game{}, fmt.Errorf("%w: arbiter reports status %d", ErrGameNotActive, info.Status)
	}
	if info.White == (common.Address{}) || info.Black == (common.Address{}) || info.White == info.Black {
		return Game{}, fmt.Errorf("%w: arbiter reports players %s and %s", ErrGameNotActive, info.White, info.Black)
	}
	rec, err = b.store.CreateGame(ctx, GameRecord{
		ID: req.GameID, White: info.White, Black: info.Black,
		Stake: info.Stake, MoveTimeout: info.MoveTimeout,
	})
	if err != nil {
		return Game{}, err
	}
	return b.viewWith(ctx, rec, info)
}

// GetGame returns a registered game with its status and result as the
// arbiter reports them now and its newest accepted state. Errors:
// ErrUnknownGame.
func (b *Bridge) GetGame(ctx context.Context, req GetGameRequest) (Game, error) {
	rec, err := b.game(ctx, req.GameID)
	if err != nil {
		return Game{}, err
	}
	return b.view(ctx, rec)
}

// History returns the accepted states of a game with ply >= FromPly, in
// order, at most Config.MaxHistory of them; ask again from the last ply
// plus one for more. Errors: ErrUnknownGame.
func (b *Bridge) History(ctx context.Context, req HistoryRequest) ([]channel.SignedState, error) {
	if _, err := b.game(ctx, req.GameID); err != nil {
		return nil, err
	}
	recs, err := b.store.States(ctx, req.GameID, req.FromPly, b.cfg.MaxHistory)
	if err != nil {
		return nil, err
	}
	out := make([]channel.SignedState, len(recs))
	for i, r := range recs {
		out[i] = r.State
	}
	return out, nil
}

// game loads a registered game, mapping ErrNotFound to ErrUnknownGame.
func (b *Bridge) game(ctx context.Context, id common.Hash) (GameRecord, error) {
	rec, err := b.store.Game(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return GameRecord{}, fmt.Errorf("%w: %s", ErrUnknownGame, id)
	}
	return rec, err
}

// view builds the Game response, reading status and result from chain.
func (b *Bridge) view(ctx context.Context, rec GameRecord) (Game, error) {
	info, err := b.arbiter.Game(ctx, rec.ID)
	if err != nil {
		return Game{}, err
	}
	return b.viewWith(ctx, rec, info)
}

func (b *Bridge) viewWith(ctx context.Context, rec GameRecord, info GameInfo) (Game, error) {
	head, err := b.head(ctx, rec.ID)
	if err != nil {
		return Game{}, err
	}
	stake := rec.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	toMove := "white"
	if head.Ply%2 == 1 {
		toMove = "black"
	}
	return Game{
		GameID: rec.ID, White: rec.White, Black: rec.Black,
		Stake: (*hexutil.Big)(stake), MoveTimeout: rec.MoveTimeout,
		Status: info.Status, Result: info.Result,
		Ply: head.Ply, FEN: head.FEN, ToMove: toMove,
	}, nil
}

// head returns the newest accepted state of a game, or its start state.
func (b *Bridge) head(ctx context.Context, id common.Hash) (channel.State, error) {
	rec, ok, err := b.store.Head(ctx, id)
	if err != nil {
		return channel.State{}, err
	}
	if !ok {
		return channel.StartState(id), nil
	}
	return rec.State.State, nil
}
