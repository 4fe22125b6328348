package rpc

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
)

// noopPool accepts everything and keeps nothing.
type noopPool struct{}

func (noopPool) Submit(context.Context, *types.Transaction) error { return nil }
func (noopPool) PendingNonce(common.Address) uint64               { return 0 }
func (noopPool) Get(common.Hash) *types.Transaction               { return nil }

// BenchmarkBlockNumberHTTP is a full eth_blockNumber round trip: ethclient,
// HTTP over loopback, router, rpc server.
func BenchmarkBlockNumberHTTP(b *testing.B) {
	e := newTestEnv(b, Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.client.BlockNumber(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendRawTransaction is an eth_sendRawTransaction round trip over
// HTTP into a pool that does nothing: decoding and transport cost.
func BenchmarkSendRawTransaction(b *testing.B) {
	e := newTestEnv(b, Config{})
	srv, err := New(Config{}, e.chain, noopPool{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client, err := ethclient.Dial(hs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()

	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 5, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5 * params.GWei), Value: big.NewInt(1), Data: make([]byte, 100)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := client.SendTransaction(ctx, tx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeSendRawTransaction is the server's side alone of one
// eth_sendRawTransaction over HTTP into a pool that does nothing: through
// the routed handler (answered by sendFast) and through go-ethereum's
// server directly, as every request was before sendFast.
func BenchmarkServeSendRawTransaction(b *testing.B) {
	e := newTestEnv(b, Config{})
	srv, err := New(Config{}, e.chain, noopPool{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tx, err := types.SignNewTx(e.key1, e.signer, &types.DynamicFeeTx{ChainID: testChainID, Nonce: 5, To: &e.addr2, Gas: 21000,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5 * params.GWei), Value: big.NewInt(1)})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["` + hexutil.Encode(enc) + `"]}`
	want := tx.Hash().Hex()
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"fast", srv.Handler()}, {"server", srv.rpc}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if !strings.Contains(w.Body.String(), want) {
					b.Fatalf("answer %s", w.Body.String())
				}
			}
		})
	}
}
