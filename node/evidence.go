package node

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
)

// slashGas bounds a slash transaction (the contract charges about 180k
// with four validators, 2.9M with 128).
const slashGas = 4_000_000

// evidenceSubmitter turns equivocation evidence into a signed `slash`
// transaction from this node's key, added to the pool like any other, so the
// staking contract removes the offender's stake. Each piece of evidence is
// submitted once per process; the contract refuses a repeat anyway.
type evidenceSubmitter struct {
	n    *Node
	abi  abi.ABI
	mu   sync.Mutex
	sent map[common.Hash]bool
}

func newEvidenceSubmitter(n *Node) (*evidenceSubmitter, error) {
	parsed, err := abi.JSON(bytes.NewReader(staking.ABIJSON))
	if err != nil {
		return nil, err
	}
	return &evidenceSubmitter{n: n, abi: parsed, sent: make(map[common.Hash]bool)}, nil
}

func (s *evidenceSubmitter) submit(ev *pos.Evidence) {
	h := ev.Hash()
	s.mu.Lock()
	if s.sent[h] {
		s.mu.Unlock()
		return
	}
	s.sent[h] = true
	s.mu.Unlock()
	if err := s.send(ev); err != nil {
		s.n.log.Error("submitting equivocation evidence failed", "evidence", h, "err", err)
		return
	}
	s.n.log.Warn("equivocation evidence submitted for slashing", "evidence", h)
}

func (s *evidenceSubmitter) send(ev *pos.Evidence) error {
	data, err := s.abi.Pack("slash", ev.Encode())
	if err != nil {
		return err
	}
	from := s.n.cfg.Key
	addr := staking.Address
	signer := types.LatestSignerForChainID(s.n.chain.ChainID())
	price := s.n.chain.Genesis().MinGasPriceBig()
	tx, err := types.SignNewTx(from, signer, &types.DynamicFeeTx{
		ChainID: s.n.chain.ChainID(), Nonce: s.n.pool.PendingNonce(s.n.address()), To: &addr,
		Gas: slashGas, GasTipCap: price, GasFeeCap: new(big.Int).Set(price), Data: data,
	})
	if err != nil {
		return err
	}
	if err := s.n.pool.Add(tx); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	return nil
}

// stakingEnabled reports whether genesis enables the staking contract.
func (n *Node) stakingEnabled() bool { return slices.Contains(n.chain.Genesis().Contracts, "staking") }
