package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	arbiter "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/chessrules"
	"github.com/arbiter-chain/arbiter/offchain/client"
)

var (
	arbiterABI    = mustABI(channel.ArbiterABIJSON)
	membershipABI = mustABI(membership.ABIJSON)
)

func mustABI(j []byte) abi.ABI {
	a, err := abi.JSON(bytes.NewReader(j))
	if err != nil {
		panic(err) // the ABIs are embedded and tested in their contracts' packages
	}
	return a
}

// player is a bot: a funded, allowed account with a node connection and a
// bridge connection.
type player struct {
	name   string
	key    *ecdsa.PrivateKey
	addr   common.Address
	eth    *ethclient.Client
	bridge *client.Client
	domain channel.Domain
	signer types.Signer

	sendMu sync.Mutex // one nonce at a time: scenarios run concurrently

	// seen is the highest block any player's receipt landed in, shared by
	// both players: reads wait until their node has it, since the players
	// talk to different members.
	seen *atomic.Uint64
}

func newPlayer(name string, key *ecdsa.PrivateKey, eth *ethclient.Client, br *client.Client, chainID *big.Int, seen *atomic.Uint64) *player {
	return &player{seen: seen,
		name: name, key: key, addr: crypto.PubkeyToAddress(key.PublicKey), eth: eth, bridge: br,
		domain: channel.DefaultDomain(chainID), signer: types.LatestSignerForChainID(chainID),
	}
}

// transact sends a call to the arbiter and waits for its receipt. Gas is
// priced at zero on the demo network, so balances move by stakes only.
func (p *player) transact(ctx context.Context, data []byte, value *big.Int, gas uint64) (*types.Receipt, error) {
	return p.send(ctx, arbiter.Address, data, value, gas)
}

// send sends a transaction to an address and waits for its receipt.
func (p *player) send(ctx context.Context, to common.Address, data []byte, value *big.Int, gas uint64) (*types.Receipt, error) {
	p.sendMu.Lock()
	nonce, err := p.eth.PendingNonceAt(ctx, p.addr)
	if err != nil {
		p.sendMu.Unlock()
		return nil, err
	}
	tx, err := types.SignNewTx(p.key, p.signer, &types.DynamicFeeTx{
		ChainID: p.signer.ChainID(), Nonce: nonce, To: &to, Value: value, Gas: gas,
		GasTipCap: new(big.Int), GasFeeCap: new(big.Int), Data: data,
	})
	if err != nil {
		p.sendMu.Unlock()
		return nil, err
	}
	err = p.eth.SendTransaction(ctx, tx)
	p.sendMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: send: %w", p.name, err)
	}
	r, err := waitReceipt(ctx, p.eth, tx.Hash())
	if err == nil {
		for cur := p.seen.Load(); r.BlockNumber.Uint64() > cur && !p.seen.CompareAndSwap(cur, r.BlockNumber.Uint64()); cur = p.seen.Load() {
		}
	}
	return r, err
}

func (p *player) call(ctx context.Context, method string, value *big.Int, gas uint64, args ...any) (*types.Receipt, error) {
	data, err := arbiterABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", method, err)
	}
	return p.transact(ctx, data, value, gas)
}

// revertReason replays a failed call with eth_call to read its reason.
func (p *player) revertReason(ctx context.Context, method string, args ...any) string {
	data, err := arbiterABI.Pack(method, args...)
	if err != nil {
		return err.Error()
	}
	to := arbiter.Address
	_, err = p.eth.CallContract(ctx, ethereum.CallMsg{From: p.addr, To: &to, Data: data, Gas: 2_000_000}, nil)
	if err == nil {
		return "(call succeeds now)"
	}
	return err.Error()
}

func waitReceipt(ctx context.Context, c *ethclient.Client, h common.Hash) (*types.Receipt, error) {
	for {
		r, err := c.TransactionReceipt(ctx, h)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", h.Hex(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// match is one game as the players see it: the accepted signed states,
// index = ply (ply 0 is the unsigned start state).
type match struct {
	id     common.Hash
	white  *player
	black  *player
	states []channel.SignedState
	tl     *timeline
	pushes map[*player]chan channel.SignedState
	txs    int // on-chain transactions this game took
}

func (m *match) other(p *player) *player {
	if p == m.white {
		return m.black
	}
	return m.white
}

func (m *match) last() channel.SignedState { return m.states[len(m.states)-1] }

func (m *match) mover(ply uint32) *player {
	if ply%2 == 1 {
		return m.white
	}
	return m.black
}

// sign makes the next state with move uci, signed by the player to move,
// without sending it anywhere.
func (m *match) sign(uci string) (channel.SignedState, error) {
	prev := m.last().State
	pos, err := chessrules.ParseFEN(prev.FEN)
	if err != nil {
		return channel.SignedState{}, err
	}
	next, err := chessrules.ApplyUCI(pos, uci)
	if err != nil {
		return channel.SignedState{}, fmt.Errorf("move %s: %w", uci, err)
	}
	st := channel.State{GameID: m.id, Ply: prev.Ply + 1, FEN: next.FEN(), Move: uci, PrevHash: prev.StructHash()}
	p := m.mover(st.Ply)
	sig, err := channel.SignState(p.domain, st, p.key)
	if err != nil {
		return channel.SignedState{}, err
	}
	return channel.SignedState{State: st, Signature: sig}, nil
}

// play makes each move through the bridge: the mover signs and submits,
// the opponent receives it as a push on its subscription and checks it is
// the same state before answering.
func (m *match) play(ctx context.Context, moves ...string) error {
	for _, uci := range moves {
		s, err := m.sign(uci)
		if err != nil {
			return err
		}
		mover := m.mover(s.State.Ply)
		if _, err := mover.bridge.SubmitMove(ctx, s); err != nil {
			return fmt.Errorf("ply %d %s: bridge refused: %w", s.State.Ply, uci, err)
		}
		// Both players are subscribed: the opponent must be pushed exactly
		// this state, and the mover sees its own move echoed.
		for _, ch := range []chan channel.SignedState{m.pushes[m.other(mover)], m.pushes[mover]} {
			select {
			case got := <-ch:
				if got.State.StructHash() != s.State.StructHash() {
					return fmt.Errorf("ply %d: pushed %s, not %s", s.State.Ply, got.State.Move, uci)
				}
			case <-ctx.Done():
				return fmt.Errorf("ply %d: no push: %w", s.State.Ply, ctx.Err())
			}
		}
		m.states = append(m.states, s)
		m.tl.offchain(s.State.Ply, uci, mover.name)
	}
	return nil
}
