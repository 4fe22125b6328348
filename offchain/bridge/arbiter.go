package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Arbiter is what the bridge needs from the chain: the arbiter's view of
// one game and the chain id that goes into the EIP-712 domain.
type Arbiter interface {
	// Game returns the arbiter's game(gameId). A game the arbiter does not
	// know has Status channel.StatusNone.
	Game(ctx context.Context, gameID common.Hash) (GameInfo, error)
	// ChainID returns the chain id of the node.
	ChainID(ctx context.Context) (*big.Int, error)
}

// ContractCaller is the part of go-ethereum's ethclient.Client that
// ChainArbiter uses.
type ContractCaller interface {
	CallContract(ctx context.Context, msg ethereum.CallMsg, block *big.Int) ([]byte, error)
	ChainID(ctx context.Context) (*big.Int, error)
}

// revertCode is the JSON-RPC error code go-ethereum compatible nodes use
// for a reverted eth_call.
const revertCode = 3

// ChainArbiter implements Arbiter with eth_call against the arbiter
// contract at a fixed address.
type ChainArbiter struct {
	c     ContractCaller
	addr  common.Address
	close func()
}

// NewChainArbiter returns an Arbiter reading the contract at addr through
// c (usually an *ethclient.Client).
func NewChainArbiter(c ContractCaller, addr common.Address) *ChainArbiter {
	return &ChainArbiter{c: c, addr: addr, close: func() {}}
}

// DialArbiter connects to a node's JSON-RPC endpoint (http, ws or ipc)
// and returns an Arbiter for the contract at addr. Close releases the
// connection.
func DialArbiter(ctx context.Context, rawurl string, addr common.Address) (*ChainArbiter, error) {
	rc, err := rpc.DialContext(ctx, rawurl)
	if err != nil {
		return nil, fmt.Errorf("bridge: dial %s: %w", rawurl, err)
	}
	ec := ethclient.NewClient(rc)
	return &ChainArbiter{c: ec, addr: addr, close: ec.Close}, nil
}

// Close releases the connection opened by DialArbiter.
func (a *ChainArbiter) Close() { a.close() }

// ChainID implements Arbiter with eth_chainId.
func (a *ChainArbiter) ChainID(ctx context.Context) (*big.Int, error) {
	id, err := a.c.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("bridge: eth_chainId: %w", err)
	}
	return id, nil
}

// Game implements Arbiter with an eth_call of game(gameId) at the latest
// block. A reverted call counts as an unknown game.
func (a *ChainArbiter) Game(ctx context.Context, gameID common.Hash) (GameInfo, error) {
	parsed, err := channel.ArbiterABI()
	if err != nil {
		return GameInfo{}, err
	}
	data, err := parsed.Pack("game", [32]byte(gameID))
	if err != nil {
		return GameInfo{}, fmt.Errorf("bridge: pack game: %w", err)
	}
	to := a.addr
	out, err := a.c.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	var rerr rpc.Error
	switch {
	case errors.As(err, &rerr) && rerr.ErrorCode() == revertCode:
		return GameInfo{}, nil
	case err != nil:
		return GameInfo{}, fmt.Errorf("bridge: eth_call game(%s): %w", gameID, err)
	case len(out) == 0:
		return GameInfo{}, fmt.Errorf("bridge: eth_call game(%s): no contract at %s", gameID, a.addr)
	}
	var info GameInfo
	if err := parsed.UnpackIntoInterface(&info, "game", out); err != nil {
		return GameInfo{}, fmt.Errorf("bridge: unpack game(%s): %w", gameID, err)
	}
	return info, nil
}

// MemArbiter is an Arbiter held in memory, for tests and local demos: it
// returns whatever SetGame stored.
type MemArbiter struct {
	chainID *big.Int

	mu    sync.RWMutex
	games map[common.Hash]GameInfo
}

// NewMemArbiter returns an empty MemArbiter on the given chain.
func NewMemArbiter(chainID *big.Int) *MemArbiter {
	return &MemArbiter{chainID: new(big.Int).Set(chainID), games: make(map[common.Hash]GameInfo)}
}

// SetGame makes Game(id) return info.
func (a *MemArbiter) SetGame(id common.Hash, info GameInfo) {
	if info.Stake != nil {
		info.Stake = new(big.Int).Set(info.Stake)
	}
	a.mu.Lock()
	a.games[id] = info
	a.mu.Unlock()
}

// Game implements Arbiter.
func (a *MemArbiter) Game(_ context.Context, id common.Hash) (GameInfo, error) {
	a.mu.RLock()
	info := a.games[id]
	a.mu.RUnlock()
	if info.Stake != nil {
		info.Stake = new(big.Int).Set(info.Stake)
	}
	return info, nil
}

// ChainID implements Arbiter.
func (a *MemArbiter) ChainID(context.Context) (*big.Int, error) {
	return new(big.Int).Set(a.chainID), nil
}
