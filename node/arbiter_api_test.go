package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/rpc"
)

// startPosCluster starts n proof-of-stake members in this process, each
// with JSON-RPC on a free loopback port, dialling the ones started before
// it; edit adjusts the genesis first.
func startPosCluster(t *testing.T, n int, edit func(*genesis.Genesis)) ([]*Node, []*ecdsa.PrivateKey) {
	t.Helper()
	return startPosClusterWith(t, n, edit, nil)
}

// startPosClusterWith is startPosCluster with each member's Config
// adjusted by cfg (member index from 0) before it starts.
func startPosClusterWith(t *testing.T, n int, edit func(*genesis.Genesis), cfg func(int, *Config)) ([]*Node, []*ecdsa.PrivateKey) {
	t.Helper()
	g, keys, err := TestnetGenesis(n, genesis.EnginePoS, 0, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(g)
	}
	var nodes []*Node
	var peers []string
	for i, key := range keys {
		dir := filepath.Join(t.TempDir(), "m")
		if _, err := Init(dir, g); err != nil {
			t.Fatal(err)
		}
		c := Config{DataDir: dir, Key: key, RPCAddr: "127.0.0.1:0", Mine: true,
			P2PListen: []string{"/ip4/127.0.0.1/tcp/0"}, Peers: peers,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if cfg != nil {
			cfg(i, &c)
		}
		nd, err := New(c)
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		if err := nd.Start(); err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
		for _, a := range nd.P2P().Addrs() {
			peers = append(peers, a.String())
		}
	}
	return nodes, keys
}

// TestArbiterNamespace runs two proof-of-stake members in this process,
// connected over loopback, and reads the arbiter_ namespace of member 1
// through go-ethereum's rpc client: status, validators, members, vouched
// accounts (one from genesis, one vouched by a transaction), peers, recent
// blocks and round timings.
func TestArbiterNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	fromGenesis, vouched := memberKey(500), memberKey(501)
	nodes, keys := startPosCluster(t, 2, func(g *genesis.Genesis) {
		g.Allowed = append(g.Allowed, genesis.Allowance{Account: crypto.PubkeyToAddress(fromGenesis.PublicKey), By: g.Members[1].Address})
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := gethrpc.DialContext(ctx, "http://"+nodes[0].RPCAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	eth := ethclient.NewClient(rc)

	// A member vouches for a second account by transaction.
	parsed, err := abi.JSON(bytes.NewReader(membership.ABIJSON))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := parsed.Pack("allowAccount", crypto.PubkeyToAddress(vouched.PublicKey))
	signer := types.LatestSignerForChainID(big.NewInt(TestnetChainID))
	to := membership.Address
	tx := types.MustSignNewTx(keys[0], signer, &types.DynamicFeeTx{ChainID: big.NewInt(TestnetChainID), Nonce: 0, To: &to, Gas: 200_000, GasTipCap: new(big.Int), GasFeeCap: new(big.Int), Data: data})
	if err := eth.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if r := waitReceipt(ctx, t, eth, tx.Hash()); r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("allowAccount: status %d", r.Status)
	}

	var st rpc.Status
	for {
		if err := rc.CallContext(ctx, &st, "arbiter_status"); err != nil {
			t.Fatalf("arbiter_status: %v", err)
		}
		if st.Peers == 1 && st.Final != nil && st.Final.Number >= 3 && st.Consensus != nil && len(st.Consensus.Rounds) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("arbiter_status never showed a peer, a final height of 3 and a finished round: %+v", st)
		case <-time.After(100 * time.Millisecond):
		}
	}
	self := crypto.PubkeyToAddress(keys[0].PublicKey)
	if st.Engine != "pos" || st.ChainID != TestnetChainID || st.Self == nil || st.Self.Address != self || st.Self.Name != "member1" {
		t.Errorf("status: have engine %q chain %d self %+v, want pos %d member1 %s", st.Engine, st.ChainID, st.Self, TestnetChainID, self)
	}
	if st.Head.Number < st.Final.Number || st.FinalityLag != st.Head.Number-st.Final.Number {
		t.Errorf("status: head %d final %d lag %d", st.Head.Number, st.Final.Number, st.FinalityLag)
	}
	if p := nodes[0].chain.Genesis().StakingParams(); st.Staking == nil || st.Staking.EpochLength != p.EpochLength ||
		st.Staking.UnbondingDelay != p.UnbondingDelay || st.Staking.MinStake.ToInt().Cmp(p.MinStake.ToBig()) != 0 {
		t.Errorf("status: staking %+v, want genesis's %+v", st.Staking, p)
	}
	if c := st.Consensus; c.Height < st.Final.Number || c.Step == "" {
		t.Errorf("consensus: have height %d step %q, want at least %d and a step", c.Height, c.Step, st.Final.Number)
	}

	var vals []rpc.Validator
	if err := rc.CallContext(ctx, &vals, "arbiter_validators", "latest"); err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2 {
		t.Fatalf("validators: have %d, want 2: %+v", len(vals), vals)
	}
	for _, v := range vals {
		if !v.Active || v.Power == 0 || v.Stake.ToInt().Cmp(new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))) != 0 || v.Name == "" {
			t.Errorf("validator %+v: want active, 1000 ether staked, named", v)
		}
	}

	var members []rpc.Member
	if err := rc.CallContext(ctx, &members, "arbiter_members"); err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 || members[0].Name != "member1" || members[1].Name != "member2" {
		t.Errorf("members: have %+v, want member1 and member2", members)
	}

	var accounts []rpc.Account
	if err := rc.CallContext(ctx, &accounts, "arbiter_accounts", "latest"); err != nil {
		t.Fatal(err)
	}
	want := map[common.Address]string{
		crypto.PubkeyToAddress(fromGenesis.PublicKey): "member2",
		crypto.PubkeyToAddress(vouched.PublicKey):     "member1",
	}
	if len(accounts) != len(want) {
		t.Fatalf("accounts: have %+v, want %d", accounts, len(want))
	}
	for _, a := range accounts {
		if want[a.Account] != a.ByName || !a.Allowed {
			t.Errorf("account %s: have voucher %q allowed %v, want %q and true", a.Account, a.ByName, a.Allowed, want[a.Account])
		}
	}

	var ps []rpc.Peer
	if err := rc.CallContext(ctx, &ps, "arbiter_peers"); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Member != crypto.PubkeyToAddress(keys[1].PublicKey) || ps[0].Name != "member2" || ps[0].Connected == 0 || len(ps[0].Addrs) == 0 {
		t.Errorf("peers: have %+v, want member2 with an address and a connection time", ps)
	}

	var blocks []rpc.RecentBlock
	if err := rc.CallContext(ctx, &blocks, "arbiter_blocks", 3); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || blocks[0].Number <= blocks[2].Number {
		t.Fatalf("blocks: have %+v, want the newest 3, newest first", blocks)
	}
	for _, b := range blocks {
		if b.Number > 0 && b.Name == "" {
			t.Errorf("block %d: proposer %s has no member name", b.Number, b.Proposer)
		}
	}
	for _, n := range []int{0, rpc.MaxRecentBlocks + 1} {
		err := rc.CallContext(ctx, &blocks, "arbiter_blocks", n)
		var rerr gethrpc.Error
		if !errors.As(err, &rerr) || rerr.ErrorCode() != -32602 {
			t.Errorf("arbiter_blocks(%d): have %v, want an invalid-params error", n, err)
		}
	}

	var rounds []rpc.RoundTiming
	if err := rc.CallContext(ctx, &rounds, "arbiter_rounds"); err != nil {
		t.Fatal(err)
	}
	decided := 0
	for _, r := range rounds {
		if r.Decided {
			decided++
		}
	}
	if decided == 0 {
		t.Errorf("rounds: have %+v, want a decided round", rounds)
	}
}
