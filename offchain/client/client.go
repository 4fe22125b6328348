package client

import (
	"context"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// The bridge's responses, defined once in package wire.
type (
	// Game is a game as the bridge reports it. Status and Result are the
	// arbiter's codes; Ply and FEN are those of the newest accepted state.
	Game = wire.Game
	// MoveReceipt confirms an accepted state.
	MoveReceipt = wire.MoveReceipt
	// ClaimTx is an arbiter call to sign and send: To is the arbiter,
	// Data the ABI-encoded claim.
	ClaimTx = wire.ClaimTx
)

// Client is a typed client of the bridge's chess_* methods.
type Client struct {
	c *rpc.Client
}

// Dial connects to a bridge: "http(s)://host/rpc" for calls only,
// "ws(s)://host/ws" for calls and SubscribeMoves.
func Dial(rawurl string) (*Client, error) {
	return DialContext(context.Background(), rawurl)
}

// DialContext is Dial with a context for the connection attempt.
func DialContext(ctx context.Context, rawurl string) (*Client, error) {
	c, err := rpc.DialContext(ctx, rawurl)
	if err != nil {
		return nil, err
	}
	return NewClient(c), nil
}

// NewClient wraps an existing JSON-RPC client.
func NewClient(c *rpc.Client) *Client { return &Client{c: c} }

// Close closes the connection.
func (c *Client) Close() { c.c.Close() }

// RPC returns the underlying JSON-RPC client.
func (c *Client) RPC() *rpc.Client { return c.c }

// OpenGame registers a game that is active on chain (chess_openGame).
func (c *Client) OpenGame(ctx context.Context, gameID common.Hash) (*Game, error) {
	var g Game
	if err := c.c.CallContext(ctx, &g, "chess_openGame", gameID); err != nil {
		return nil, wrap(err)
	}
	return &g, nil
}

// GetGame returns a game (chess_getGame).
func (c *Client) GetGame(ctx context.Context, gameID common.Hash) (*Game, error) {
	var g Game
	if err := c.c.CallContext(ctx, &g, "chess_getGame", gameID); err != nil {
		return nil, wrap(err)
	}
	return &g, nil
}

// SubmitMove sends a signed state (chess_submitMove). A refusal is an
// *Error that matches one of the wire.Err* sentinels with errors.Is.
func (c *Client) SubmitMove(ctx context.Context, s channel.SignedState) (*MoveReceipt, error) {
	var r MoveReceipt
	if err := c.c.CallContext(ctx, &r, "chess_submitMove", s); err != nil {
		return nil, wrap(err)
	}
	return &r, nil
}

// History returns the accepted states from fromPly on (chess_history).
// The bridge caps the answer's length; ask again from the last ply plus
// one until it comes back empty.
func (c *Client) History(ctx context.Context, gameID common.Hash, fromPly uint32) ([]channel.SignedState, error) {
	var out []channel.SignedState
	if err := c.c.CallContext(ctx, &out, "chess_history", gameID, fromPly); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// BuildClaim returns the arbiter claim call for claimant (chess_buildClaim);
// kind is one of channel.ClaimCheckmate, ClaimDraw and ClaimTimeout.
func (c *Client) BuildClaim(ctx context.Context, gameID common.Hash, kind uint8, claimant common.Address) (*ClaimTx, error) {
	var tx ClaimTx
	if err := c.c.CallContext(ctx, &tx, "chess_buildClaim", gameID, kind, claimant); err != nil {
		return nil, wrap(err)
	}
	return &tx, nil
}

// SubscribeMoves delivers each state of the game accepted from now on to
// ch, in order (chess_subscribe "moves"). It needs a WebSocket connection.
func (c *Client) SubscribeMoves(ctx context.Context, gameID common.Hash, ch chan<- channel.SignedState) (ethereum.Subscription, error) {
	sub, err := c.c.Subscribe(ctx, "chess", ch, "moves", gameID)
	if err != nil {
		return nil, wrap(err)
	}
	return sub, nil
}

// SubscribeMovesFrom is SubscribeMoves starting with the accepted state at
// fromPly, so that a reconnecting player misses nothing.
func (c *Client) SubscribeMovesFrom(ctx context.Context, gameID common.Hash, fromPly uint32, ch chan<- channel.SignedState) (ethereum.Subscription, error) {
	sub, err := c.c.Subscribe(ctx, "chess", ch, "moves", gameID, fromPly)
	if err != nil {
		return nil, wrap(err)
	}
	return sub, nil
}
