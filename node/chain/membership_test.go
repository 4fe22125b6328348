package chain

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/arbiter-chain/arbiter/contracts"
	"github.com/arbiter-chain/arbiter/contracts/membership"
	"github.com/arbiter-chain/arbiter/node/rules"
	"github.com/arbiter-chain/arbiter/node/store"
)

// TestRevokedMidBlock: execution keeps the senders found allowed earlier
// in a block, so as not to read the membership contract's storage at every
// transfer; a contract call in between (here the revocation of P's
// voucher) must drop them. P's transfer after the revocation is refused
// by the builder, and a block that carries it anyway is invalid.
func TestRevokedMidBlock(t *testing.T) {
	reg, err := contracts.New(big.NewInt(testChainID), membership.New())
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := openTestChainWith(t, db, "A", WithContracts(reg))
	head := e.chain.CurrentBlock()
	parsed, err := abi.JSON(bytes.NewReader(membership.ABIJSON))
	if err != nil {
		t.Fatal(err)
	}
	input, err := parsed.Pack("revokeAccount", addrOf("P"))
	if err != nil {
		t.Fatal(err)
	}
	to := membership.Address
	revoke := types.MustSignNewTx(testKey("A"), types.NewLondonSigner(big.NewInt(testChainID)), &types.LegacyTx{Nonce: 0, To: &to, Gas: 500_000, GasPrice: big.NewInt(1), Data: input})
	p0 := transfer("P", 0, addrOf("Q"), 1, false)
	p1 := transfer("P", 1, addrOf("Q"), 1, false)

	built, err := e.chain.BuildBlock(head, []*types.Transaction{p0, revoke, p1}, head.Time()+1)
	if err != nil {
		t.Fatal(err)
	}
	if txs := built.Block.Transactions(); len(txs) != 2 || txs[0] != p0 || txs[1] != revoke {
		t.Errorf("built %d transactions, want P's first and the revocation (did it fail?)", len(txs))
	}
	if len(built.Rejected) != 1 || built.Rejected[0] != p1 {
		t.Errorf("rejected %d, want P's transfer after the revocation", len(built.Rejected))
	}

	h := built.Block.Header()
	txs := []*types.Transaction{p0, revoke, p1}
	h.TxHash = types.DeriveSha(types.Transactions(txs), trie.NewStackTrie(nil))
	bad := e.reseal(h, &types.Body{Transactions: txs})
	err = e.chain.InsertBlock(bad)
	if !errors.Is(err, rules.ErrNotAllowed) {
		t.Fatalf("block with P's transfer after the revocation: have %v, want %v", err, rules.ErrNotAllowed)
	}
	var txErr *TxError
	if !errors.As(err, &txErr) || txErr.Index != 2 {
		t.Fatalf("refused at %v, want transaction 2", err)
	}
}
