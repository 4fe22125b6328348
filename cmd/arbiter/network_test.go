package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/txpool"
)

// The multi-process tier of the network tests: real `arbiter node`
// processes talking libp2p over the loopback (node/p2p tests the same code
// in one process).

// loadKeyFile reads a member key written by `arbiter testnet`.
func loadKeyFile(t *testing.T, file string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.LoadECDSA(file)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedTransfer signs a plain value transfer.
func signedTransfer(key *ecdsa.PrivateKey, chainID uint64, nonce uint64, to common.Address, value int64) *types.Transaction {
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(chainID))
	return types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: nonce, To: &to, Value: big.NewInt(value), Gas: 21000, GasPrice: big.NewInt(1)})
}

// hasReceipt reports whether p has a receipt for h, and returns it.
func hasReceipt(ctx context.Context, p *arbProc, h common.Hash) (*types.Receipt, bool) {
	r, err := p.eth.TransactionReceipt(ctx, h)
	return r, err == nil && r != nil
}

// waitConverged polls until every node has the same canonical block at
// min(heads)-confirmations, at least minHeight, and returns it.
func waitConverged(t *testing.T, nodes []*arbProc, minHeight, confirmations uint64, timeout time.Duration) *rpcBlock {
	t.Helper()
	var agreed *rpcBlock
	pollUntil(t, "nodes agree on a block", timeout, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		hs, err := headNumbers(ctx, nodes)
		if err != nil {
			return false, "", err
		}
		low := slices.Min(hs)
		if low < minHeight+confirmations {
			return false, fmt.Sprintf("heads %v", hs), nil
		}
		b, ok, err := agreeAt(ctx, nodes, low-confirmations)
		if err != nil {
			return false, "", err
		}
		agreed = b
		return ok, fmt.Sprintf("heads %v, no agreement at %d", hs, low-confirmations), nil
	})
	return agreed
}

// TestPoWNetworkConverges runs a four-member PoW network as four processes
// that find each other through the multiaddrs in genesis. All four must
// agree on a block at height 5 or more, and 20 transfers, sent round-robin
// to the four nodes with each sender's consecutive nonces going to
// different nodes, must each be included exactly once on every node.
func TestPoWNetworkConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	start := time.Now()
	dir, nodes := startTestnet(t, 4, genesis.EnginePoW)
	b := waitConverged(t, nodes, 5, 2, 60*time.Second)
	t.Logf("4 nodes agree on block %d %s after %v", b.Number, b.Hash, time.Since(start).Round(time.Millisecond))

	// arbiter node keeps the client backlog on unless told otherwise: the
	// gauge shows at least its floor (0 would mean off).
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		backlog, err := scrapeMetric(ctx, nodes[0], "arbiter_txpool_backlog")
		cancel()
		if err != nil || backlog < txpool.DefaultMinBacklog {
			t.Fatalf("arbiter_txpool_backlog of a node started without --client-backlog: have %v (%v), want at least %d", backlog, err, txpool.DefaultMinBacklog)
		}
	}

	g, err := genesis.Load(filepath.Join(dir, node.GenesisFile))
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]*ecdsa.PrivateKey, 4)
	for i := range keys {
		keys[i] = loadKeyFile(t, filepath.Join(dir, fmt.Sprintf("member%d", i+1), "key"))
	}
	var recipients []common.Address
	for i := range 5 {
		recipients = append(recipients, common.BytesToAddress(crypto.Keccak256([]byte(fmt.Sprintf("network test recipient %d %d", i, time.Now().UnixNano())))))
	}
	ctx := context.Background()
	nonce0 := make([]uint64, len(keys))
	for i, k := range keys {
		if nonce0[i], err = nodes[0].eth.NonceAt(ctx, crypto.PubkeyToAddress(k.PublicKey), nil); err != nil {
			t.Fatal(err)
		}
	}
	const txCount = 20
	want := map[common.Address]*big.Int{}
	var txs []*types.Transaction
	for j := range txCount {
		s, k := j%len(keys), uint64(j/len(keys))
		to := recipients[j%len(recipients)]
		tx := signedTransfer(keys[s], g.ChainID, nonce0[s]+k, to, int64(1000+j))
		via := nodes[(s+int(k))%len(nodes)]
		if err := via.eth.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("send tx %d to %s: %v", j, via.name, err)
		}
		txs = append(txs, tx)
		if want[to] == nil {
			want[to] = new(big.Int)
		}
		want[to].Add(want[to], tx.Value())
	}
	sent := time.Now()

	// Every receipt on every node, and balances and nonces as sent.
	pollUntil(t, "transfers included on every node", 60*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		for _, p := range nodes {
			for j, tx := range txs {
				if _, ok := hasReceipt(ctx, p, tx.Hash()); !ok {
					return false, fmt.Sprintf("%s has no receipt for tx %d", p.name, j), nil
				}
			}
			for to, w := range want {
				have, err := p.eth.BalanceAt(ctx, to, nil)
				if err != nil {
					return false, "", err
				}
				if have.Cmp(w) != 0 {
					return false, fmt.Sprintf("%s: balance of %s is %v, want %v", p.name, to, have, w), nil
				}
			}
			for i, k := range keys {
				n, err := p.eth.NonceAt(ctx, crypto.PubkeyToAddress(k.PublicKey), nil)
				if err != nil {
					return false, "", err
				}
				if w := nonce0[i] + txCount/uint64(len(keys)); n != w {
					return false, fmt.Sprintf("%s: nonce of member%d is %d, want %d", p.name, i+1, n, w), nil
				}
			}
		}
		return true, "", nil
	})
	t.Logf("%d transfers included on all 4 nodes %v after sending", txCount, time.Since(sent).Round(time.Millisecond))

	// Exactly once: every node's receipt names the same canonical block,
	// and on one branch (walked back from a head by parent hash, so a
	// reorg during the walk cannot mix branches) each hash occurs once.
	pollUntil(t, "receipts agree on every node", 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		for j, tx := range txs {
			var at common.Hash
			for _, p := range nodes {
				r, ok := hasReceipt(ctx, p, tx.Hash())
				if !ok {
					return false, fmt.Sprintf("%s has no receipt for tx %d", p.name, j), nil
				}
				if at != (common.Hash{}) && r.BlockHash != at {
					return false, fmt.Sprintf("tx %d: %s has it in block %s, another node in %s", j, p.name, r.BlockHash, at), nil
				}
				at = r.BlockHash
			}
		}
		return true, "", nil
	})
	head, err := nodes[0].eth.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err = blockAt(ctx, nodes[0], head)
	if err != nil || b == nil {
		t.Fatalf("head %d of %s: %v", head, nodes[0].name, err)
	}
	seen := map[common.Hash]int{}
	for b.Number > 0 {
		for _, h := range b.Transactions {
			seen[h]++
		}
		parent := b.ParentHash
		if err := nodes[0].rpc.CallContext(ctx, &b, "eth_getBlockByHash", parent, false); err != nil || b == nil {
			t.Fatalf("block %s on %s: %v", parent, nodes[0].name, err)
		}
	}
	for j, tx := range txs {
		if seen[tx.Hash()] != 1 {
			t.Errorf("tx %d %s occurs %d times on %s's chain, want once", j, tx.Hash(), seen[tx.Hash()], nodes[0].name)
		}
	}
}

// TestNonMemberRefused runs two PoW members and a third node with a fresh
// key (not a member) on the same genesis that dials both. Neither member
// may admit it: it stays without peers and at block 0 while the members
// mine and see only each other, both members log the refusal naming its
// address, a member's transaction sent through it never reaches the
// members' chain, and a transaction signed by its key is refused by the
// pool as not from a member.
func TestNonMemberRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir, members := startTestnet(t, 2, genesis.EnginePoW)
	g, err := genesis.Load(filepath.Join(dir, node.GenesisFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The members find each other and mine.
	for _, m := range members {
		if _, err := m.waitLine(regexp.MustCompile(`msg="peer connected"`), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, members, 2, 1, 30*time.Second)

	out := filepath.Join(t.TempDir(), "outsider")
	keyFile := filepath.Join(out, "key")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	addrOut, err := arbiterCommand(t, "keys", "new", "--out", keyFile).Output()
	if err != nil {
		t.Fatalf("keys new: %v", err)
	}
	outsiderAddr := common.HexToAddress(strings.TrimSpace(string(addrOut)))
	if o, err := arbiterCommand(t, "init", "--datadir", filepath.Join(out, "data"), "--genesis", filepath.Join(dir, node.GenesisFile)).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, o)
	}
	var peers []string
	for _, m := range g.Members {
		peers = append(peers, m.Multiaddr)
	}
	outsider := mustStartNode(t, "outsider", "--datadir", filepath.Join(out, "data"), "--key", keyFile,
		"--mine=false", "--peers", strings.Join(peers, ","), "--p2p", "/ip4/127.0.0.1/tcp/0", "--log-level", "debug")

	// Its own transaction is refused by the pool: it is not a member.
	outsiderKey := loadKeyFile(t, keyFile)
	own := signedTransfer(outsiderKey, g.ChainID, 0, common.HexToAddress("0x000000000000000000000000000000000000bEEF"), 1)
	for _, p := range []*arbProc{outsider, members[0]} {
		err := p.eth.SendTransaction(ctx, own)
		if err == nil || !strings.Contains(err.Error(), "not a member") {
			t.Errorf("outsider's own transaction through %s: have %v, want a \"not a member\" refusal", p.name, err)
		}
	}
	// A member's transaction sent through the outsider must not reach the
	// members.
	memberKey := loadKeyFile(t, filepath.Join(dir, "member1", "key"))
	memberAddr := crypto.PubkeyToAddress(memberKey.PublicKey)
	nonce, err := members[0].eth.NonceAt(ctx, memberAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	relayed := signedTransfer(memberKey, g.ChainID, nonce, common.HexToAddress("0x000000000000000000000000000000000000dEaD"), 7)
	if err := outsider.eth.SendTransaction(ctx, relayed); err != nil {
		t.Logf("outsider's pool refused the member's transaction: %v", err)
	} else if tx, _, err := outsider.eth.TransactionByHash(ctx, relayed.Hash()); err == nil && tx != nil {
		t.Logf("the member's transaction sits in the outsider's pool")
	}

	// Both members log the refusal of the outsider's address.
	for _, m := range members {
		re := regexp.MustCompile(`msg="p2p connection refused" .*address=` + outsiderAddr.Hex() + ` direction=inbound reason="not a member"`)
		if _, err := m.waitLine(re, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Observe for 5 s. The outsider's dials are refused by the members
	// after its side of the handshake completed, so it may count a member
	// as a peer for a moment (see the report on connectedness events); a
	// peer it keeps for longer than transientPeer was admitted.
	const transientPeer = 3 * time.Second
	hs, err := headNumbers(ctx, members)
	if err != nil {
		t.Fatal(err)
	}
	startHead := slices.Min(hs)
	var peeredSince time.Time
	transients := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := outsider.eth.BlockNumber(ctx); err != nil || n != 0 {
			t.Fatalf("outsider head: have %d (%v), want 0", n, err)
		}
		gauge, err := scrapeMetric(ctx, outsider, "arbiter_p2p_peers")
		if err != nil {
			t.Fatal(err)
		}
		count, err := netPeerCount(ctx, outsider)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case gauge == 0 && count == 0:
			peeredSince = time.Time{}
		case peeredSince.IsZero():
			peeredSince = time.Now()
			transients++
		case time.Since(peeredSince) > transientPeer:
			t.Fatalf("outsider has had peers for %v: arbiter_p2p_peers %v, net_peerCount %d, want 0", time.Since(peeredSince).Round(time.Millisecond), gauge, count)
		}
		for _, m := range members {
			if n, err := scrapeMetric(ctx, m, "arbiter_p2p_peers"); err != nil || n != 1 {
				t.Fatalf("%s arbiter_p2p_peers: have %v (%v), want 1 (the other member)", m.name, n, err)
			}
			if r, ok := hasReceipt(ctx, m, relayed.Hash()); ok {
				t.Fatalf("%s included the transaction sent only to the outsider, in block %d", m.name, r.BlockNumber)
			}
		}
		time.Sleep(100 * time.Millisecond) // polling real processes
	}
	if transients > 0 {
		t.Logf("the outsider counted a refusing member as a peer for a moment %d times", transients)
	}
	for _, re := range []string{`msg="sync started"`, `msg="imported gossiped block"`} {
		if m := outsider.find(regexp.MustCompile(re)); m != nil {
			t.Fatalf("outsider logged %s: it exchanged blocks with a member", m[0])
		}
	}
	hs, err = headNumbers(ctx, members)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Min(hs) <= startHead {
		t.Fatalf("members did not mine during the observation: heads %v, were at %d", hs, startHead)
	}
	for _, m := range members {
		if n, err := m.eth.NonceAt(ctx, memberAddr, nil); err != nil || n != nonce {
			t.Errorf("%s: member1's nonce is %d (%v), want %d: the relayed transaction got through", m.name, n, err, nonce)
		}
		if tx, _, err := m.eth.TransactionByHash(ctx, relayed.Hash()); err == nil && tx != nil {
			t.Errorf("%s knows the transaction sent only to the outsider", m.name)
		}
	}
	t.Logf("members at heads %v saw only each other; outsider %s refused, at head 0 with no peers", hs, outsiderAddr)

	// net_peerCount must report what the p2p layer counts.
	for _, m := range members {
		n, err := netPeerCount(ctx, m)
		if err != nil || n != 1 {
			gauge, _ := scrapeMetric(ctx, m, "arbiter_p2p_peers")
			t.Errorf("%s net_peerCount: have %d (%v), want 1 (arbiter_p2p_peers is %v)", m.name, n, err, gauge)
		}
	}
}

var (
	syncFinishedLine = regexp.MustCompile(`msg="sync finished" .*imported=(\d+) height=(\d+) target=(\d+) elapsed=(\S+) blocks_per_sec=([\d.]+)`)
	importDoneLine   = regexp.MustCompile(`msg="import done" imported=(\d+)`)
)

// TestCatchUpAfterDowntime has a member that was down while the other
// produced 2,000 blocks catch up over the network: member 1 imports a
// generated chain, then member 2 starts from genesis with member 1 as its
// peer and syncs to member 1's head. It is run for 2,000 empty blocks and
// for 200 blocks of 200 transfers, and logs the catch-up speed from
// member 2's process start to its head reaching the target.
func TestCatchUpAfterDowntime(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, tc := range []struct {
		name        string
		blocks, txs int
	}{
		{"empty", 2000, 0},
		{"full", 200, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			catchUp(t, tc.blocks, tc.txs)
		})
	}
}

func catchUp(t *testing.T, blocks, txsPerBlock int) {
	gen := generateChain(t, blocks, txsPerBlock)
	dir := t.TempDir()
	genFile, chainFile := writeChainFiles(t, dir, gen)
	var data, keyFiles []string
	for i := range 2 {
		m := filepath.Join(dir, fmt.Sprintf("member%d", i+1))
		keyFiles = append(keyFiles, filepath.Join(m, "key"))
		data = append(data, filepath.Join(m, "data"))
		if err := os.MkdirAll(m, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := crypto.SaveECDSA(keyFiles[i], gen.keys[i]); err != nil {
			t.Fatal(err)
		}
		if o, err := arbiterCommand(t, "init", "--datadir", data[i], "--genesis", genFile).CombinedOutput(); err != nil {
			t.Fatalf("init: %v\n%s", err, o)
		}
	}
	target := gen.blocks[len(gen.blocks)-1]

	// Member 1 holds the chain the others produced while member 2 was down.
	imp := time.Now()
	m1 := mustStartNode(t, "member1", "--datadir", data[0], "--key", keyFiles[0], "--mine=false",
		"--p2p", "/ip4/127.0.0.1/tcp/0", "--import", chainFile)
	// A bound for a hang, not a speed check: 40,000 transfers under the race
	// detector on two busy cores take over a minute.
	if _, err := m1.waitLine(importDoneLine, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	importTook := time.Since(imp)
	if b, err := blockAt(context.Background(), m1, target.NumberU64()); err != nil || b == nil || b.Hash != target.Hash() {
		t.Fatalf("member1 after import: block %d is %v (%v), want %s", target.NumberU64(), b, err, target.Hash())
	}

	// Member 2 comes back and catches up.
	start := time.Now()
	m2 := mustStartNode(t, "member2", "--datadir", data[1], "--key", keyFiles[1], "--mine=false",
		"--p2p", "/ip4/127.0.0.1/tcp/0", "--peers", m1.p2pAddr)
	caughtUp := waitCaughtUp(t, m2, target, start, 3*time.Minute)
	if n, _ := m2.eth.BlockNumber(context.Background()); n != target.NumberU64() {
		t.Fatalf("member2 head %d past member1's %d", n, target.NumberU64())
	}
	txs := blocks * txsPerBlock
	secs := caughtUp.Seconds()
	t.Logf("%d blocks of %d transfers: member1 imported from file in %v; member2 caught up in %v from process start: %.0f blocks/s, %.0f tx/s",
		blocks, txsPerBlock, importTook.Round(time.Millisecond), caughtUp.Round(time.Millisecond), float64(blocks)/secs, float64(txs)/secs)
	if _, err := m2.waitLine(syncFinishedLine, 10*time.Second); err == nil {
		for _, m := range m2.findAll(syncFinishedLine) {
			el, _ := time.ParseDuration(m[4])
			imported, _ := strconv.Atoi(m[1])
			t.Logf("member2 log: sync finished: imported %s blocks to %s in %s (%s blocks/s by the node, %.0f tx/s)",
				m[1], m[2], m[4], m[5], float64(imported*txsPerBlock)/max(el.Seconds(), 1e-3))
		}
	}
}

// TestPartitionHealsPoW splits a four-member PoW network 2+2 (each half
// knows only its own half's addresses), lets both halves mine and include
// one transfer each, then heals the partition by restarting a node of the
// first half with a peer of the second. All four must converge on one
// chain, at least as heavy as either side's was, and both transfers must
// end up on it: the one the losing side had included returns to its pool
// on the reorg and is included again.
func TestPartitionHealsPoW(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	g, keys, err := node.TestnetGenesis(4, genesis.EnginePoW, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var data, keyFiles []string
	for i, k := range keys {
		m := filepath.Join(dir, fmt.Sprintf("member%d", i+1))
		data = append(data, filepath.Join(m, "data"))
		keyFiles = append(keyFiles, filepath.Join(m, "key"))
		if _, err := node.Init(data[i], g); err != nil {
			t.Fatal(err)
		}
		if err := crypto.SaveECDSA(keyFiles[i], k); err != nil {
			t.Fatal(err)
		}
	}
	args := func(i int, peers ...*arbProc) []string {
		a := []string{"--datadir", data[i], "--key", keyFiles[i], "--p2p", "/ip4/127.0.0.1/tcp/0"}
		var addrs []string
		for _, p := range peers {
			addrs = append(addrs, p.p2pAddr)
		}
		if len(addrs) > 0 {
			a = append(a, "--peers", strings.Join(addrs, ","))
		}
		return a
	}
	a := mustStartNode(t, "A", args(0)...)
	bNode := mustStartNode(t, "B", args(1, a)...)
	c := mustStartNode(t, "C", args(2)...)
	d := mustStartNode(t, "D", args(3, c)...)
	side1, side2 := []*arbProc{a, bNode}, []*arbProc{c, d}
	for _, p := range []*arbProc{a, bNode, c, d} {
		if _, err := p.waitLine(regexp.MustCompile(`msg="peer connected"`), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, side1, 5, 1, 60*time.Second)
	waitConverged(t, side2, 5, 1, 60*time.Second)
	ctx := context.Background()
	b1, _ := blockAt(ctx, a, 1)
	c1, _ := blockAt(ctx, c, 1)
	if b1 == nil || c1 == nil || b1.Hash == c1.Hash {
		t.Fatalf("halves not partitioned: block 1 is %v on A and %v on C", b1, c1)
	}

	// One transfer per side, each included on its side.
	r1 := common.BytesToAddress(crypto.Keccak256([]byte("partition recipient 1")))
	r2 := common.BytesToAddress(crypto.Keccak256([]byte("partition recipient 2")))
	t1 := signedTransfer(keys[0], g.ChainID, 0, r1, 111)
	t2 := signedTransfer(keys[2], g.ChainID, 0, r2, 222)
	if err := a.eth.SendTransaction(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := c.eth.SendTransaction(ctx, t2); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		nodes []*arbProc
		tx    *types.Transaction
	}{{side1, t1}, {side2, t2}} {
		pollUntil(t, "transfer included on its side", 30*time.Second, 50*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			for _, p := range s.nodes {
				if _, ok := hasReceipt(ctx, p, s.tx.Hash()); !ok {
					return false, p.name + " has no receipt", nil
				}
			}
			return true, "", nil
		})
	}
	var preHeal [2]*types.Receipt // where each side included its transfer
	for i, s := range []struct {
		own, other *arbProc
		tx, away   *types.Transaction
	}{{a, c, t1, t2}, {c, a, t2, t1}} {
		var ok bool
		if preHeal[i], ok = hasReceipt(ctx, s.own, s.tx.Hash()); !ok {
			t.Fatalf("%s lost its side's transfer", s.own.name)
		}
		if _, ok := hasReceipt(ctx, s.own, s.away.Hash()); ok {
			t.Fatalf("%s has the other side's transfer before the heal", s.own.name)
		}
	}

	// Heal: B comes back dialling C as well as A. Each side's head and
	// weight just before:
	bNode.stop()
	type sideHead struct {
		first, head *rpcBlock // block 1 (the sides fork at genesis) and the head
		td          *big.Int
	}
	var before [2]sideHead
	for i, p := range []*arbProc{a, c} {
		n, err := p.eth.BlockNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, err := blockAt(ctx, p, n)
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			t.Fatalf("%s: no head block %d", p.name, n)
		}
		td, err := totalDifficulty(ctx, p, h.Hash)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = sideHead{[]*rpcBlock{b1, c1}[i], h, td}
	}
	healed := time.Now()
	bNode = mustStartNode(t, "B'", args(1, a, c)...)
	all := []*arbProc{a, bNode, c, d}
	var (
		final    *rpcBlock
		receipts [2]*types.Receipt // of t1 and t2 on the agreed chain
	)
	pollUntil(t, "healed network converges with both transfers", 60*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		hs, err := headNumbers(ctx, all)
		if err != nil {
			return false, "", err
		}
		low := slices.Min(hs)
		if low < 2 {
			return false, fmt.Sprintf("heads %v", hs), nil
		}
		b, ok, err := agreeAt(ctx, all, low-1)
		if err != nil || !ok {
			return false, fmt.Sprintf("heads %v, no agreement at %d", hs, low-1), err
		}
		// A receipt at or below the agreed block is in the common prefix.
		for _, p := range all {
			for i, tx := range []*types.Transaction{t1, t2} {
				r, ok := hasReceipt(ctx, p, tx.Hash())
				if !ok || r.BlockNumber.Uint64() > uint64(b.Number) {
					return false, fmt.Sprintf("heads %v, agreed at %d; %s lacks a settled receipt for %s", hs, low-1, p.name, tx.Hash()), nil
				}
				receipts[i] = r
			}
		}
		final = b
		return true, "", nil
	})
	healTook := time.Since(healed)
	t.Logf("healed: all four agree on block %d %s, with both transfers, %v after the heal", uint64(final.Number), final.Hash, healTook.Round(time.Millisecond))
	if healTook > 20*time.Second {
		for _, p := range all {
			if m := p.find(regexp.MustCompile(`msg="sync from peer failed" .*`)); m != nil {
				t.Logf("slow heal: %s put a peer in the syncer's 30 s cooldown: %s", p.name, m[0])
			}
		}
	}

	// One side's branch won (the sides forked at genesis, so block 1 tells
	// which), and the chain agreed on is at least as heavy as either side's
	// chain was.
	canon1, err := blockAt(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	winner, loser := 0, 1
	if canon1.Hash == before[1].first.Hash {
		winner, loser = 1, 0
	} else if canon1.Hash != before[0].first.Hash {
		t.Fatalf("block 1 of the converged chain %s is neither side's", canon1.Hash)
	}
	t.Logf("before the heal: side 1 head %d td %v, side 2 head %d td %v; side %d won", uint64(before[0].head.Number), before[0].td, uint64(before[1].head.Number), before[1].td, winner+1)
	td, err := totalDifficulty(ctx, a, final.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if td.Cmp(before[0].td) < 0 || td.Cmp(before[1].td) < 0 {
		t.Fatalf("converged chain td %v lighter than a side's pre-heal chain (%v, %v)", td, before[0].td, before[1].td)
	}
	// The losing side's transfer was re-included on the winning chain (all
	// nodes agree on the block it is in), not in the block its side mined.
	lostTx, lostSide, r := []*types.Transaction{t1, t2}[loser], [][]*arbProc{side1, side2}[loser], receipts[loser]
	if r.BlockHash == preHeal[loser].BlockHash {
		t.Fatalf("losing side's transfer still in its pre-heal block %s", r.BlockHash)
	}
	reorged := false
	for _, p := range lostSide {
		for _, m := range p.findAll(regexp.MustCompile(`msg="chain reorganised" ancestor=(\d+) dropped=(\d+)`)) {
			if n, _ := strconv.Atoi(m[2]); n > 0 {
				reorged = true
			}
		}
	}
	if !reorged {
		t.Fatalf("the losing side logged no reorganisation")
	}
	t.Logf("losing side's transfer %s: in block %d before the heal, re-included in block %d", lostTx.Hash(), preHeal[loser].BlockNumber, r.BlockNumber)
}
