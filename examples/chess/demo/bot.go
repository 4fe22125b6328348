package demo

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	arbiter "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
)

// botPoll is how often the bot looks for new games and at its games.
const botPoll = 300 * time.Millisecond

// botKey is the bot's key, funded and allowed in the demo's genesis.
func botKey() *ecdsa.PrivateKey { return playerKey("bot") }

// bot joins every game opened against it and plays black through the
// bridge: a legal move (a mate when it has one), the end signed or claimed
// as the protocol allows, draws accepted and timeout claims answered.
type bot struct {
	p   *player
	log *slog.Logger
	wg  sync.WaitGroup

	mu      sync.Mutex
	playing map[common.Hash]bool
}

func startBot(ctx context.Context, n *network, log *slog.Logger) (*bot, error) {
	p, err := connectPlayer(ctx, "bot", botKey(), n.rpcURL(3), n.bridgeURL, n.chainID, new(atomic.Uint64))
	if err != nil {
		return nil, err
	}
	b := &bot{p: p, log: log, playing: map[common.Hash]bool{}}
	b.wg.Add(1)
	go b.run(ctx)
	return b, nil
}

func (b *bot) wait() { b.wg.Wait() }

// run finds the games opened against the bot.
func (b *bot) run(ctx context.Context) {
	defer b.wg.Done()
	q := ethereum.FilterQuery{
		Addresses: []common.Address{arbiter.Address},
		Topics:    [][]common.Hash{{arbiterABI.Events[channel.EventGameOpened].ID}, nil, nil, {common.BytesToHash(b.p.addr[:])}},
	}
	var from uint64
	for {
		head, err := b.p.eth.BlockNumber(ctx)
		if err == nil && head >= from {
			q.FromBlock, q.ToBlock = new(big.Int).SetUint64(from), new(big.Int).SetUint64(head)
			logs, err := b.p.eth.FilterLogs(ctx, q)
			if err == nil {
				from = head + 1
				for _, l := range logs {
					b.start(ctx, l.Topics[1])
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(botPoll):
		}
	}
}

func (b *bot) start(ctx context.Context, id common.Hash) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.playing[id] {
		return
	}
	b.playing[id] = true
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.play(ctx, id); err != nil && ctx.Err() == nil {
			b.log.Warn("bot game stopped", "game", id, "err", err)
		}
	}()
}

// botGame is the bot's view of one game.
type botGame struct {
	id       common.Hash
	states   []channel.SignedState // index = ply; 0 is the start state
	claimed  bool                  // a claim or an offer of the end was made
	answered uint32                // the claim ply last answered (0: none)
}

func (g *botGame) last() channel.State { return g.states[len(g.states)-1].State }

// play joins game id and plays it to its end.
func (b *bot) play(ctx context.Context, id common.Hash) error {
	info, err := b.game(ctx, id)
	if err != nil {
		return err
	}
	if info.Status != channel.StatusOpen {
		return nil
	}
	r, err := b.p.call(ctx, "join", info.Stake, callGas, id)
	if err != nil {
		return err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return errors.New("join reverted: " + b.p.revertReason(ctx, "join", id))
	}
	b.log.Info("bot joined", "game", id)
	for {
		_, err := b.p.bridge.OpenGame(ctx, id)
		if err == nil {
			break
		}
		if !errors.Is(err, wire.ErrGameNotActive) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(botPoll):
		}
	}
	moves := make(chan channel.SignedState, 64)
	sub, err := b.p.bridge.SubscribeMovesFrom(ctx, id, 1, moves)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	g := &botGame{id: id, states: []channel.SignedState{{State: channel.StartState(id)}}}
	for {
		done, err := b.act(ctx, g)
		if err != nil {
			b.log.Warn("bot move failed", "game", id, "err", err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-sub.Err():
			return err
		case s := <-moves:
			if int(s.State.Ply) == len(g.states) {
				g.states = append(g.states, s)
			}
		case <-time.After(botPoll):
		}
	}
}

// act does what the game calls for now and reports whether it is over.
func (b *bot) act(ctx context.Context, g *botGame) (bool, error) {
	info, err := b.game(ctx, g.id)
	if err != nil {
		return false, err
	}
	switch info.Status {
	case channel.StatusEnded, channel.StatusCancelled:
		b.log.Info("bot game over", "game", g.id, "result", info.Result)
		return true, nil
	case channel.StatusClaimed:
		head, err := b.p.eth.BlockNumber(ctx)
		if err != nil {
			return false, err
		}
		if head > info.Deadline {
			_, err := b.p.call(ctx, "finalize", nil, callGas, g.id)
			return false, err
		}
		if int(info.ClaimPly) == len(g.states)-1 && len(g.states)%2 == 0 && g.answered != info.ClaimPly {
			g.answered = info.ClaimPly // one try per claim: a claim that is not a timeout cannot be answered
			return false, b.move(ctx, g, true)
		}
		return false, nil
	}
	offers, err := b.p.bridge.Outcomes(ctx, g.id)
	if err != nil {
		return false, err
	}
	for _, o := range offers {
		if o.Side == "white" && (o.Result == channel.ResultDraw || o.Result == channel.ResultBlackWins) {
			sig, err := channel.SignOutcome(b.p.domain, channel.Outcome{GameID: g.id, Result: o.Result}, b.p.key)
			if err != nil {
				return false, err
			}
			_, err = b.p.call(ctx, "conclude", nil, callGas, g.id, o.Result, []byte(o.Signature), sig)
			return false, err
		}
	}
	pos, err := chessrules.ParseFEN(g.last().FEN)
	if err != nil {
		return false, err
	}
	st, err := chessrules.Status(pos)
	if err != nil {
		return false, err
	}
	botMoved := len(g.states)%2 == 1 && len(g.states) > 1 // the last state is black's
	switch {
	case g.claimed:
		return false, nil
	case st.IsCheckmate() && botMoved:
		g.claimed = true
		c, err := b.p.bridge.BuildClaim(ctx, g.id, channel.ClaimCheckmate, b.p.addr)
		if err != nil {
			return false, err
		}
		_, err = b.p.transact(ctx, c.Data, nil, callGas)
		return false, err
	case st.IsCheckmate():
		g.claimed = true
		sig, err := channel.SignOutcome(b.p.domain, channel.Outcome{GameID: g.id, Result: channel.ResultWhiteWins}, b.p.key)
		if err != nil {
			return false, err
		}
		_, err = b.p.bridge.OfferOutcome(ctx, g.id, channel.ResultWhiteWins, sig)
		return false, err
	case !st.HasLegalMove() || st.IsInsufficientMaterial():
		g.claimed = true
		sig, err := channel.SignOutcome(b.p.domain, channel.Outcome{GameID: g.id, Result: channel.ResultDraw}, b.p.key)
		if err != nil {
			return false, err
		}
		_, err = b.p.bridge.OfferOutcome(ctx, g.id, channel.ResultDraw, sig)
		return false, err
	case pos.SideToMove() == chessrules.Black:
		return false, b.move(ctx, g, false)
	}
	return false, nil
}

// move plays black's next move: mate if it can, else a legal move chosen
// by the game and ply (so a replayed game replays). With answer it is also
// sent to the arbiter as the answer to a timeout claim.
func (b *bot) move(ctx context.Context, g *botGame, answer bool) error {
	prev := g.last()
	pos, err := chessrules.ParseFEN(prev.FEN)
	if err != nil {
		return err
	}
	legal := chessrules.LegalMoves(pos)
	if len(legal) == 0 {
		return nil
	}
	var seed [8]byte
	copy(seed[:], crypto.Keccak256(g.id[:], binary.BigEndian.AppendUint32(nil, prev.Ply)))
	uci := legal[binary.BigEndian.Uint64(seed[:])%uint64(len(legal))]
	for _, m := range legal {
		if next, err := chessrules.ApplyUCI(pos, m); err == nil {
			if st, err := chessrules.Status(next); err == nil && st.IsCheckmate() {
				uci = m
				break
			}
		}
	}
	next, err := chessrules.ApplyUCI(pos, uci)
	if err != nil {
		return err
	}
	s := channel.State{GameID: g.id, Ply: prev.Ply + 1, FEN: next.FEN(), Move: uci, PrevHash: prev.StructHash()}
	sig, err := channel.SignState(b.p.domain, s, b.p.key)
	if err != nil {
		return err
	}
	if answer {
		r, err := b.p.call(ctx, "answer", nil, callGas, g.id, channel.NewABIState(s), sig)
		if err != nil {
			return err
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return errors.New("answer reverted")
		}
	}
	if _, err := b.p.bridge.SubmitMove(ctx, channel.SignedState{State: s, Signature: sig}); err != nil && !errors.Is(err, wire.ErrDuplicate) {
		return err
	}
	return nil
}

// botInfo is the part of the arbiter's game() the bot reads.
type botInfo struct {
	Stake    *big.Int
	Status   uint8
	Result   uint8
	ClaimPly uint32
	Deadline uint64
}

func (b *bot) game(ctx context.Context, id common.Hash) (botInfo, error) {
	data, _ := arbiterABI.Pack("game", id)
	to := arbiter.Address
	out, err := b.p.eth.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		return botInfo{}, err
	}
	v, err := arbiterABI.Unpack("game", out)
	if err != nil {
		return botInfo{}, err
	}
	return botInfo{Stake: v[2].(*big.Int), Status: v[4].(uint8), Result: v[5].(uint8), ClaimPly: v[6].(uint32), Deadline: v[7].(uint64)}, nil
}
