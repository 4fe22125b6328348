package demo

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	arbiter "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

const (
	openGas     = 300_000
	callGas     = 500_000
	moveTimeout = 4 // blocks
)

// env is what every scenario shares: the two bots and a node connection.
type env struct {
	alice, bob *player
	eth        *ethclient.Client
	stake      *big.Int
}

// scenario is one game with the outcome it must reach.
type scenario struct {
	title string
	// net is Alice's expected gain in stakes (+1 win, -1 loss, 0 draw).
	net int64
	run func(ctx context.Context, e *env, tl *timeline) error
}

var scenarios = []scenario{
	{"1. A real game played off-chain, checkmate, settled cooperatively", +1, cooperativeMate},
	{"2. Black stops answering: timeout claim, window runs out, claimant paid", +1, timeoutUnanswered},
	{"3. A timeout claim answered in time; play resumes off-chain", 0, timeoutAnswered},
	{"4. A false checkmate claim rejected by the chain", -1, falseCheckmate},
	{"5. A stale claim refuted by the watchtower; the cheater forfeits", -1, staleClaim},
	{"6. An illegal move signed by one player, proved on chain", +1, illegalMove},
}

// newMatch opens a game on chain (white stakes, black joins), registers it
// with the bridge and subscribes both players to its moves.
func newMatch(ctx context.Context, e *env, tl *timeline) (*match, error) {
	white, black := e.alice, e.bob
	r, err := white.call(ctx, "open", e.stake, openGas, black.addr, uint64(moveTimeout))
	if err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) == 0 {
		return nil, fmt.Errorf("open failed: %s", white.revertReason(ctx, "open", black.addr, uint64(moveTimeout)))
	}
	m := &match{id: r.Logs[0].Topics[1], white: white, black: black, tl: tl, pushes: map[*player]chan channel.SignedState{}}
	m.states = []channel.SignedState{{State: channel.StartState(m.id)}}
	tl.add("  game %s, stake %s wei each, move timeout %d blocks", m.id.Hex()[:18]+"…", e.stake, moveTimeout)
	tl.onchain("open", white.name, r)
	m.txs++
	if r, err = black.call(ctx, "join", e.stake, callGas, m.id); err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return nil, fmt.Errorf("join failed: %s", black.revertReason(ctx, "join", m.id))
	}
	tl.onchain("join", black.name, r)
	m.txs++
	// The bridge reads the game through another member, which may learn
	// of the join a moment after the player's own node does.
	for {
		_, err := white.bridge.OpenGame(ctx, m.id)
		if err == nil {
			break
		}
		if !errors.Is(err, wire.ErrGameNotActive) && !errors.Is(err, wire.ErrUnknownGame) {
			return nil, fmt.Errorf("bridge openGame: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bridge openGame: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, p := range []*player{white, black} {
		ch := make(chan channel.SignedState, 64)
		sub, err := p.bridge.SubscribeMoves(ctx, m.id, ch)
		if err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		go func() { <-ctx.Done(); sub.Unsubscribe() }()
		m.pushes[p] = ch
	}
	return m, nil
}

// conclude settles the game with an outcome both players sign.
func (m *match) conclude(ctx context.Context, result uint8) error {
	o := channel.Outcome{GameID: m.id, Result: result}
	ws, err := channel.SignOutcome(m.white.domain, o, m.white.key)
	if err != nil {
		return err
	}
	bs, err := channel.SignOutcome(m.black.domain, o, m.black.key)
	if err != nil {
		return err
	}
	m.tl.add("  outcome %d signed by both players off-chain", result)
	r, err := m.white.call(ctx, "conclude", nil, callGas, m.id, result, ws, bs)
	if err != nil {
		return err
	}
	m.tl.onchain("conclude", m.white.name, r)
	m.txs++
	return expectOK(ctx, m.white, r, "conclude", m.id, result, ws, bs)
}

func expectOK(ctx context.Context, p *player, r *types.Receipt, method string, args ...any) error {
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("%s reverted: %s", method, p.revertReason(ctx, method, args...))
	}
	return nil
}

// onChain reads the game from the arbiter.
type gameView struct {
	Status, Result uint8
	ClaimPly       uint32
	Deadline       uint64
}

func readGame(ctx context.Context, e *env, id common.Hash) (gameView, error) {
	eth := e.eth
	if err := waitBlock(ctx, eth, e.alice.seen.Load()); err != nil {
		return gameView{}, err
	}
	data, _ := arbiterABI.Pack("game", id)
	to := arbiter.Address
	out, err := eth.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		return gameView{}, err
	}
	v, err := arbiterABI.Unpack("game", out)
	if err != nil {
		return gameView{}, err
	}
	return gameView{Status: v[4].(uint8), Result: v[5].(uint8), ClaimPly: v[6].(uint32), Deadline: v[7].(uint64)}, nil
}

func expectEnded(ctx context.Context, e *env, m *match, result uint8) error {
	g, err := readGame(ctx, e, m.id)
	if err != nil {
		return err
	}
	if g.Status != channel.StatusEnded || g.Result != result {
		return fmt.Errorf("game status %d result %d, want ended with result %d", g.Status, g.Result, result)
	}
	m.tl.add("  => ended on chain, result %d (%s)", result, resultText(result))
	return nil
}

func resultText(r uint8) string {
	switch r {
	case channel.ResultWhiteWins:
		return "white wins, takes both stakes"
	case channel.ResultBlackWins:
		return "black wins, takes both stakes"
	default:
		return "draw, each stake returned"
	}
}

// claimFromBridge has the bridge build a claim from the states it holds,
// and sends it.
func (m *match) claimFromBridge(ctx context.Context, claimant *player, kind uint8, label string) (*types.Receipt, error) {
	c, err := claimant.bridge.BuildClaim(ctx, m.id, kind, claimant.addr)
	if err != nil {
		return nil, fmt.Errorf("bridge buildClaim: %w", err)
	}
	r, err := claimant.transact(ctx, c.Data, nil, callGas)
	if err != nil {
		return nil, err
	}
	m.tl.onchain(label, claimant.name, r)
	m.txs++
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("%s reverted", label)
	}
	return r, nil
}

func waitBlock(ctx context.Context, eth *ethclient.Client, n uint64) error {
	heads := make(chan *types.Header, 16)
	sub, err := eth.SubscribeNewHead(ctx, heads)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	for {
		cur, err := eth.BlockNumber(ctx)
		if err != nil {
			return err
		}
		if cur >= n {
			return nil
		}
		select {
		case <-heads:
		case err := <-sub.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func cooperativeMate(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	// Légal's mate: a real miniature, 13 plies, every move relayed by the bridge.
	if err := m.play(ctx, "e2e4", "e7e5", "g1f3", "d7d6", "f1c4", "c8g4", "b1c3", "g7g6", "f3e5", "g4d1", "c4f7", "e8e7", "c3d5"); err != nil {
		return err
	}
	tl.add("  black is checkmated; both players agree")
	if err := m.conclude(ctx, channel.ResultWhiteWins); err != nil {
		return err
	}
	if m.txs != 3 {
		return fmt.Errorf("the whole game took %d transactions, want 3", m.txs)
	}
	tl.add("  the whole game took %d on-chain transactions (open, join, conclude)", m.txs)
	return expectEnded(ctx, e, m, channel.ResultWhiteWins)
}

func timeoutUnanswered(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	if err := m.play(ctx, "e2e4", "c7c5", "g1f3"); err != nil {
		return err
	}
	tl.add("  black stops answering")
	if _, err := m.claimFromBridge(ctx, m.white, channel.ClaimTimeout, "claim timeout (ply 3)"); err != nil {
		return err
	}
	g, err := readGame(ctx, e, m.id)
	if err != nil {
		return err
	}
	tl.add("  window open until block %d; nobody answers", g.Deadline)
	if err := waitBlock(ctx, e.eth, g.Deadline+1); err != nil {
		return err
	}
	r, err := m.white.call(ctx, "finalize", nil, callGas, m.id)
	if err != nil {
		return err
	}
	tl.onchain("finalize", m.white.name, r)
	if err := expectOK(ctx, m.white, r, "finalize", m.id); err != nil {
		return err
	}
	return expectEnded(ctx, e, m, channel.ResultWhiteWins)
}

func timeoutAnswered(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	if err := m.play(ctx, "d2d4", "d7d5", "c2c4"); err != nil {
		return err
	}
	if _, err := m.claimFromBridge(ctx, m.white, channel.ClaimTimeout, "claim timeout (ply 3)"); err != nil {
		return err
	}
	// Black answers on chain with its signed next move.
	next, err := m.sign("e7e6")
	if err != nil {
		return err
	}
	r, err := m.black.call(ctx, "answer", nil, callGas, m.id, channel.NewABIState(next.State), next.Signature)
	if err != nil {
		return err
	}
	tl.onchain("answer with ply 4 e7e6", m.black.name, r)
	m.txs++
	if err := expectOK(ctx, m.black, r, "answer", m.id, channel.NewABIState(next.State), next.Signature); err != nil {
		return err
	}
	if g, err := readGame(ctx, e, m.id); err != nil || g.Status != channel.StatusActive {
		return fmt.Errorf("after the answer: status %d (%v), want active", g.Status, err)
	}
	tl.add("  claim answered: game active again, play resumes off-chain")
	// The answered move enters the bridge like any other, then play goes on.
	if _, err := m.black.bridge.SubmitMove(ctx, next); err != nil && !errors.Is(err, wire.ErrDuplicate) {
		return fmt.Errorf("bridge refused the answered move: %w", err)
	}
	for _, ch := range m.pushes {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.states = append(m.states, next)
	tl.offchain(4, "e7e6", m.black.name)
	if err := m.play(ctx, "b1c3", "g8f6"); err != nil {
		return err
	}
	tl.add("  the players agree a draw")
	if err := m.conclude(ctx, channel.ResultDraw); err != nil {
		return err
	}
	return expectEnded(ctx, e, m, channel.ResultDraw)
}

func falseCheckmate(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	if err := m.play(ctx, "e2e4", "e7e5", "d1h5"); err != nil {
		return err
	}
	if _, err := m.white.bridge.BuildClaim(ctx, m.id, channel.ClaimCheckmate, m.white.addr); err != nil {
		tl.add("  the bridge refuses to build a checkmate claim: %v", err)
	} else {
		return errors.New("the bridge built a false checkmate claim")
	}
	// White sends it anyway, built by hand from the signed states.
	base, last := m.states[2], m.states[3]
	args := []any{m.id, channel.ClaimCheckmate, channel.NewABIState(base.State), base.Signature, channel.NewABIState(last.State), last.Signature}
	r, err := m.white.call(ctx, "claim", nil, callGas, args...)
	if err != nil {
		return err
	}
	tl.onchain("claim checkmate (false)", m.white.name, r)
	m.txs++
	if r.Status == types.ReceiptStatusSuccessful {
		return errors.New("the chain accepted a false checkmate claim")
	}
	tl.add("  rejected by the arbiter: %s", m.white.revertReason(ctx, "claim", args...))
	if g, err := readGame(ctx, e, m.id); err != nil || g.Status != channel.StatusActive {
		return fmt.Errorf("after the false claim: status %d (%v), want active", g.Status, err)
	}
	r, err = m.white.call(ctx, "resign", nil, callGas, m.id)
	if err != nil {
		return err
	}
	tl.onchain("resign", m.white.name, r)
	if err := expectOK(ctx, m.white, r, "resign", m.id); err != nil {
		return err
	}
	return expectEnded(ctx, e, m, channel.ResultBlackWins)
}

func staleClaim(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	if err := m.play(ctx, "e2e4", "c7c5", "g1f3", "d7d6", "d2d4", "c5d4", "f3d4"); err != nil {
		return err
	}
	// White claims a timeout resting on ply 3, though it has since signed
	// plies 5 and 7 (which the bridge holds).
	base, last := m.states[2], m.states[3]
	args := []any{m.id, channel.ClaimTimeout, channel.NewABIState(base.State), base.Signature, channel.NewABIState(last.State), last.Signature}
	r, err := m.white.call(ctx, "claim", nil, callGas, args...)
	if err != nil {
		return err
	}
	tl.onchain("stale claim timeout (ply 3)", m.white.name, r)
	m.txs++
	if err := expectOK(ctx, m.white, r, "claim", args...); err != nil {
		return err
	}
	ended, err := waitEnded(ctx, e.eth, m.id)
	if err != nil {
		return err
	}
	tx, _, err := e.eth.TransactionByHash(ctx, ended.TxHash)
	if err != nil {
		return err
	}
	from, _ := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	tl.add("  %-32s by %-5s on-chain  block %-4d tx %s", "watchtower refutes with ply 7", "tower", ended.BlockNumber, ended.TxHash.Hex()[:18]+"…")
	if from == m.white.addr || from == m.black.addr {
		return fmt.Errorf("the refutation came from a player (%s), not the watchtower", from)
	}
	return expectEnded(ctx, e, m, channel.ResultBlackWins)
}

// waitEnded waits for the game's GameEnded event.
func waitEnded(ctx context.Context, eth *ethclient.Client, id common.Hash) (types.Log, error) {
	topic := arbiterABI.Events[channel.EventGameEnded].ID
	logs := make(chan types.Log, 4)
	q := ethereum.FilterQuery{Addresses: []common.Address{arbiter.Address}, Topics: [][]common.Hash{{topic}, {id}}}
	sub, err := eth.SubscribeFilterLogs(ctx, q, logs)
	if err != nil {
		return types.Log{}, err
	}
	defer sub.Unsubscribe()
	past, err := eth.FilterLogs(ctx, q)
	if err != nil {
		return types.Log{}, err
	}
	if len(past) > 0 {
		return past[0], nil
	}
	select {
	case l := <-logs:
		return l, nil
	case err := <-sub.Err():
		return types.Log{}, err
	case <-ctx.Done():
		return types.Log{}, fmt.Errorf("no GameEnded: %w", ctx.Err())
	}
}

func illegalMove(ctx context.Context, e *env, tl *timeline) error {
	m, err := newMatch(ctx, e, tl)
	if err != nil {
		return err
	}
	if err := m.play(ctx, "e2e4", "e7e5", "g1f3"); err != nil {
		return err
	}
	// Black signs a king move of two squares, claiming the position after it.
	prev := m.last().State
	bad := channel.State{GameID: m.id, Ply: 4, FEN: "rnbq1bnr/pppp1ppp/4k3/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQ - 2 3", Move: "e8e6", PrevHash: prev.StructHash()}
	sig, err := channel.SignState(m.black.domain, bad, m.black.key)
	if err != nil {
		return err
	}
	if _, err := m.black.bridge.SubmitMove(ctx, channel.SignedState{State: bad, Signature: sig}); err != nil {
		tl.add("  ply 4   e8e6   signed by %-5s  refused by the bridge: %v", m.black.name, err)
	} else {
		return errors.New("the bridge relayed an illegal move")
	}
	base := m.last()
	args := []any{m.id, channel.NewABIState(base.State), base.Signature, channel.NewABIState(bad), sig}
	r, err := m.white.call(ctx, "proveCheat", nil, callGas, args...)
	if err != nil {
		return err
	}
	tl.onchain("proveCheat with black's ply 4", m.white.name, r)
	if err := expectOK(ctx, m.white, r, "proveCheat", args...); err != nil {
		return err
	}
	return expectEnded(ctx, e, m, channel.ResultWhiteWins)
}
