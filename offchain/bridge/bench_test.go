package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// benchLine is the length of each pre-signed benchmark game.
const benchLine = 64

// presign opens n games on br and signs plies states of each (knight
// shuffles), spreading the signing over all CPUs.
func (e *env) presign(b *testing.B, br *bridge.Bridge, label string, n, plies int) [][]channel.SignedState {
	b.Helper()
	games := make([][]channel.SignedState, n)
	moves := knightShuffle(plies)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				games[i] = e.line(gameID(fmt.Sprintf("%s %d", label, i)), moves...)
			}
		}()
	}
	wg.Wait()
	for _, g := range games {
		e.openGame(br, g[0].State.GameID)
	}
	return games
}

// benchStores are the stores the store benchmarks run on: fresh ones,
// closed at the end of the benchmark.
var benchStores = []struct {
	name string
	open func(b *testing.B) bridge.Store
}{
	{"mem", func(b *testing.B) bridge.Store { return bridge.NewMemStore() }},
	{"badger-inmem", func(b *testing.B) bridge.Store {
		s, err := bridge.OpenBadgerInMemory()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"badger-disk-sync", func(b *testing.B) bridge.Store {
		s, err := bridge.OpenBadger(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(b *testing.B) bridge.Store {
		s, err := pgstore.Open(context.Background(), storetest.PostgresDB(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"dynamodb", func(b *testing.B) bridge.Store {
		s, err := dynamostore.Open(context.Background(), storetest.DynamoTable(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// BenchmarkSubmitMove measures how many moves one Bridge validates
// (signature recovery, rules, FEN) and stores per second, with parallel
// submitters each playing their own games, called in-process, and the
// latency of each call (p50, p99).
func BenchmarkSubmitMove(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			const parallelism = 4
			ctx := context.Background()
			e := newEnv(b, st.open(b))
			br := e.newBridge(bridge.Config{})
			submitters := runtime.GOMAXPROCS(0) * parallelism
			games := e.presign(b, br, "bench "+st.name, b.N/benchLine+submitters+1, benchLine)
			var next atomic.Int64
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism(parallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var cur []channel.SignedState
				var lat []time.Duration
				defer func() {
					mu.Lock()
					all = append(all, lat...)
					mu.Unlock()
				}()
				for pb.Next() {
					if len(cur) == 0 {
						cur = games[next.Add(1)-1]
					}
					start := time.Now()
					if _, err := br.SubmitMove(ctx, bridge.SubmitMoveRequest{State: cur[0]}); err != nil {
						b.Errorf("SubmitMove: %v", err)
						return
					}
					lat = append(lat, time.Since(start))
					cur = cur[1:]
				}
			})
			b.StopTimer()
			reportLatencies(b, all)
		})
	}
}

// BenchmarkLambdaSubmit measures chess_submitMove through the Lambda
// handler, one API Gateway event after another as one function instance
// serves them, on each store a Lambda function can use.
func BenchmarkLambdaSubmit(b *testing.B) {
	for _, st := range benchStores {
		if st.name != "dynamodb" && st.name != "postgres" {
			continue
		}
		b.Run(st.name, func(b *testing.B) {
			ctx := context.Background()
			e := newEnv(b, st.open(b))
			br := e.newBridge(bridge.Config{})
			handle := br.LambdaHandler()
			games := e.presign(b, br, "lambda "+st.name, b.N/benchLine+1, benchLine)
			evs := make([]events.APIGatewayV2HTTPRequest, 0, b.N)
			for i := range b.N {
				body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": i, "method": "chess_submitMove",
					"params": []any{games[i/benchLine][i%benchLine]}})
				if err != nil {
					b.Fatal(err)
				}
				ev := events.APIGatewayV2HTTPRequest{RawPath: "/rpc", Body: string(body),
					Headers: map[string]string{"content-type": "application/json"}}
				ev.RequestContext.HTTP.Method = http.MethodPost
				evs = append(evs, ev)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for _, ev := range evs {
				start := time.Now()
				resp, err := handle(ctx, ev)
				if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(resp.Body, `"error"`) {
					b.Fatalf("submit: have %d %s, %v", resp.StatusCode, resp.Body, err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatencies(b, lat)
		})
	}
}

// reportLatencies reports moves per second over the benchmark's elapsed
// time and the p50 and p99 of the latencies.
func reportLatencies(b *testing.B, all []time.Duration) {
	b.Helper()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "moves/s")
}

// BenchmarkRelay measures the relay over the real servers: for each move,
// the time from the start of chess_submitMove (over WebSocket) to the
// opponent's client receiving the push on another WebSocket connection.
// Each of the concurrent games plays its moves one after another, as
// players do. It reports p50 and p99 latency and the moves relayed per
// second.
//
// The games=8/badger-disk case is the durable path: every move is synced
// to disk before the mover is answered and the opponent is pushed.
func BenchmarkRelay(b *testing.B) {
	for _, games := range []int{1, 8} {
		b.Run(fmt.Sprintf("games=%d", games), func(b *testing.B) {
			benchRelay(b, bridge.NewMemStore(), games)
		})
	}
	b.Run("games=8/badger-disk", func(b *testing.B) {
		s, err := bridge.OpenBadger(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		benchRelay(b, s, 8)
	})
}

func benchRelay(b *testing.B, store bridge.Store, games int) {
	ctx := context.Background()
	e := newEnv(b, store)
	br := e.newBridge(bridge.Config{Limits: rpclimit.Limits{MaxSubscriptionsPerConn: 1}})
	srv := e.serve(br)
	per := (b.N + games - 1) / games
	lines := e.presign(b, br, "relay", games, per)

	latencies := make([][]time.Duration, games)
	submit := make([]func(channel.SignedState) error, games)
	arrived := make([]chan time.Time, games)
	for i := range games {
		mover, watcher := e.dial(srv, "/ws"), e.dial(srv, "/ws")
		submit[i] = func(s channel.SignedState) error {
			_, err := mover.SubmitMove(ctx, s)
			return err
		}
		pushed := make(chan channel.SignedState, per)
		sub, err := watcher.SubscribeMoves(ctx, lines[i][0].State.GameID, pushed)
		if err != nil {
			b.Fatalf("SubscribeMoves: %v", err)
		}
		b.Cleanup(sub.Unsubscribe)
		// Stamp each push as it comes off the connection.
		arrived[i] = make(chan time.Time, per)
		go func() {
			for range per {
				select {
				case <-pushed:
					arrived[i] <- time.Now()
				case <-sub.Err():
					return
				}
			}
		}()
	}

	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range games {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, per)
			for _, s := range lines[i] {
				start := time.Now()
				if err := submit[i](s); err != nil {
					b.Errorf("SubmitMove: %v", err)
					return
				}
				lat = append(lat, (<-arrived[i]).Sub(start))
			}
			latencies[i] = lat
		}()
	}
	wg.Wait()
	b.StopTimer()

	reportLatencies(b, slices.Concat(latencies...))
}

// BenchmarkNew measures a cold start: building a Bridge and its handler.
func BenchmarkNew(b *testing.B) {
	store, arb := bridge.NewMemStore(), bridge.NewMemArbiter(testChainID)
	for b.Loop() {
		br, err := bridge.New(bridge.Config{}, store, arb)
		if err != nil {
			b.Fatal(err)
		}
		br.Close()
	}
}
