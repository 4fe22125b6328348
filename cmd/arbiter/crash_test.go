package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/node"
	"github.com/arbiter-chain/arbiter/node/genesis"
	"github.com/arbiter-chain/arbiter/node/store"
)

type generated struct {
	gen    *genesis.Genesis
	blocks []*types.Block
	keys   []*ecdsa.PrivateKey
}

// generateChain mines n blocks of txs transfers each with an in-process chain,
// spread over a few senders and a fixed set of recipients.
func generateChain(t *testing.T, n, txs int) generated {
	t.Helper()
	g := &genesis.Genesis{
		ChainID: 777, Engine: genesis.EnginePoW,
		PoW:       &pow.Config{MinDifficulty: 1, InitialDifficulty: 1},
		BlockTime: genesis.Duration(time.Second), GasLimit: 30_000_000,
		Alloc: map[common.Address]genesis.Account{},
	}
	var keys []*ecdsa.PrivateKey
	for i := 0; i < 8; i++ {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("crash test member %d", i))))
		keys = append(keys, k)
		a := crypto.PubkeyToAddress(k.PublicKey)
		g.Members = append(g.Members, genesis.Member{Address: a, Name: fmt.Sprint(i)})
		g.Alloc[a] = genesis.Account{Balance: (*math.HexOrDecimal256)(new(big.Int).Lsh(big.NewInt(1), 100))}
	}
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := node.OpenChain(db, g, keys[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := c.Engine()
	defer c.Close()
	signer := types.NewLondonSigner(big.NewInt(int64(g.ChainID)))
	nonces := make([]uint64, len(keys))
	out := generated{gen: g, keys: keys}
	for b := 0; b < n; b++ {
		list := make([]*types.Transaction, 0, txs)
		for i := 0; i < txs; i++ {
			s := (b + i) % len(keys)
			to := common.BigToAddress(big.NewInt(int64(1000 + (b*txs+i)%400)))
			list = append(list, types.MustSignNewTx(keys[s], signer, &types.LegacyTx{Nonce: nonces[s], To: &to, Value: big.NewInt(int64(i + 1)), Gas: 21000, GasPrice: big.NewInt(1)}))
			nonces[s]++
		}
		parent := c.CurrentBlock()
		built, err := c.BuildBlock(parent, list, parent.Time()+1)
		if err != nil || len(built.Block.Transactions()) != txs {
			t.Fatalf("build block %d: %v", b+1, err)
		}
		sealed, err := eng.Seal(context.Background(), c, built.Block)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.InsertBlock(sealed); err != nil {
			t.Fatal(err)
		}
		out.blocks = append(out.blocks, sealed)
	}
	return out
}

var importedLine = regexp.MustCompile(`msg="imported block" number=(\d+)`)

type verified struct {
	Number   uint64      `json:"number"`
	Hash     common.Hash `json:"hash"`
	Root     common.Hash `json:"root"`
	Verified bool        `json:"verified"`
}

// TestCrashDuringImport kills a real `arbiter node` process with SIGKILL at
// random moments while it imports blocks, at least 25 times. After every
// kill the restarted head must be at or above the last block the process
// reported committed, must be the generated block at that height, and its
// state root must re-verify (trie walk plus re-execution of the head).
func TestCrashDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	bin := buildBinary(t)
	const blocks, txsPerBlock, minKills = 140, 150, 25
	gen := generateChain(t, blocks, txsPerBlock)

	dir := t.TempDir()
	genFile, chainFile := writeChainFiles(t, dir, gen)
	keyFile := filepath.Join(dir, "key")
	if err := crypto.SaveECDSA(keyFile, gen.keys[1]); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	if out, err := exec.Command(bin, "init", "--datadir", dataDir, "--genesis", genFile).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var committed uint64
	kills := 0
	for kills < minKills {
		cmd := exec.Command(bin, "node", "--datadir", dataDir, "--key", keyFile, "--rpc", "", "--mine=false", "--no-p2p", "--import", chainFile)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		progress := make(chan uint64, 1024)
		go func() {
			defer close(progress)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if m := importedLine.FindStringSubmatch(sc.Text()); m != nil {
					n, _ := strconv.ParseUint(m[1], 10, 64)
					progress <- n
				}
			}
			_, _ = io.Copy(io.Discard, stderr)
		}()
		// Wait for the first committed block of this run, then kill at a
		// random moment within the next blocks' import: after a random
		// delay, or sooner once a random number of further blocks (at most
		// three) are reported, so that however fast the machine imports,
		// a run covers a few blocks and the chain lasts for minKills kills.
		first, ok := <-progress
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			if committed == uint64(blocks) {
				break
			}
			t.Fatalf("run %d: node exited before importing (committed so far %d)", kills+1, committed)
		}
		committed = max(committed, first)
		delay := time.Duration(rng.IntN(120)) * time.Millisecond
		more := first + uint64(rng.IntN(4))
		deadline := time.After(delay)
	wait:
		for committed < more {
			select {
			case n, ok := <-progress:
				if !ok {
					break wait
				}
				committed = max(committed, n)
			case <-deadline:
				break wait
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		cmd.Wait()
		for n := range progress { // lines written before the kill
			committed = max(committed, n)
		}
		kills++

		out, err := exec.Command(bin, "verify", "--datadir", dataDir).Output()
		if err != nil {
			t.Fatalf("kill %d: verify failed: %v\n%s", kills, err, out)
		}
		var v verified
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("kill %d: verify output %q: %v", kills, out, err)
		}
		if !v.Verified || v.Number < committed {
			t.Fatalf("kill %d: head %d after restart, but block %d was reported committed", kills, v.Number, committed)
		}
		want := gen.blocks[v.Number-1]
		if v.Hash != want.Hash() || v.Root != want.Root() {
			t.Fatalf("kill %d: head %d is %x root %x, want %x root %x", kills, v.Number, v.Hash, v.Root, want.Hash(), want.Root())
		}
		committed = v.Number
		t.Logf("kill %d: restarted on head %d (root %x verified)", kills, v.Number, v.Root)
		if v.Number == uint64(blocks) {
			t.Fatalf("import finished after only %d kills; the test needs more blocks", kills)
		}
	}

	// Finish the import and compare the final state with the generator's.
	cmd := exec.Command(bin, "node", "--datadir", dataDir, "--key", keyFile, "--rpc", "", "--mine=false", "--no-p2p", "--import", chainFile)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	done := false
	for sc.Scan() {
		if regexp.MustCompile(`msg="import done"`).MatchString(sc.Text()) {
			done = true
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, stderr)
	cmd.Wait()
	if !done {
		t.Fatalf("final import did not finish")
	}
	db, err := store.Open(filepath.Join(dataDir, "chaindata"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := node.OpenChain(db, gen.gen, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	last := gen.blocks[len(gen.blocks)-1]
	if have := c.CurrentBlock().Hash(); have != last.Hash() {
		t.Fatalf("final head: have %x, want %x", have, last.Hash())
	}
	st, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	// Each recipient got the sum of the values sent to it; check a few exactly.
	for r := 0; r < 400; r += 97 {
		addr := common.BigToAddress(big.NewInt(int64(1000 + r)))
		want := new(big.Int)
		for b := 0; b < blocks; b++ {
			for i := 0; i < txsPerBlock; i++ {
				if (b*txsPerBlock+i)%400 == r {
					want.Add(want, big.NewInt(int64(i+1)))
				}
			}
		}
		if have := st.GetBalance(addr).ToBig(); have.Cmp(want) != 0 {
			t.Fatalf("recipient %d balance: have %v, want %v", r, have, want)
		}
	}
}
