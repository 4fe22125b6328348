package rpc

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"
)

// Test chain constants.
var (
	testChainID  = big.NewInt(4242)
	testBaseFee  = big.NewInt(params.GWei)
	testGasLimit = uint64(30_000_000)
	// contractAddr emits the test logs; revertAddr always reverts in Call.
	contractAddr = common.HexToAddress("0x00000000000000000000000000000000000c0de1")
	revertAddr   = common.HexToAddress("0x000000000000000000000000000000000000dead")
	refundAddr   = common.HexToAddress("0x000000000000000000000000000000000000f00d")
	topicA       = common.HexToHash("0xaaaa")
	topicB       = common.HexToHash("0xbbbb")
	topicC       = common.HexToHash("0xcccc")
	storageSlot  = common.HexToHash("0x01")
	storageValue = common.HexToHash("0x1234")
	revertData   = []byte{0x08, 0xc3, 0x79, 0xa0, 0x01, 0x02}
)

// callGas is the gas the fake's Call needs for data.
func callGas(data []byte) uint64 { return 30_000 + uint64(len(data))*100 }

// fakeChain is a small in-memory ledger of real go-ethereum blocks,
// receipts and states.
type fakeChain struct {
	cfg *params.ChainConfig
	db  state.Database

	mu        sync.RWMutex
	blocks    []*types.Block // canonical, by number
	byHash    map[common.Hash]*types.Block
	receipts  map[common.Hash]types.Receipts
	txs       map[common.Hash]txEntry
	finalized *types.Header
	side      *types.Block // stored, not canonical

	headFeed event.Feed
	logFeed  event.Feed

	receiptReads atomic.Int64 // GetReceipts calls
}

type txEntry struct {
	blockHash common.Hash
	number    uint64
	index     uint64
}

func (c *fakeChain) Config() *params.ChainConfig { return c.cfg }

func (c *fakeChain) CurrentHeader() *types.Header {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.blocks[len(c.blocks)-1].Header()
}

func (c *fakeChain) FinalizedHeader() *types.Header {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.finalized
}

func (c *fakeChain) GetHeaderByNumber(n uint64) *types.Header {
	if b := c.GetBlockByNumber(n); b != nil {
		return b.Header()
	}
	return nil
}

func (c *fakeChain) GetHeaderByHash(h common.Hash) *types.Header {
	if b := c.GetBlockByHash(h); b != nil {
		return b.Header()
	}
	return nil
}

func (c *fakeChain) GetBlockByNumber(n uint64) *types.Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if n >= uint64(len(c.blocks)) {
		return nil
	}
	return c.blocks[n]
}

func (c *fakeChain) GetBlockByHash(h common.Hash) *types.Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byHash[h]
}

func (c *fakeChain) GetReceipts(h common.Hash) (types.Receipts, error) {
	c.receiptReads.Add(1)
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.receipts[h]
	if !ok {
		return nil, errors.New("no receipts")
	}
	return r, nil
}

func (c *fakeChain) GetTransaction(h common.Hash) (*types.Transaction, common.Hash, uint64, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.txs[h]
	if !ok {
		return nil, common.Hash{}, 0, 0, false
	}
	return c.byHash[e.blockHash].Transactions()[e.index], e.blockHash, e.number, e.index, true
}

func (c *fakeChain) StateAt(root common.Hash) (*state.StateDB, error) { return state.New(root, c.db) }

// revertError is what Chain.Call returns for a revert.
type revertError struct{ data []byte }

func (e revertError) Error() string  { return "execution reverted" }
func (e revertError) ErrorCode() int { return 3 }
func (e revertError) ErrorData() any { return hexutil.Encode(e.data) }

// refundExtra is the gas a call to refundAddr needs beyond what it reports
// as used, as with a refund.
const refundExtra = 10_000

// Call returns the block number (32 bytes) followed by the call data; it
// needs callGas(data) gas and reverts for revertAddr. A call to refundAddr
// needs refundExtra more gas than it reports used.
func (c *fakeChain) Call(_ context.Context, msg CallMsg, h *types.Header) ([]byte, uint64, error) {
	if msg.To != nil && *msg.To == revertAddr {
		return nil, 23_000, revertError{revertData}
	}
	need, used := callGas(msg.Data), callGas(msg.Data)
	if msg.To != nil && *msg.To == refundAddr {
		need += refundExtra
	}
	if msg.Gas < need {
		return nil, msg.Gas, errors.New("out of gas")
	}
	return append(common.BigToHash(h.Number).Bytes(), msg.Data...), used, nil
}

func (c *fakeChain) SubscribeNewHeads(ch chan<- *types.Header) event.Subscription {
	return c.headFeed.Subscribe(ch)
}

func (c *fakeChain) SubscribeLogs(ch chan<- []*types.Log) event.Subscription {
	return c.logFeed.Subscribe(ch)
}

// fakePool records added transactions; err, when set, refuses them.
type fakePool struct {
	mu     sync.Mutex
	txs    map[common.Hash]*types.Transaction
	nonces map[common.Address]uint64
	err    error
	hold   chan struct{} // if set, Submit waits until it is closed, then fails
	panic  bool          // Submit panics
}

func newFakePool() *fakePool {
	return &fakePool{txs: map[common.Hash]*types.Transaction{}, nonces: map[common.Address]uint64{}}
}

func (p *fakePool) Submit(ctx context.Context, tx *types.Transaction) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.panic {
		panic("fake pool told to panic")
	}
	if hold := p.hold; hold != nil {
		// Past any request timeout: the answer must not depend on how
		// soon the method returns once its context ends.
		p.mu.Unlock()
		<-hold
		p.mu.Lock()
		return errors.New("fake pool held the transaction")
	}
	if p.err != nil {
		return p.err
	}
	p.txs[tx.Hash()] = tx
	return nil
}

func (p *fakePool) PendingNonce(a common.Address) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nonces[a]
}

func (p *fakePool) Get(h common.Hash) *types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txs[h]
}

func (p *fakePool) setErr(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
}

type fixedPeers int

func (n fixedPeers) PeerCount() int { return int(n) }

// testEnv is a served fake chain with clients.
type testEnv struct {
	chain    *fakeChain
	pool     *fakePool
	srv      *Server
	registry *prometheus.Registry
	http     *httptest.Server
	client   *ethclient.Client // over HTTP
	raw      *gethrpc.Client   // over HTTP
	key1     *ecdsa.PrivateKey
	key2     *ecdsa.PrivateKey
	addr1    common.Address
	addr2    common.Address
	txs      []*types.Transaction // mined, in order: block 1 (two), block 3 (one)
	signer   types.Signer
}

func (e *testEnv) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(e.http.URL, "http") + path
}

// newTestEnv builds a chain: genesis funding two keys, block 1 with a
// legacy transfer and a dynamic-fee call that logs (topicA, topicB), an
// empty block 2 (finalized), block 3 with a call logging (topicC), and a
// stored but non-canonical sibling of block 2.
func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	chainCfg := &params.ChainConfig{
		ChainID: testChainID, HomesteadBlock: big.NewInt(0), EIP150Block: big.NewInt(0),
		EIP155Block: big.NewInt(0), EIP158Block: big.NewInt(0), ByzantiumBlock: big.NewInt(0),
		ConstantinopleBlock: big.NewInt(0), PetersburgBlock: big.NewInt(0), IstanbulBlock: big.NewInt(0),
		BerlinBlock: big.NewInt(0), LondonBlock: big.NewInt(0),
	}
	e := &testEnv{
		chain: &fakeChain{
			cfg: chainCfg, db: state.NewDatabaseForTesting(),
			byHash: map[common.Hash]*types.Block{}, receipts: map[common.Hash]types.Receipts{}, txs: map[common.Hash]txEntry{},
		},
		pool:   newFakePool(),
		signer: types.LatestSignerForChainID(testChainID),
	}
	var err error
	if e.key1, err = crypto.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	if e.key2, err = crypto.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	e.addr1, e.addr2 = crypto.PubkeyToAddress(e.key1.PublicKey), crypto.PubkeyToAddress(e.key2.PublicKey)

	st, err := state.New(types.EmptyRootHash, e.chain.db)
	if err != nil {
		t.Fatal(err)
	}
	st.AddBalance(e.addr1, new(uint256.Int).Mul(uint256.NewInt(1000), uint256.NewInt(params.Ether)), tracing.BalanceChangeUnspecified)
	st.AddBalance(e.addr2, uint256.NewInt(5*params.Ether), tracing.BalanceChangeUnspecified)
	st.SetNonce(contractAddr, 1, tracing.NonceChangeUnspecified) // not empty, so EIP-158 keeps it
	st.SetState(contractAddr, storageSlot, storageValue)
	e.addBlock(t, st, nil, nil)

	sign := func(key *ecdsa.PrivateKey, data types.TxData) *types.Transaction {
		tx, err := types.SignNewTx(key, e.signer, data)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	tx1 := sign(e.key1, &types.LegacyTx{Nonce: 0, To: &e.addr2, Value: big.NewInt(params.Ether), Gas: 21000, GasPrice: big.NewInt(3 * params.GWei)})
	tx2 := sign(e.key1, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 1, To: &contractAddr, Gas: 50_000,
		GasTipCap: big.NewInt(2 * params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: []byte{1, 2, 3}})
	tx3 := sign(e.key2, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 0, To: &contractAddr, Gas: 50_000,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(params.GWei + params.GWei/2)})
	e.txs = []*types.Transaction{tx1, tx2, tx3}

	e.addBlock(t, e.nextState(t), []*types.Transaction{tx1, tx2}, [][]*types.Log{nil, {
		{Address: contractAddr, Topics: []common.Hash{topicA, topicB}, Data: []byte{0xa}},
		{Address: contractAddr, Topics: []common.Hash{topicB}, Data: []byte{0xb}},
	}})
	e.addBlock(t, e.nextState(t), nil, nil)
	e.chain.finalized = e.chain.blocks[2].Header()
	e.addBlock(t, e.nextState(t), []*types.Transaction{tx3}, [][]*types.Log{{
		{Address: contractAddr, Topics: []common.Hash{topicC, topicA}, Data: []byte{0xc}},
	}})

	e.addSideBlock(t)

	if cfg.ClientVersion == "" {
		cfg.ClientVersion = "arbiter/test"
	}
	if cfg.GasPrice == nil {
		cfg.GasPrice = big.NewInt(params.GWei / 10)
	}
	if cfg.Registerer == nil {
		e.registry = prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = e.registry, e.registry
	}
	if e.srv, err = New(cfg, e.chain, e.pool); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	if e.raw, err = gethrpc.Dial(e.http.URL); err != nil {
		t.Fatal(err)
	}
	e.client = ethclient.NewClient(e.raw)
	t.Cleanup(func() {
		e.client.Close()
		e.srv.Close()
		e.http.Close()
	})
	return e
}

func (e *testEnv) nextState(t testing.TB) *state.StateDB {
	st, err := state.New(e.chain.blocks[len(e.chain.blocks)-1].Root(), e.chain.db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// addBlock applies txs to st (nonce, value and fee at the effective price;
// gas used is the intrinsic 21000 for transfers, callGas for calls), makes
// the block with the given logs and stores it as the new head.
func (e *testEnv) addBlock(t testing.TB, st *state.StateDB, txs []*types.Transaction, logs [][]*types.Log) {
	t.Helper()
	c := e.chain
	number := uint64(len(c.blocks))
	var receipts types.Receipts
	var cum uint64
	for i, tx := range txs {
		from, err := types.Sender(e.signer, tx)
		if err != nil {
			t.Fatal(err)
		}
		gas := uint64(21000)
		if len(logs[i]) > 0 {
			gas = callGas(tx.Data())
		}
		cum += gas
		fee := new(big.Int).Mul(new(big.Int).SetUint64(gas), effectiveGasPrice(tx, testBaseFee))
		st.SubBalance(from, uint256.MustFromBig(new(big.Int).Add(fee, tx.Value())), tracing.BalanceChangeUnspecified)
		st.AddBalance(*tx.To(), uint256.MustFromBig(tx.Value()), tracing.BalanceChangeUnspecified)
		st.SetNonce(from, tx.Nonce()+1, tracing.NonceChangeUnspecified)
		r := &types.Receipt{Type: tx.Type(), Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: cum, TxHash: tx.Hash(), Logs: logs[i]}
		r.Bloom = types.CreateBloom(r)
		receipts = append(receipts, r)
	}
	root, err := st.Commit(c.cfg.Rules(new(big.Int).SetUint64(number), true, 0), number)
	if err != nil {
		t.Fatal(err)
	}
	parent := common.Hash{}
	if number > 0 {
		parent = c.blocks[number-1].Hash()
	}
	header := &types.Header{
		ParentHash: parent, Number: new(big.Int).SetUint64(number), GasLimit: testGasLimit, GasUsed: cum,
		Time: 1_700_000_000 + number*5, Root: root, BaseFee: testBaseFee, Difficulty: new(big.Int),
		Extra: []byte("arbiter"),
	}
	block := types.NewBlock(header, &types.Body{Transactions: txs}, receipts, trie.NewStackTrie(nil))
	if err := receipts.DeriveFields(c.cfg, block.Hash(), number, block.Time(), testBaseFee, nil, txs); err != nil {
		t.Fatal(err)
	}
	if receipts == nil {
		receipts = types.Receipts{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks = append(c.blocks, block)
	c.byHash[block.Hash()] = block
	c.receipts[block.Hash()] = receipts
	for i, tx := range txs {
		c.txs[tx.Hash()] = txEntry{block.Hash(), number, uint64(i)}
	}
}

// addSideBlock stores a sibling of block 2 that is not canonical.
func (e *testEnv) addSideBlock(t testing.TB) *types.Block {
	t.Helper()
	c := e.chain
	h := types.CopyHeader(c.blocks[2].Header())
	h.Extra = []byte("side")
	b := types.NewBlock(h, nil, nil, trie.NewStackTrie(nil))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash[b.Hash()] = b
	c.receipts[b.Hash()] = types.Receipts{}
	c.side = b
	return b
}
