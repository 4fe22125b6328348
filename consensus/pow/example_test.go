package pow_test

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// members is a one-block ChainHeaderReader for the example.
type members struct {
	genesis *types.Header
	set     map[common.Address]bool
}

func (m members) ChainID() *big.Int                               { return big.NewInt(1) }
func (m members) CurrentHeader() *types.Header                    { return m.genesis }
func (m members) GetHeader(common.Hash, uint64) *types.Header     { return nil }
func (m members) GetHeaderByNumber(uint64) *types.Header          { return nil }
func (m members) GetHeaderByHash(common.Hash) *types.Header       { return nil }
func (m members) IsMember(_ *types.Header, a common.Address) bool { return m.set[a] }

func Example() {
	cfg := pow.Config{MinDifficulty: 16, InitialDifficulty: 256}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	key, _ := crypto.GenerateKey()
	miner := pow.New(cfg, 5*time.Second, key, pow.WithThreads(2))
	verifier := pow.New(cfg, 5*time.Second, nil) // another node, no key

	now := uint64(time.Now().Unix())
	genesis := &types.Header{Number: big.NewInt(0), Time: now - 10, UncleHash: types.EmptyUncleHash, Difficulty: miner.GenesisDifficulty()}
	chain := members{genesis: genesis, set: map[common.Address]bool{miner.Address(): true}}

	header := &types.Header{ParentHash: genesis.Hash(), Number: big.NewInt(1), Time: now}
	if err := miner.Prepare(chain, header, genesis); err != nil {
		panic(err)
	}
	block, err := miner.Seal(context.Background(), chain, types.NewBlockWithHeader(header))
	if err != nil {
		panic(err)
	}

	fmt.Println("verify:", verifier.VerifyHeader(chain, block.Header(), genesis))
	author, _ := verifier.Author(block.Header())
	fmt.Println("author is miner:", author == miner.Address())
	fmt.Println("difficulty:", block.Difficulty()) // block came 10s after genesis, target 5s
	// Output:
	// verify: <nil>
	// author is miner: true
	// difficulty: 240
}
