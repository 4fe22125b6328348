package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/arbiter-chain/arbiter/consensus"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// wrapsOne reports whether err wraps one of the sentinels.
func wrapsOne(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// ruleErrors are the sentinels of the static transaction rules.
var ruleErrors = []error{
	rules.ErrTxType, rules.ErrUnprotected, rules.ErrWrongChain, rules.ErrBadSignature, rules.ErrOversized,
	rules.ErrContractCreation, rules.ErrTipAboveFeeCap, rules.ErrFeeTooHigh, rules.ErrGasLimit, rules.ErrIntrinsicGas,
}

// FuzzGossipBatch feeds a gossiped batch payload to checkTxBatch. Only
// transactions of a batch that decodes and passes the static rules reach
// the pool; every refusal wraps a sentinel; a batch is accepted (passed
// on as it is) only when the pool took all of it; a batch the pool took
// from re-encodes to the payload (the binary encoding is canonical).
func FuzzGossipBatch(f *testing.F) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	var raws [][]byte
	for _, n := range []uint64{0, 1, 1 << 40} {
		b, err := transfer(f, "A", n, addrOf(f, "B")).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		raws = append(raws, b)
		one, _ := encodeBatch([][]byte{b})
		f.Add(one)
	}
	all, _ := encodeBatch(raws)
	f.Add(all)
	var txs []*types.Transaction
	for _, raw := range raws {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(raw); err != nil {
			f.Fatal(err)
		}
		txs = append(txs, tx)
	}
	from := addrOf(f, "A")
	claimed, err := encodeSignedBatch(txs, raws, []common.Address{from, from, from}, testKey(f, "A"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(claimed)
	f.Add([]byte{0xc3, 0x82, 0x02, 0xc1})
	f.Add([]byte{0xc0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pooled []*types.Transaction
		pool := &fakePool{add: func(tx *types.Transaction) error { pooled = append(pooled, tx); return nil }}
		res, c, err := checkTxBatch(data, r, pool, nil, nil, nil, common.Address{})
		took := c.took
		switch res {
		case ignore, accept:
			if took != len(pooled) || err != nil {
				t.Fatalf("%s: took %d, pooled %d, err %v", resultName(res), took, len(pooled), err)
			}
			if res == accept && took == 0 {
				t.Fatalf("accepted a batch the pool took nothing from")
			}
			raw := make([][]byte, len(pooled))
			for i, tx := range pooled {
				raw[i], _ = tx.MarshalBinary()
			}
			_, senders, sig, _ := decodeEnvelope(data)
			if senders == nil {
				senders = []common.Address{}
			}
			if enc, _ := rlp.EncodeToBytes([]any{raw, senders, sig}); took > 0 && !bytes.Equal(enc, data) {
				t.Fatalf("pooled transactions do not re-encode to the payload: have %x", enc)
			}
		case reject:
			if len(pooled) != 0 {
				t.Fatalf("rejected batch reached the pool")
			}
			if !wrapsOne(err, append(ruleErrors, errOversized, errMalformed, errBatch, errClaim)...) {
				t.Fatalf("rejection %q wraps no sentinel", err)
			}
		default:
			t.Fatalf("result %s for a peer's batch (err %v)", resultName(res), err)
		}
	})
}

// FuzzGossipBatchClaimed feeds a gossiped batch payload to checkTxBatch
// with a sender quorum, as validator V2 of four that waits for nothing
// (its checkers are never direct peers, so settle falls back to recovery
// at once unless V2 is a checker). It never reaches trust: a claim is
// trusted only on others' word, which the unit tests cover; here every
// path that checks a claim itself is driven.
// Whatever the payload, every transaction the pool takes is pooled under the
// sender its signature gives, and every refusal wraps a sentinel.
func FuzzGossipBatchClaimed(f *testing.F) {
	r := rules.NewStatic(big.NewInt(testChainID), 30_000_000)
	var txs []*types.Transaction
	var raws [][]byte
	var senders []common.Address
	for i := range uint64(minQuorumTxs + 1) {
		from := []string{"A", "B"}[i%2]
		tx := transfer(f, from, i/2, addrOf(f, "C"))
		b, err := tx.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		txs, raws, senders = append(txs, tx), append(raws, b), append(senders, addrOf(f, from))
	}
	for _, origin := range []string{"V1", "V3", "M"} {
		data, err := encodeSignedBatch(txs, raws, senders, testKey(f, origin))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	lie := slices.Clone(senders)
	lie[0], lie[1] = lie[1], lie[0]
	data, err := encodeSignedBatch(txs, raws, lie, testKey(f, "V1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	vals := validators(f, fourNames)
	f.Fuzz(func(t *testing.T, data []byte) {
		q := newQuorum(context.Background(), testKey(t, "V2"), vals, func([]byte) error { return nil })
		q.connected = func(common.Address) bool { return false } // never wait
		pool := newSyncPool(r.Signer)
		res, _, err := checkTxBatch(data, r, pool, nil, nil, q, common.Address{})
		if res == reject && !wrapsOne(err, append(ruleErrors, errOversized, errMalformed, errBatch, errClaim)...) {
			t.Fatalf("rejection %q wraps no sentinel", err)
		}
		pool.mu.Lock()
		defer pool.mu.Unlock()
		for h, from := range pool.has {
			var tx *types.Transaction
			decoded, _ := decodeBatch(data)
			for _, d := range decoded {
				if d.Hash() == h {
					tx = d
				}
			}
			if tx == nil {
				t.Fatalf("pooled %x, not in the batch", h)
			}
			want, err := types.Sender(types.LatestSignerForChainID(big.NewInt(testChainID)), tx)
			if err != nil || want != from {
				t.Fatalf("pooled %x as from %s, its signature gives %s (%v)", h, from, want, err)
			}
		}
	})
}

// FuzzGossipBlock feeds a gossiped block payload to the block checker of a
// real chain of three blocks. An accepted block is one the chain would
// store under the same hash; every refusal wraps a sentinel of the wire or
// of the consensus engine.
func FuzzGossipBlock(f *testing.F) {
	g := testGenesis(f)
	tc := newTestChain(f, g, "A")
	tc.extend(3, nil)
	head := tc.chain.CurrentBlock()
	checker := newBlockChecker(tc.chain, tc.engine, HeadMembers(tc.chain))
	for _, b := range []*types.Block{
		head,
		tc.mine(head, []*types.Transaction{transfer(f, "A", 0, addrOf(f, "B"))}, 1),
		tc.mine(head, nil, 1),
		tc.chain.GetBlockByNumber(1),
	} {
		data, err := rlp.EncodeToBytes(&gossipBlock{Block: b})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xf9, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		res, gb, err := checker.check(data)
		if (res == accept) != (gb != nil) && !errors.Is(err, errUnknownParent) {
			t.Fatalf("result %s with block %v", resultName(res), gb != nil)
		}
		if res != accept {
			if !wrapsOne(err, errOversized, errMalformed, errBlockShape, errKnown, errNotMember, errUnknownParent, consensus.ErrNoCertificate,
				consensus.ErrUnknownAncestor, consensus.ErrInvalidNumber, consensus.ErrInvalidTimestamp,
				consensus.ErrFutureBlock, consensus.ErrInvalidSeal, consensus.ErrInvalidDifficulty,
				consensus.ErrNotMember, consensus.ErrUnauthorized) {
				t.Fatalf("refusal %q wraps no sentinel", err)
			}
			return
		}
		enc, err := rlp.EncodeToBytes(gb)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("accepted payload does not re-encode to itself: %v", err)
		}
		if blockShape(gb.Block) != nil || len(data) > maxBlockGossip {
			t.Fatalf("accepted a block that breaks the shape rules")
		}
	})
}

// plainReader hides ReadByte, as a stream does.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// FuzzReadFrame reads a frame from fuzzed stream bytes with a fuzzed limit.
// A frame that is read is at most the limit and is exactly what its length
// prefix announced, read from right after the prefix; a failure wraps
// errMalformed or errFrameTooLarge.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame([]byte("abc")), uint32(8))
	f.Add(frame(make([]byte, maxRequestFrame)), uint32(maxRequestFrame))
	f.Add(binary.AppendUvarint(nil, 1<<40), uint32(maxRequestFrame))
	f.Add(bytes.Repeat([]byte{0xff}, 11), uint32(8))
	f.Fuzz(func(t *testing.T, in []byte, limit uint32) {
		limit %= 1 << 16
		r := bytes.NewReader(in)
		got, err := readFrame(plainReader{r}, int(limit))
		if err != nil {
			if !wrapsOne(err, errMalformed, errFrameTooLarge) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if len(got) > int(limit) {
			t.Fatalf("frame of %d bytes over the limit %d", len(got), limit)
		}
		end := len(in) - r.Len()
		size, n := binary.Uvarint(in)
		if n <= 0 || size != uint64(len(got)) || end != n+len(got) || !bytes.Equal(in[n:end], got) {
			t.Fatalf("frame %x is not the body its prefix announces in %x", got, in)
		}
	})
}

// rlpOf is mustRLP for any test.
func rlpOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// fuzzSource is a header-only chain of 40 blocks for the sync targets.
func fuzzSource(t testing.TB) *fakeChain {
	t.Helper()
	return newFakeChain().extend(t, 40, "fuzz")
}

// FuzzSyncRequest decodes a request frame body and, if it decodes, serves
// it from a chain: the request re-encodes to the same bytes, and the answer
// decodes for its kind with at most the asked count of linked items.
func FuzzSyncRequest(f *testing.F) {
	src := fuzzSource(f)
	genesis := fakeGenesis().Hash()
	limits := Limits{}.withDefaults()
	for _, req := range []request{
		{kindStatus, 0, 0}, {kindHeaders, 1, 10}, {kindBlocks, 35, 100}, {kindBlocks, ^uint64(0), 2}, {7, 0, 0},
	} {
		f.Add(rlpOf(f, &req))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data)
		if err != nil {
			if !wrapsOne(err, errMalformed, errUnknownKind) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if enc := rlpOf(t, &req); !bytes.Equal(enc, data) {
			t.Fatalf("request re-encodes to %x, want %x", enc, data)
		}
		code, msg, payload := serve(src, genesis, req, limits)
		if code != codeOK {
			t.Fatalf("a decoded request was refused: code %d: %s", code, msg)
		}
		checkAnswer(t, req, payload)
	})
}

// checkAnswer checks that payload answers req as a client decodes it.
func checkAnswer(t *testing.T, req request, payload []byte) {
	t.Helper()
	if len(payload) > maxResponseFrame(req) {
		t.Fatalf("answer of %d bytes over the client's frame limit %d", len(payload), maxResponseFrame(req))
	}
	var err error
	switch req.Kind {
	case kindStatus:
		_, err = decodeStatus(payload)
	case kindHeaders:
		_, err = decodeHeaders(payload, req.From, req.Count)
	case kindBlocks:
		_, _, err = decodeBlocks(payload, req.From, req.Count)
	}
	if err != nil {
		t.Fatalf("answer to %+v does not decode: %v", req, err)
	}
}

// FuzzSyncResponse decodes a response frame body as a client does for a
// request of a fuzzed kind, start and count. Whatever decodes holds at most
// count consecutive, linked items starting at from, and re-encodes to
// something that decodes to the same items.
func FuzzSyncResponse(f *testing.F) {
	src := fuzzSource(f)
	genesis := fakeGenesis().Hash()
	limits := Limits{}.withDefaults()
	for _, req := range []request{{kindStatus, 0, 0}, {kindHeaders, 3, 5}, {kindBlocks, 1, 4}} {
		code, msg, payload := serve(src, genesis, req, limits)
		resp, err := encodeResponse(code, msg, payload)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp, uint8(req.Kind), req.From, req.Count)
	}
	resp, err := encodeResponse(codeRateLimited, "slow down", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(resp, uint8(kindBlocks), uint64(1), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, from, count uint64) {
		payload, err := decodeResponse(data)
		if err != nil {
			if !wrapsOne(err, errMalformed, errRateLimited, errRemote) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		again, err := encodeResponse(codeOK, "", payload)
		if err != nil {
			t.Fatal(err)
		}
		if p2, err := decodeResponse(again); err != nil || !bytes.Equal(p2, payload) {
			t.Fatalf("payload round trip: have %x, %v; want %x", p2, err, payload)
		}
		switch uint64(kind) % 3 {
		case kindStatus:
			st, err := decodeStatus(payload)
			if err != nil {
				if !wrapsOne(err, errMalformed, errBadResponse) {
					t.Fatalf("status error %q wraps no sentinel", err)
				}
				return
			}
			st2, err := decodeStatus(rlpOf(t, st))
			if err != nil || st2.Hash != st.Hash || st2.Number != st.Number || st2.TD.Cmp(st.TD) != 0 || st2.Genesis != st.Genesis {
				t.Fatalf("status round trip: have %+v, %v; want %+v", st2, err, st)
			}
		case kindHeaders:
			hs, err := decodeHeaders(payload, from, count)
			if err != nil {
				if !wrapsOne(err, errMalformed, errBadResponse) {
					t.Fatalf("headers error %q wraps no sentinel", err)
				}
				return
			}
			hs2, err := decodeHeaders(rlpOf(t, hs), from, count)
			if err != nil || len(hs2) != len(hs) {
				t.Fatalf("headers round trip: have %d, %v; want %d", len(hs2), err, len(hs))
			}
			for i := range hs {
				if hs2[i].Hash() != hs[i].Hash() {
					t.Fatalf("header %d round trip: hash changed", i)
				}
			}
		case kindBlocks:
			bs, cert, err := decodeBlocks(payload, from, count)
			if err != nil {
				if !wrapsOne(err, errMalformed, errBadResponse) {
					t.Fatalf("blocks error %q wraps no sentinel", err)
				}
				return
			}
			raws := make([]rlp.RawValue, len(bs))
			for i, b := range bs {
				raws[i] = rlpOf(t, b)
			}
			bs2, cert2, err := decodeBlocks(rlpOf(t, &blocksPayload{Blocks: raws, Cert: cert}), from, count)
			if err != nil || len(bs2) != len(bs) || !bytes.Equal(cert, cert2) {
				t.Fatalf("blocks round trip: have %d, %v; want %d", len(bs2), err, len(bs))
			}
			for i := range bs {
				if bs2[i].Hash() != bs[i].Hash() || bs2[i].Transactions().Len() != bs[i].Transactions().Len() {
					t.Fatalf("block %d round trip: changed", i)
				}
			}
		}
	})
}

// fuzzStream is a network.Stream over an in-memory request that records
// what the server writes. Methods the server does not use panic (nil
// embedded interface), so a new use shows up.
type fuzzStream struct {
	network.Stream
	in     io.Reader
	out    bytes.Buffer
	closed bool
	reset  bool
}

func (s *fuzzStream) Read(b []byte) (int, error)       { return s.in.Read(b) }
func (s *fuzzStream) Write(b []byte) (int, error)      { return s.out.Write(b) }
func (s *fuzzStream) Close() error                     { s.closed = true; return nil }
func (s *fuzzStream) Reset() error                     { s.reset = true; return nil }
func (s *fuzzStream) SetDeadline(time.Time) error      { return nil }
func (s *fuzzStream) Conn() network.Conn               { return fuzzConn{} }
func (s *fuzzStream) SetReadDeadline(time.Time) error  { return nil }
func (s *fuzzStream) SetWriteDeadline(time.Time) error { return nil }

type fuzzConn struct{ network.Conn }

func (fuzzConn) RemotePeer() peer.ID { return peer.ID("fuzz") }

// FuzzSyncServer writes fuzzed bytes into a sync stream and lets the
// server handle it. The server answers every stream with exactly one frame
// that a client decodes, and closes it; the answer is a success exactly
// when the bytes start with a well-formed request frame, and then it
// answers that request.
func FuzzSyncServer(f *testing.F) {
	src := fuzzSource(f)
	genesis := fakeGenesis().Hash()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, req := range []request{{kindStatus, 0, 0}, {kindHeaders, 0, 41}, {kindBlocks, 40, 1}} {
		f.Add(frame(rlpOf(f, &req)))
	}
	f.Add(binary.AppendUvarint(nil, 1<<62))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		// A fresh server per input: its rate limiter starts full.
		srv := newServer(src, genesis, Limits{}.withDefaults(), log)
		st := &fuzzStream{in: bytes.NewReader(in)}
		srv.handle(st)
		if st.reset || !st.closed {
			t.Fatalf("stream: reset %v, closed %v; want closed", st.reset, st.closed)
		}
		body, err := readFrame(&st.out, maxBlocksPayload)
		if err != nil {
			t.Fatalf("answer is not a frame: %v", err)
		}
		if st.out.Len() != 0 {
			t.Fatalf("%d bytes after the answer frame", st.out.Len())
		}
		var resp response
		if err := rlp.DecodeBytes(body, &resp); err != nil {
			t.Fatalf("answer does not decode: %v", err)
		}
		raw, rerr := readFrame(bytes.NewReader(in), maxRequestFrame)
		var req request
		if rerr == nil {
			req, rerr = decodeRequest(raw)
		}
		if (rerr == nil) != (resp.Code == codeOK) {
			t.Fatalf("answer code %d (%s) for a request that decodes with %v", resp.Code, resp.Message, rerr)
		}
		if rerr == nil {
			checkAnswer(t, req, resp.Payload)
		}
	})
}
