package txpool

import (
	"crypto/ecdsa"
	"encoding/binary"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/rules"
)

var (
	testChainID  = big.NewInt(4242)
	testGasLimit = uint64(10_000_000)
	testSigner   = types.NewLondonSigner(testChainID)
	testRules    = rules.NewStatic(testChainID, testGasLimit)
	recipient    = common.HexToAddress("0x00000000000000000000000000000000000000aa")
	rich         = uint256.MustFromDecimal("1000000000000000000000")
)

// testKey returns a deterministic key for index i.
func testKey(i int) *ecdsa.PrivateKey {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte("txpool test key"), seed[:]))
	if err != nil {
		panic(err)
	}
	return key
}

func addrOf(key *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(key.PublicKey) }

// fakeChain serves committed in-memory states.
type fakeChain struct {
	db state.Database

	mu   sync.Mutex
	head *types.Header
}

func (c *fakeChain) CurrentHeader() *types.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head
}

func (c *fakeChain) StateAt(root common.Hash) (*state.StateDB, error) {
	return state.New(root, c.db)
}

// advance applies f to the head state, commits it as the next block and
// makes it the head.
func (c *fakeChain) advance(t testing.TB, f func(st *state.StateDB)) *types.Header {
	t.Helper()
	parent := c.CurrentHeader()
	st, err := state.New(parent.Root, c.db)
	if err != nil {
		t.Fatal(err)
	}
	f(st)
	num := new(big.Int).Add(parent.Number, common.Big1)
	root, err := st.Commit(params.TestChainConfig.Rules(num, false, 0), num.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	head := &types.Header{ParentHash: parent.Hash(), Number: num, Root: root, GasLimit: testGasLimit}
	c.mu.Lock()
	c.head = head
	c.mu.Unlock()
	return head
}

// env is a chain whose genesis state has:
//   - alice, bob, carol: members, rich; carol's nonce is 3
//   - dave: allowed by alice, rich
//   - eve: rich but neither member nor allowed
//   - poor: member with 50000 wei (two 21000-gas transactions at price 1)
//   - extra: more rich members, for benchmarks and concurrency
type env struct {
	chain                              *fakeChain
	genesis                            *types.Header
	alice, bob, carol, dave, eve, poor *ecdsa.PrivateKey
	extra                              []*ecdsa.PrivateKey
}

func newEnv(t testing.TB, extra int) *env {
	t.Helper()
	e := &env{alice: testKey(0), bob: testKey(1), carol: testKey(2), dave: testKey(3), eve: testKey(4), poor: testKey(5)}
	for i := 0; i < extra; i++ {
		e.extra = append(e.extra, testKey(100+i))
	}
	e.chain = &fakeChain{db: state.NewDatabaseForTesting()}
	st, err := state.New(types.EmptyRootHash, e.chain.db)
	if err != nil {
		t.Fatal(err)
	}
	members := append([]*ecdsa.PrivateKey{e.alice, e.bob, e.carol}, e.extra...)
	for _, k := range members {
		membership.AddMember(st, addrOf(k))
		st.SetBalance(addrOf(k), rich, tracing.BalanceChangeUnspecified)
	}
	st.SetNonce(addrOf(e.carol), 3, tracing.NonceChangeUnspecified)
	membership.Allow(st, addrOf(e.dave), addrOf(e.alice))
	st.SetBalance(addrOf(e.dave), rich, tracing.BalanceChangeUnspecified)
	st.SetBalance(addrOf(e.eve), rich, tracing.BalanceChangeUnspecified)
	membership.AddMember(st, addrOf(e.poor))
	st.SetBalance(addrOf(e.poor), uint256.NewInt(50_000), tracing.BalanceChangeUnspecified)
	// Under EIP-158 an account without nonce, balance or code is deleted at
	// commit, storage and all: give the membership contract a nonce.
	st.SetNonce(membership.Address, 1, tracing.NonceChangeUnspecified)
	root, err := st.Commit(params.TestChainConfig.Rules(common.Big0, false, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	e.genesis = &types.Header{Number: big.NewInt(0), Root: root, GasLimit: testGasLimit}
	e.chain.head = e.genesis
	return e
}

func (e *env) pool(cfg Config) *Pool { return New(cfg, testRules, e.chain) }

// legacy returns an EIP-155 transaction to the recipient with 21000 gas.
func legacy(nonce uint64, price int64, mods ...func(*types.LegacyTx)) types.TxData {
	tx := &types.LegacyTx{Nonce: nonce, GasPrice: big.NewInt(price), Gas: 21000, To: &recipient, Value: new(big.Int)}
	for _, m := range mods {
		m(tx)
	}
	return tx
}

// dynamic returns a dynamic-fee transaction to the recipient with 21000 gas.
func dynamic(nonce uint64, tip, feeCap int64, mods ...func(*types.DynamicFeeTx)) types.TxData {
	tx := &types.DynamicFeeTx{ChainID: testChainID, Nonce: nonce, GasTipCap: big.NewInt(tip), GasFeeCap: big.NewInt(feeCap),
		Gas: 21000, To: &recipient, Value: new(big.Int)}
	for _, m := range mods {
		m(tx)
	}
	return tx
}

func signWith(t testing.TB, signer types.Signer, key *ecdsa.PrivateKey, data types.TxData) *types.Transaction {
	t.Helper()
	tx, err := types.SignTx(types.NewTx(data), signer, key)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func sign(t testing.TB, key *ecdsa.PrivateKey, data types.TxData) *types.Transaction {
	t.Helper()
	return signWith(t, testSigner, key, data)
}

// tampered signs data and lets f alter the 65-byte [R || S || V] signature.
func tampered(t testing.TB, key *ecdsa.PrivateKey, data types.TxData, f func(sig []byte)) *types.Transaction {
	t.Helper()
	tx := types.NewTx(data)
	h := testSigner.Hash(tx)
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		t.Fatal(err)
	}
	f(sig)
	tx, err = tx.WithSignature(testSigner, sig)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func hashes(txs []*types.Transaction) []common.Hash {
	out := make([]common.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

// sybils makes a new head on which mallory is a member with no balance
// vouching for n accounts, also without balance, and returns their keys:
// mallory first.
func (e *env) sybils(t testing.TB, n int) []*ecdsa.PrivateKey {
	t.Helper()
	keys := []*ecdsa.PrivateKey{testKey(200)}
	for i := 0; i < n; i++ {
		keys = append(keys, testKey(201+i))
	}
	e.chain.advance(t, func(st *state.StateDB) {
		membership.AddMember(st, addrOf(keys[0]))
		for _, k := range keys[1:] {
			membership.Allow(st, addrOf(k), addrOf(keys[0]))
		}
		st.SetNonce(membership.Address, 1, tracing.NonceChangeUnspecified)
	})
	return keys
}

// withData returns a legacy transaction to the recipient at price 0 with n
// bytes of non-zero calldata and the gas it needs.
func withData(nonce uint64, n int) types.TxData {
	data := make([]byte, n)
	for i := range data {
		data[i] = 0xab
	}
	return legacy(nonce, 0, func(tx *types.LegacyTx) {
		tx.Data, tx.Gas = data, 21000+16*uint64(n)
	})
}

// mustAdd adds txs and fails on the first refusal.
func mustAdd(t testing.TB, p *Pool, txs ...*types.Transaction) {
	t.Helper()
	for i, tx := range txs {
		if err := p.Add(tx); err != nil {
			t.Fatalf("add %d (nonce %d): %v", i, tx.Nonce(), err)
		}
	}
}

// pooled fails the test unless each of txs is pooled.
func pooled(t testing.TB, p *Pool, what string, txs ...*types.Transaction) {
	t.Helper()
	for i, tx := range txs {
		if !p.Has(tx.Hash()) {
			t.Errorf("%s %d (nonce %d): have not pooled, want pooled", what, i, tx.Nonce())
		}
	}
}
