package bridge

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum/common"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// chessAPI publishes the operations as the chess_* JSON-RPC methods
// (go-ethereum's server turns OpenGame into chess_openGame and Moves into
// chess_subscribe("moves", ...)). It only converts parameters and errors.
type chessAPI struct {
	b    *Bridge
	subs *budget // nil over HTTP, which has no subscriptions
}

// OpenGame is chess_openGame(gameId).
func (a *chessAPI) OpenGame(ctx context.Context, gameID common.Hash) (*Game, error) {
	g, err := a.b.OpenGame(ctx, OpenGameRequest{GameID: gameID})
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return &g, nil
}

// GetGame is chess_getGame(gameId).
func (a *chessAPI) GetGame(ctx context.Context, gameID common.Hash) (*Game, error) {
	g, err := a.b.GetGame(ctx, GetGameRequest{GameID: gameID})
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return &g, nil
}

// SubmitMove is chess_submitMove(signedState).
func (a *chessAPI) SubmitMove(ctx context.Context, s channel.SignedState) (*MoveReceipt, error) {
	r, err := a.b.SubmitMove(ctx, SubmitMoveRequest{State: s})
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return &r, nil
}

// History is chess_history(gameId, fromPly).
func (a *chessAPI) History(ctx context.Context, gameID common.Hash, fromPly uint32) ([]channel.SignedState, error) {
	states, err := a.b.History(ctx, HistoryRequest{GameID: gameID, FromPly: fromPly})
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return states, nil
}

// BuildClaim is chess_buildClaim(gameId, kind, claimant).
func (a *chessAPI) BuildClaim(ctx context.Context, gameID common.Hash, kind uint8, claimant common.Address) (*ClaimTx, error) {
	tx, err := a.b.BuildClaim(ctx, BuildClaimRequest{GameID: gameID, Kind: kind, Claimant: claimant})
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return &tx, nil
}

// Moves is chess_subscribe("moves", gameId[, fromPly]): a notification
// with each state accepted after the call (or from fromPly on), in order.
func (a *chessAPI) Moves(ctx context.Context, gameID common.Hash, fromPly *uint32) (*gethrpc.Subscription, error) {
	n, ok := gethrpc.NotifierFromContext(ctx)
	if !ok || a.subs == nil {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	if !a.subs.acquire() {
		return nil, &rpcError{code: wire.CodeLimitExceeded, msg: fmt.Sprintf("bridge: at most %d subscriptions per connection", a.subs.max)}
	}
	// The call's context ends with the call; the watch lives as long as
	// the subscription.
	wctx, cancel := context.WithCancel(context.Background())
	w, err := a.b.WatchMoves(wctx, WatchRequest{GameID: gameID, FromPly: fromPly})
	if err != nil {
		cancel()
		a.subs.release()
		return nil, a.b.rpcError(err)
	}
	sub := n.CreateSubscription()
	a.b.metrics.Subscriptions.Inc()
	go func() {
		select {
		case <-sub.Err(): // unsubscribed or connection gone
		case <-wctx.Done():
		}
		cancel()
	}()
	go func() {
		defer func() {
			cancel()
			a.subs.release()
			a.b.metrics.Subscriptions.Dec()
		}()
		_ = w.Run(func(s channel.SignedState) error { return n.Notify(sub.ID, s) })
	}()
	return sub, nil
}

// rpcError gives err its JSON-RPC code. Internal errors are logged and
// sent without detail.
func (b *Bridge) rpcError(err error) error {
	code := wire.ErrorCode(err)
	if code == wire.CodeInternal {
		b.cfg.Logger.Error("bridge: internal error", "err", err)
		return &rpcError{code: code, msg: "bridge: internal error"}
	}
	return &rpcError{code: code, msg: err.Error()}
}

// budget counts the subscriptions of one connection.
type budget struct {
	n   atomic.Int32
	max int32
}

func newBudget(n int) *budget { return &budget{max: int32(n)} }

func (b *budget) acquire() bool {
	if b.n.Add(1) > b.max {
		b.n.Add(-1)
		return false
	}
	return true
}

func (b *budget) release() { b.n.Add(-1) }
