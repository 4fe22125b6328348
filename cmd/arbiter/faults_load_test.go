package main

import (
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
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	chesscontract "github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/offchain/bridge/wire"
	"github.com/arbiter-chain/arbiter/offchain/channel"
	"github.com/arbiter-chain/arbiter/offchain/client"
)

// faultLoad is the client of the fault test: transfer senders and chess
// pairs, each account sending one transaction at a time. A transaction is
// signed once and only ever re-sent unchanged (to another node when the
// first one does not include it), so a nonce never has two transactions
// and "acknowledged" is unambiguous: the client saw its receipt.
type faultLoad struct {
	signer   types.Signer
	gasPrice *big.Int
	nodes    []*ethclient.Client // one per node, over its JSON-RPC
	bridge   string              // the bridge's JSON-RPC URL
	domain   channel.Domain
	abi      abi.ABI
	// clientKeys are the load's accounts: four transfer senders, then two
	// chess pairs (white, black).
	clientKeys []*ecdsa.PrivateKey
	next       atomic.Uint64 // spreads first sends over the nodes

	mu     sync.Mutex
	acked  []ackedTx
	failed []string // what went wrong beyond what faults explain
	games  int
}

// ackedTx is a transaction whose receipt the client saw.
type ackedTx struct {
	Hash   common.Hash
	What   string // transfer, open, join or conclude
	Number uint64 // block of the receipt
	Block  common.Hash
	Node   int // the node that gave the receipt
}

// faultSendTimeout is how long a transaction waits for its receipt on one
// node before it is re-sent to the next.
const faultSendTimeout = 4 * time.Second

func (l *faultLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed = append(l.failed, fmt.Sprintf(format, args...))
}

// startAll starts the senders and the chess pairs; they stop when ctx is
// done.
func (l *faultLoad) startAll(ctx context.Context, wg *sync.WaitGroup) {
	for _, k := range l.clientKeys[:4] {
		wg.Add(1)
		go func() { defer wg.Done(); l.transfers(ctx, k) }()
	}
	for i := 4; i+1 < len(l.clientKeys); i += 2 {
		white, black := l.clientKeys[i], l.clientKeys[i+1]
		wg.Add(1)
		go func() { defer wg.Done(); l.chess(ctx, white, black) }()
	}
}

// send signs a transaction and sends it until the client sees its receipt
// or ctx is done: to one node, then, if that one does not include it in
// time (it is down, stopped, cut off or slow), unchanged to the next. It
// records the receipt and returns it; a failed status is an error.
func (l *faultLoad) send(ctx context.Context, what string, key *ecdsa.PrivateKey, nonce uint64, to common.Address, value *big.Int, gas uint64, data []byte) (*types.Receipt, error) {
	tx := types.MustSignNewTx(key, l.signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: value, Gas: gas, GasPrice: l.gasPrice, Data: data})
	for k := int(l.next.Add(1)); ctx.Err() == nil; k++ {
		i := k % len(l.nodes)
		ec := l.nodes[i]
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ec.SendTransaction(sctx, tx)
		cancel()
		var refused gethrpc.Error
		if err != nil && !errors.As(err, &refused) {
			continue // no answer: try the next node
		}
		// Sent, known already, or refused as included (nonce too low):
		// wait for the receipt on this node.
		for deadline := time.Now().Add(faultSendTimeout); time.Now().Before(deadline) && ctx.Err() == nil; {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			r, err := ec.TransactionReceipt(rctx, tx.Hash())
			cancel()
			if err != nil && !errors.Is(err, ethereum.NotFound) {
				break // the node stopped answering: try the next one
			}
			if err == nil && r != nil {
				l.mu.Lock()
				l.acked = append(l.acked, ackedTx{Hash: tx.Hash(), What: what, Number: r.BlockNumber.Uint64(), Block: r.BlockHash, Node: i})
				l.mu.Unlock()
				if r.Status != types.ReceiptStatusSuccessful {
					return r, fmt.Errorf("%s %s (nonce %d): status %d in block %d", what, tx.Hash(), nonce, r.Status, r.BlockNumber)
				}
				return r, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond): // polling a receipt
			}
		}
	}
	return nil, ctx.Err()
}

// transfers sends value transfers from key to a few recipients until ctx
// is done.
func (l *faultLoad) transfers(ctx context.Context, key *ecdsa.PrivateKey) {
	for nonce := uint64(0); ctx.Err() == nil; nonce++ {
		to := common.BigToAddress(big.NewInt(int64(0xfa000 + nonce%16)))
		if _, err := l.send(ctx, "transfer", key, nonce, to, big.NewInt(int64(nonce+1)), 21000, nil); err != nil && ctx.Err() == nil {
			l.fail("transfer from %s: %v", crypto.PubkeyToAddress(key.PublicKey), err)
			return
		}
	}
}

// chess has a pair play games until ctx is done: white opens with a stake,
// black joins, both register the game with the bridge and exchange a
// fool's mate through it as signed states, then both sign the result and
// white concludes the game on chain: three transactions a game.
func (l *faultLoad) chess(ctx context.Context, white, black *ecdsa.PrivateKey) {
	c, err := client.Dial(l.bridge)
	if err != nil {
		l.fail("chess: dial bridge: %v", err)
		return
	}
	defer c.Close()
	stake := big.NewInt(1000)
	whiteAddr, blackAddr := crypto.PubkeyToAddress(white.PublicKey), crypto.PubkeyToAddress(black.PublicKey)
	call := func(what string, key *ecdsa.PrivateKey, nonce uint64, value *big.Int, args ...any) bool {
		data, err := l.abi.Pack(what, args...)
		if err != nil {
			l.fail("chess: pack %s: %v", what, err)
			return false
		}
		if _, err := l.send(ctx, what, key, nonce, chesscontract.Address, value, 1_000_000, data); err != nil {
			if ctx.Err() == nil {
				l.fail("chess: %v", err)
			}
			return false
		}
		return true
	}
	// retry runs fn until it succeeds or ctx is done: the bridge's node is
	// killed, stopped and cut off under it.
	retry := func(fn func(context.Context) error) bool {
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := fn(cctx)
			cancel()
			if err == nil {
				return true
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond): // retrying the bridge
			}
		}
		return false
	}
	var wn, bn uint64
	for ctx.Err() == nil {
		id := chesscontract.GameID(whiteAddr, wn)
		if !call("open", white, wn, stake, blackAddr, uint64(100)) || !call("join", black, bn, stake, [32]byte(id)) {
			return
		}
		if !retry(func(ctx context.Context) error { _, err := c.OpenGame(ctx, id); return err }) {
			return
		}
		states, err := signedLine(l.domain, id, white, black, "f2f3", "e7e5", "g2g4", "d8h4")
		if err != nil {
			l.fail("chess: %v", err)
			return
		}
		for _, st := range states {
			ok := retry(func(ctx context.Context) error {
				_, err := c.SubmitMove(ctx, st)
				if errors.Is(err, wire.ErrDuplicate) {
					return nil // accepted by an attempt whose answer was lost
				}
				return err
			})
			if !ok {
				return
			}
		}
		o := channel.Outcome{GameID: id, Result: channel.ResultBlackWins}
		ws, err := channel.SignOutcome(l.domain, o, white)
		if err != nil {
			l.fail("chess: %v", err)
			return
		}
		bs, err := channel.SignOutcome(l.domain, o, black)
		if err != nil {
			l.fail("chess: %v", err)
			return
		}
		if !call("conclude", white, wn+1, nil, [32]byte(id), o.Result, ws, bs) {
			return
		}
		l.mu.Lock()
		l.games++
		l.mu.Unlock()
		wn, bn = wn+2, bn+1
	}
}

// snapshot returns what the load recorded so far.
func (l *faultLoad) snapshot() (acked []ackedTx, failed []string, games int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ackedTx(nil), l.acked...), append([]string(nil), l.failed...), l.games
}
