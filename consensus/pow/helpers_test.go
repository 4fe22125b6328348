package pow

import (
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// testChain is an in-memory consensus.ChainHeaderReader with a fixed member
// set.
type testChain struct {
	byHash   map[common.Hash]*types.Header
	byNumber map[uint64]*types.Header
	head     *types.Header
	members  map[common.Address]bool
}

func newTestChain(genesis *types.Header, members ...common.Address) *testChain {
	c := &testChain{
		byHash:   make(map[common.Hash]*types.Header),
		byNumber: make(map[uint64]*types.Header),
		members:  make(map[common.Address]bool),
	}
	for _, m := range members {
		c.members[m] = true
	}
	c.insert(genesis)
	return c
}

func (c *testChain) insert(h *types.Header) {
	c.byHash[h.Hash()] = h
	c.byNumber[h.Number.Uint64()] = h
	c.head = h
}

func (c *testChain) ChainID() *big.Int            { return big.NewInt(1337) }
func (c *testChain) CurrentHeader() *types.Header { return c.head }
func (c *testChain) GetHeader(hash common.Hash, number uint64) *types.Header {
	if h := c.byHash[hash]; h != nil && h.Number.Uint64() == number {
		return h
	}
	return nil
}
func (c *testChain) GetHeaderByNumber(number uint64) *types.Header  { return c.byNumber[number] }
func (c *testChain) GetHeaderByHash(hash common.Hash) *types.Header { return c.byHash[hash] }
func (c *testChain) IsMember(_ *types.Header, addr common.Address) bool {
	return c.members[addr]
}

var (
	// testNow is the fixed clock of the test engines.
	testNow = time.Unix(1_700_000_000, 0)
	// testConfig keeps mining to a few dozen hashes.
	testConfig = Config{MinDifficulty: 4, InitialDifficulty: 32}
)

const testBlockTime = 5 * time.Second

func fixedClock() time.Time { return testNow }

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestEngine(key *ecdsa.PrivateKey, opts ...Option) *Engine {
	return New(testConfig, testBlockTime, key, append([]Option{WithClock(fixedClock)}, opts...)...)
}

// testGenesis returns a genesis header 100 seconds before testNow.
func testGenesis(e *Engine) *types.Header {
	return &types.Header{
		UncleHash:  types.EmptyUncleHash,
		Difficulty: e.GenesisDifficulty(),
		Number:     big.NewInt(0),
		GasLimit:   30_000_000,
		Time:       uint64(testNow.Unix()) - 100,
		Extra:      []byte("genesis"),
	}
}

// childOf returns an unprepared header on top of parent, dt seconds later.
func childOf(parent *types.Header, dt uint64) *types.Header {
	return &types.Header{
		ParentHash: parent.Hash(),
		Number:     new(big.Int).Add(parent.Number, common.Big1),
		GasLimit:   parent.GasLimit,
		Time:       parent.Time + dt,
		Root:       common.HexToHash("0x01"),
		TxHash:     types.EmptyTxsHash,
	}
}

// withAllOptional sets every optional header field.
func withAllOptional(h *types.Header) *types.Header {
	u1, u2, u3 := uint64(131072), uint64(0), uint64(42)
	wh, pbr, rh, bal := common.HexToHash("0xa1"), common.HexToHash("0xa2"), common.HexToHash("0xa3"), common.HexToHash("0xa4")
	h.BaseFee = big.NewInt(1_000_000_000)
	h.WithdrawalsHash = &wh
	h.BlobGasUsed = &u1
	h.ExcessBlobGas = &u2
	h.ParentBeaconRoot = &pbr
	h.RequestsHash = &rh
	h.BlockAccessListHash = &bal
	h.SlotNumber = &u3
	return h
}

// forgeSeal signs h with key (whatever h.Coinbase says) and searches nonces
// from 0 until the work meets h.Difficulty, bypassing the checks of Seal.
func forgeSeal(t testing.TB, h *types.Header, key *ecdsa.PrivateKey) {
	t.Helper()
	sh := SealHash(h)
	sig, err := crypto.Sign(sh[:], key)
	if err != nil {
		t.Fatal(err)
	}
	h.Extra = sig
	tgt := newTarget(h.Difficulty)
	for n := uint64(0); ; n++ {
		h.Nonce = types.EncodeNonce(n)
		h.MixDigest = mixDigest(sh, h.Nonce)
		if tgt.met(&h.MixDigest) {
			return
		}
	}
}

// reseal recomputes the difficulty of h on top of parent and forges a fresh
// seal by key, so only the deliberate defect remains.
func reseal(t testing.TB, e *Engine, h, parent *types.Header, key *ecdsa.PrivateKey) {
	t.Helper()
	h.Difficulty = e.CalcDifficulty(h.Time, parent)
	forgeSeal(t, h, key)
}
