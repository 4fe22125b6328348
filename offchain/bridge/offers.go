package bridge

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// maxOfferGames bounds the games whose outcome offers a bridge holds; the
// oldest game's offers are dropped first. Only a player of a game the
// arbiter reports active (both stakes escrowed) can make an offer, so
// filling the book costs real games.
const maxOfferGames = 4096

// Offer is an outcome one player signed and offers the other (wire.Offer).
type Offer = wire.Offer

// offerBook holds the newest offer of each player of recent games. Offers
// are relayed, not stored: they live in this bridge instance's memory
// (docs/decisions/0020), which loses nothing a player cannot sign again.
type offerBook struct {
	mu    sync.Mutex
	games map[common.Hash]*[2]*Offer // white's, black's
	order []common.Hash              // insertion order, for eviction
}

func newOfferBook() *offerBook { return &offerBook{games: make(map[common.Hash]*[2]*Offer)} }

func (ob *offerBook) put(o Offer, side int) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	g, ok := ob.games[o.GameID]
	if !ok {
		if len(ob.order) >= maxOfferGames {
			delete(ob.games, ob.order[0])
			ob.order = ob.order[1:]
		}
		g = new([2]*Offer)
		ob.games[o.GameID] = g
		ob.order = append(ob.order, o.GameID)
	}
	g[side] = &o
}

func (ob *offerBook) get(id common.Hash) []Offer {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	out := []Offer{}
	if g, ok := ob.games[id]; ok {
		for _, o := range g {
			if o != nil {
				out = append(out, *o)
			}
		}
	}
	return out
}

// OfferOutcome checks and records an outcome offer: the game is
// registered, the arbiter reports it active or claimed, the result is a
// valid code and the signature recovers, in the bridge's domain, to one of
// the players. Errors: ErrInvalidParams, ErrUnknownGame, ErrBadSignature,
// ErrGameNotActive.
func (b *Bridge) OfferOutcome(ctx context.Context, gameID common.Hash, result uint8, sig []byte) (Offer, error) {
	if result < channel.ResultWhiteWins || result > channel.ResultDraw {
		return Offer{}, fmt.Errorf("%w: result %d", ErrInvalidParams, result)
	}
	if len(sig) != channel.SignatureLength {
		return Offer{}, fmt.Errorf("%w: signature is %d bytes", ErrBadSignature, len(sig))
	}
	g, err := b.game(ctx, gameID)
	if err != nil {
		return Offer{}, err
	}
	d, err := b.domain(ctx)
	if err != nil {
		return Offer{}, err
	}
	signer, err := channel.RecoverOutcome(d, channel.Outcome{GameID: gameID, Result: result}, sig)
	if err != nil {
		return Offer{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	side := playerColor(g, signer)
	if side == chessrules.NoColor {
		return Offer{}, fmt.Errorf("%w: outcome signed by %s, not a player", ErrBadSignature, signer)
	}
	info, err := b.arbiter.Game(ctx, gameID)
	if err != nil {
		return Offer{}, err
	}
	if info.Status != channel.StatusActive && info.Status != channel.StatusClaimed {
		return Offer{}, fmt.Errorf("%w: arbiter reports status %d", ErrGameNotActive, info.Status)
	}
	o := Offer{GameID: gameID, Result: result, Signer: signer, Side: side.String(), Signature: append(hexutil.Bytes(nil), sig...)}
	idx := 0
	if side == chessrules.Black {
		idx = 1
	}
	b.offers.put(o, idx)
	return o, nil
}

// Outcomes returns the players' newest outcome offers for a registered
// game (white's first). Errors: ErrUnknownGame.
func (b *Bridge) Outcomes(ctx context.Context, gameID common.Hash) ([]Offer, error) {
	if _, err := b.game(ctx, gameID); err != nil {
		return nil, err
	}
	return b.offers.get(gameID), nil
}

// OfferOutcome is chess_offerOutcome(gameId, result, signature).
func (a *chessAPI) OfferOutcome(ctx context.Context, gameID common.Hash, result uint8, sig hexutil.Bytes) (*Offer, error) {
	o, err := a.b.OfferOutcome(ctx, gameID, result, sig)
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return &o, nil
}

// Outcomes is chess_outcomes(gameId).
func (a *chessAPI) Outcomes(ctx context.Context, gameID common.Hash) ([]Offer, error) {
	offers, err := a.b.Outcomes(ctx, gameID)
	if err != nil {
		return nil, a.b.rpcError(err)
	}
	return offers, nil
}
