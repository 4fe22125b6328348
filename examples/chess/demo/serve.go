package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/contracts/membership"
)

// maxVouched bounds the browser keys one demo run vouches for and funds.
const maxVouched = 64

// errTooManyVouched is returned once maxVouched keys have been vouched for.
var errTooManyVouched = fmt.Errorf("the demo vouches for at most %d keys", maxVouched)

// browserFunds is what a vouched browser key receives to stake with.
var browserFunds = new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))

// serve keeps the network running with a bot opponent until ctx ends.
func serve(ctx context.Context, n *network, out io.Writer, log *slog.Logger) error {
	b, err := startBot(ctx, n, log.With("component", "bot"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Serving\n")
	fmt.Fprintf(out, "  chess page        %s\n", n.pageURL)
	fmt.Fprintf(out, "  operator console  http://%s/console\n", n.nodes[0].RPCAddr())
	fmt.Fprintf(out, "  bot opponent      %s (open a game against it; it plays black)\n", b.p.addr)
	fmt.Fprintf(out, "The page asks the demo to vouch for its development key. Ctrl-C stops everything.\n")
	<-ctx.Done()
	b.wait()
	return nil
}

// voucher is the demo's bridge.Voucher: member 2 vouches for a browser's
// key through the membership contract and sends it ether to stake. (Member
// 1's key is the watchtower's; a second sender would race its nonces.)
type voucher struct {
	n   *network
	log *slog.Logger

	mu   sync.Mutex
	done map[common.Address]common.Hash
}

// Vouch implements bridge.Voucher.
func (v *voucher) Vouch(ctx context.Context, account common.Address) (common.Hash, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.done[account]; ok {
		return h, nil
	}
	if len(v.done) >= maxVouched {
		return common.Hash{}, errTooManyVouched
	}
	eth := ethclient.NewClient(v.n.pageNode)
	key := v.n.keys[1]
	p := newPlayer("member2", key, eth, nil, v.n.chainID, new(atomic.Uint64))
	data, err := membershipABI.Pack("allowAccount", account)
	if err != nil {
		return common.Hash{}, err
	}
	r, err := p.send(ctx, membership.Address, data, nil, 200_000)
	if err != nil {
		return common.Hash{}, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return common.Hash{}, errors.New("allowAccount reverted")
	}
	r, err = p.send(ctx, account, nil, browserFunds, 21_000)
	if err != nil {
		return common.Hash{}, err
	}
	if v.done == nil {
		v.done = map[common.Address]common.Hash{}
	}
	v.done[account] = r.TxHash
	v.log.Info("vouched for a browser key", "account", account, "by", crypto.PubkeyToAddress(key.PublicKey))
	return r.TxHash, nil
}
