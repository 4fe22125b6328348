package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/rules"
)

const testChainID = 9191

func memberKey(i int) *ecdsa.PrivateKey {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("node test member %d", i))))
	return k
}

// startNode initialises a data directory for a network of members funded
// members plus one funded outsider, and starts member 0 mining with RPC on
// a free loopback port.
func startNode(t *testing.T, members int) (*Node, *ethclient.Client, *ecdsa.PrivateKey) {
	t.Helper()
	g := &genesis.Genesis{
		ChainID: testChainID, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc:     map[common.Address]genesis.Account{},
		Contracts: []string{"membership", "chess"},
	}
	fund := (*math.HexOrDecimal256)(new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
	for i := 0; i < members; i++ {
		a := crypto.PubkeyToAddress(memberKey(i).PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i)})
		g.Alloc[a] = genesis.Account{Balance: fund}
	}
	outsider := memberKey(1000)
	g.Alloc[crypto.PubkeyToAddress(outsider.PublicKey)] = genesis.Account{Balance: fund}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Init(dir, g); err != nil {
		t.Fatalf("init: %v", err)
	}
	n, err := New(Config{DataDir: dir, Key: memberKey(0), RPCAddr: "127.0.0.1:0", Mine: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	client, err := ethclient.Dial("http://" + n.RPCAddr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(client.Close)
	return n, client, outsider
}

// TestTransfersThroughEthclient sends 1,000 signed transfers from several
// members through go-ethereum's ethclient, unchanged, waits for every
// receipt and checks the balances to the wei. Then it checks that replayed,
// wrong-chain, badly signed, non-member and underfunded transactions are
// each refused with their own error.
func TestTransfersThroughEthclient(t *testing.T) {
	const members, perMember = 4, 250
	_, client, outsider := startNode(t, members)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	chainID, err := client.ChainID(ctx)
	if err != nil || chainID.Int64() != testChainID {
		t.Fatalf("chain id: have %v (%v), want %d", chainID, err, testChainID)
	}
	signer := types.LatestSignerForChainID(chainID)
	recipient := func(i int) common.Address { return common.BigToAddress(big.NewInt(int64(5000 + i%37))) }
	gasPrice := big.NewInt(2)

	var hashes []common.Hash
	want := map[common.Address]*big.Int{}
	for m := 0; m < members; m++ {
		key := memberKey(m)
		from := crypto.PubkeyToAddress(key.PublicKey)
		nonce, err := client.PendingNonceAt(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perMember; i++ {
			to := recipient(m*perMember + i)
			value := big.NewInt(int64(1 + i))
			var tx *types.Transaction
			if i%2 == 0 { // wallets send both kinds
				tx = types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: nonce + uint64(i), To: &to, Value: value, Gas: 21000, GasPrice: gasPrice})
			} else {
				tx = types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce + uint64(i), To: &to, Value: value, Gas: 21000, GasFeeCap: gasPrice, GasTipCap: gasPrice})
			}
			if err := client.SendTransaction(ctx, tx); err != nil {
				t.Fatalf("send %d/%d: %v", m, i, err)
			}
			hashes = append(hashes, tx.Hash())
			if want[to] == nil {
				want[to] = new(big.Int)
			}
			want[to].Add(want[to], value)
		}
	}
	for _, h := range hashes {
		r := waitReceipt(ctx, t, client, h)
		if r.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("tx %x: status %d", h, r.Status)
		}
	}
	for addr, w := range want {
		have, err := client.BalanceAt(ctx, addr, nil)
		if err != nil || have.Cmp(w) != 0 {
			t.Fatalf("balance %s: have %v (%v), want %v", addr, have, err, w)
		}
	}
	// Members 1..3 paid 250 transfers of value plus 21000*2 gas each;
	// member 0 mined every block and received every fee.
	for m := 1; m < members; m++ {
		from := crypto.PubkeyToAddress(memberKey(m).PublicKey)
		w := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
		w.Sub(w, big.NewInt(perMember*(perMember+1)/2))
		w.Sub(w, big.NewInt(perMember*21000*2))
		if have, _ := client.BalanceAt(ctx, from, nil); have.Cmp(w) != 0 {
			t.Fatalf("member %d balance: have %v, want %v", m, have, w)
		}
	}

	// Refusals, each with its own error.
	key := memberKey(1)
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, _ := client.PendingNonceAt(ctx, from)
	to := common.Address{0x42}
	included, _, err := client.TransactionByHash(ctx, hashes[len(hashes)-1])
	if err != nil {
		t.Fatal(err)
	}
	highS := func() *types.Transaction {
		tx := types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: gasPrice})
		v, r, _ := tx.RawSignatureValues()
		n := crypto.S256().Params().N
		s := new(big.Int).Sub(n, big.NewInt(1)) // above N/2: invalid
		sig := append(append(common.LeftPadBytes(r.Bytes(), 32), common.LeftPadBytes(s.Bytes(), 32)...), byte(new(big.Int).Sub(v, big.NewInt(testChainID*2+35)).Uint64()))
		bad, err := tx.WithSignature(signer, sig)
		if err != nil {
			t.Fatal(err)
		}
		return bad
	}
	tests := []struct {
		name string
		tx   *types.Transaction
		want error
	}{
		{"replayed", included, rules.ErrNonceTooLow},
		{"wrong chain", types.MustSignNewTx(key, types.LatestSignerForChainID(big.NewInt(1)), &types.LegacyTx{Nonce: nonce, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: gasPrice}), rules.ErrWrongChain},
		{"badly signed", highS(), rules.ErrBadSignature},
		{"non-member", types.MustSignNewTx(outsider, signer, &types.LegacyTx{Nonce: 0, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: gasPrice}), rules.ErrNotAllowed},
		{"underfunded", types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: new(big.Int).Mul(big.NewInt(2000), big.NewInt(1e18)), Gas: 21000, GasPrice: gasPrice}), rules.ErrInsufficientFunds},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := client.SendTransaction(ctx, tt.tx)
			if err == nil {
				t.Fatalf("have nil, want %v", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want.Error()) {
				t.Fatalf("have %q, want it to contain %q", err, tt.want)
			}
			if other, dup := seen[tt.want.Error()]; dup {
				t.Fatalf("same error as %s", other)
			}
			seen[tt.want.Error()] = tt.name
		})
	}
	if n, _ := client.PendingNonceAt(ctx, from); n != nonce {
		t.Fatalf("a refused transaction changed the pending nonce: have %d, want %d", n, nonce)
	}
}

func waitReceipt(ctx context.Context, t *testing.T, c *ethclient.Client, h common.Hash) *types.Receipt {
	t.Helper()
	for {
		r, err := c.TransactionReceipt(ctx, h)
		if err == nil && r != nil {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no receipt for %x: %v", h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSubscriptionsAndCalls checks WebSocket subscriptions, eth_call and
// eth_estimateGas against a live node.
func TestSubscriptionsAndCalls(t *testing.T) {
	n, client, _ := startNode(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := ethclient.Dial("ws://" + n.RPCAddr().String() + "/ws")
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	defer ws.Close()
	heads := make(chan *types.Header, 16)
	sub, err := ws.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Unsubscribe()
	var first *types.Header
	select {
	case first = <-heads:
	case err := <-sub.Err():
		t.Fatalf("subscription: %v", err)
	case <-ctx.Done():
		t.Fatal("no new head within 30s")
	}
	resp, err := http.Get("http://" + n.RPCAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"arbiter_chain_head_number", "arbiter_txpool_executable", "arbiter_chain_finality_lag_blocks", "arbiter_chain_state_writes_total", "arbiter_chain_state_unwritten_bytes"} {
		if !strings.Contains(string(body), m) {
			t.Fatalf("/metrics lacks %s", m)
		}
	}
	got, err := client.HeaderByHash(ctx, first.Hash())
	if err != nil || got.Hash() != first.Hash() {
		t.Fatalf("pushed head %x not served by eth_getBlockByHash: %v", first.Hash(), err)
	}
	from := crypto.PubkeyToAddress(memberKey(1).PublicKey)
	to := common.Address{7}
	gas, err := client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Value: big.NewInt(1)})
	if err != nil || gas != 21000 {
		t.Fatalf("estimate transfer: have %d (%v), want 21000", gas, err)
	}
	out, err := client.CallContract(ctx, ethereum.CallMsg{From: from, To: &to, Value: big.NewInt(1)}, nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("call transfer: have %x (%v), want empty", out, err)
	}
}

// TestMembershipThroughTransactions vouches for an outsider through the
// membership contract, lets it send, revokes it and checks the pool then
// refuses it; a non-member's propose reverts with a reason ethclient shows.
func TestMembershipThroughTransactions(t *testing.T) {
	_, client, outsider := startNode(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	parsed, err := abi.JSON(bytes.NewReader(membership.ABIJSON))
	if err != nil {
		t.Fatal(err)
	}
	chainID := big.NewInt(testChainID)
	signer := types.LatestSignerForChainID(chainID)
	member := memberKey(0)
	memberAddr := crypto.PubkeyToAddress(member.PublicKey)
	out := crypto.PubkeyToAddress(outsider.PublicKey)
	contract := membership.Address
	send := func(key *ecdsa.PrivateKey, to common.Address, data []byte, gas uint64) *types.Receipt {
		t.Helper()
		from := crypto.PubkeyToAddress(key.PublicKey)
		nonce, err := client.PendingNonceAt(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, To: &to, Gas: gas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1), Data: data})
		if err := client.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("send: %v", err)
		}
		return waitReceipt(ctx, t, client, tx.Hash())
	}
	isAllowed := func() bool {
		t.Helper()
		data, _ := parsed.Pack("isAllowed", out)
		res, err := client.CallContract(ctx, ethereum.CallMsg{From: memberAddr, To: &contract, Data: data}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := parsed.Unpack("isAllowed", res)
		if err != nil {
			t.Fatal(err)
		}
		return v[0].(bool)
	}
	transfer := func() error {
		to := common.Address{0x77}
		tx := types.MustSignNewTx(outsider, signer, &types.LegacyTx{Nonce: 0, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: big.NewInt(1)})
		return client.SendTransaction(ctx, tx)
	}

	if err := transfer(); err == nil || !strings.Contains(err.Error(), rules.ErrNotAllowed.Error()) {
		t.Fatalf("outsider before vouching: have %v, want %v", err, rules.ErrNotAllowed)
	}
	data, _ := parsed.Pack("allowAccount", out)
	if r := send(member, contract, data, 200_000); r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		t.Fatalf("allowAccount: status %d, %d logs", r.Status, len(r.Logs))
	}
	if !isAllowed() {
		t.Fatal("isAllowed after allowAccount: have false, want true")
	}
	r := send(outsider, common.Address{0x77}, nil, 21000)
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("vouched transfer: status %d", r.Status)
	}
	data, _ = parsed.Pack("revokeAccount", out)
	if r := send(member, contract, data, 200_000); r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("revokeAccount: status %d", r.Status)
	}
	if isAllowed() {
		t.Fatal("isAllowed after revokeAccount: have true, want false")
	}
	to := common.Address{0x77}
	tx := types.MustSignNewTx(outsider, signer, &types.LegacyTx{Nonce: 1, To: &to, Value: big.NewInt(1), Gas: 21000, GasPrice: big.NewInt(1)})
	if err := client.SendTransaction(ctx, tx); err == nil || !strings.Contains(err.Error(), rules.ErrNotAllowed.Error()) {
		t.Fatalf("revoked account: have %v, want %v", err, rules.ErrNotAllowed)
	}

	// A non-member's proposal reverts; ethclient surfaces the reason.
	data, _ = parsed.Pack("propose", common.Address{0x99}, true)
	_, err = client.CallContract(ctx, ethereum.CallMsg{From: out, To: &contract, Data: data, Gas: 200_000}, nil)
	if err == nil || !strings.Contains(err.Error(), "execution reverted: ") {
		t.Fatalf("propose by non-member: have %v, want a revert with a reason", err)
	}
	t.Logf("non-member propose: %v", err)
}
