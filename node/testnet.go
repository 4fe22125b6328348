package node

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/p2p"
)

// TestnetChainID is the chain id of networks TestnetGenesis writes.
const TestnetChainID = 31337

// TestnetGenesis makes n fresh member keys and a genesis for a local
// network: each member funded, staked and listening on a loopback port
// (basePort+i, or no multiaddr when basePort is 0), with the membership,
// staking and chess contracts enabled.
func TestnetGenesis(n int, engine string, basePort int, blockTime time.Duration) (*genesis.Genesis, []*ecdsa.PrivateKey, error) {
	g := &genesis.Genesis{
		ChainID:   TestnetChainID,
		Engine:    engine,
		BlockTime: genesis.Duration(blockTime),
		GasLimit:  100_000_000,
		Timestamp: uint64(time.Now().Unix()),
		Contracts: []string{"membership", "staking", "chess"},
		Alloc:     map[common.Address]genesis.Account{},
	}
	if engine == genesis.EnginePoW {
		g.PoW = &pow.Config{MinDifficulty: 1 << 10, InitialDifficulty: 1 << 16}
	}
	fund := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	stake := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		key, err := crypto.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		keys[i] = key
		addr := crypto.PubkeyToAddress(key.PublicKey)
		id, err := p2p.PeerIDOf(key)
		if err != nil {
			return nil, nil, err
		}
		g.Members = append(g.Members, genesis.Member{
			Address: addr,
			Name:    fmt.Sprintf("member%d", i+1),
			Stake:   (*math.HexOrDecimal256)(new(big.Int).Set(stake)),
		})
		if basePort > 0 {
			g.Members[i].Multiaddr = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", basePort+i+1, id)
		}
		g.Alloc[addr] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Set(fund))}
	}
	if err := g.Validate(); err != nil {
		return nil, nil, err
	}
	return g, keys, nil
}
