package client

import (
	"context"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Offer is an outcome a player signed and offers the other (a draw, or
// the signer's own defeat).
type Offer = wire.Offer

// OfferOutcome calls chess_offerOutcome: it relays an outcome signed by a
// player (channel.SignOutcome) to the other.
func (c *Client) OfferOutcome(ctx context.Context, gameID common.Hash, result uint8, sig []byte) (*Offer, error) {
	var o Offer
	if err := c.c.CallContext(ctx, &o, "chess_offerOutcome", gameID, result, hexutil.Bytes(sig)); err != nil {
		return nil, wrap(err)
	}
	return &o, nil
}

// Outcomes calls chess_outcomes: each player's newest offer.
func (c *Client) Outcomes(ctx context.Context, gameID common.Hash) ([]Offer, error) {
	var out []Offer
	if err := c.c.CallContext(ctx, &out, "chess_outcomes", gameID); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
