package posval

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pos"
	"github.com/arbiter-chain/arbiter/contracts/staking"
)

// slashGas bounds a slash transaction (the contract charges about 180k
// with four validators, 3.1M with 128).
const slashGas = 4_000_000

// evidenceSubmitter turns equivocation evidence into a signed `slash`
// transaction from this node's key, added to the pool like any other, so the
// staking contract removes the offender's stake. Each piece of evidence is
// submitted once per process; the contract refuses a repeat anyway.
type evidenceSubmitter struct {
	cfg  *Config
	abi  abi.ABI
	log  *slog.Logger
	mu   sync.Mutex
	sent map[common.Hash]bool
}

func newEvidenceSubmitter(cfg *Config) (*evidenceSubmitter, error) {
	parsed, err := abi.JSON(bytes.NewReader(staking.ABIJSON))
	if err != nil {
		return nil, err
	}
	return &evidenceSubmitter{cfg: cfg, abi: parsed, log: cfg.Logger, sent: make(map[common.Hash]bool)}, nil
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
		s.log.Error("submitting equivocation evidence failed", "evidence", h, "err", err)
		return
	}
	s.log.Warn("equivocation evidence submitted for slashing", "evidence", h)
}

func (s *evidenceSubmitter) send(ev *pos.Evidence) error {
	data, err := s.abi.Pack("slash", ev.Encode())
	if err != nil {
		return err
	}
	c := s.cfg.Chain
	from := s.cfg.Key
	addr := staking.Address
	signer := types.LatestSignerForChainID(c.ChainID())
	price := c.Genesis().MinGasPriceBig()
	tx, err := types.SignNewTx(from, signer, &types.DynamicFeeTx{
		ChainID: c.ChainID(), Nonce: s.cfg.Pool.PendingNonce(crypto.PubkeyToAddress(from.PublicKey)), To: &addr,
		Gas: slashGas, GasTipCap: price, GasFeeCap: new(big.Int).Set(price), Data: data,
	})
	if err != nil {
		return err
	}
	if err := s.cfg.Pool.Add(tx); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	return nil
}
