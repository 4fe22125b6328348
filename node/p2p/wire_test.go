package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

func frame(body []byte) []byte {
	var b bytes.Buffer
	_ = writeFrame(&b, body)
	return b.Bytes()
}

func mustRLP(t *testing.T, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func TestReadFrame(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<40)
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  []byte
		err   error
	}{
		{"ok", frame([]byte("abc")), 8, []byte("abc"), nil},
		{"empty body", frame(nil), 8, []byte{}, nil},
		{"at limit", frame(make([]byte, 8)), 8, make([]byte, 8), nil},
		{"over limit", frame(make([]byte, 9)), 8, nil, errFrameTooLarge},
		{"huge length, no body", huge, maxRequestFrame, nil, errFrameTooLarge},
		{"length overflows 64 bits", bytes.Repeat([]byte{0xff}, 11), 8, nil, errMalformed},
		{"no length", nil, 8, nil, errMalformed},
		{"truncated length", []byte{0x80}, 8, nil, errMalformed},
		{"truncated body", frame([]byte("abcdef"))[:4], 8, nil, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A plain reader, as a stream is: no ReadByte.
			got, err := readFrame(struct{ *bytes.Reader }{bytes.NewReader(tt.in)}, tt.limit)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err: have %v, want %v", err, tt.err)
			}
			if err == nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("body: have %x, want %x", got, tt.want)
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want request
		err  error
	}{
		{"status", mustRLP(t, &request{Kind: kindStatus}), request{Kind: kindStatus}, nil},
		{"headers", mustRLP(t, &request{Kind: kindHeaders, From: 5, Count: 3}), request{kindHeaders, 5, 3}, nil},
		{"blocks", mustRLP(t, &request{Kind: kindBlocks, From: 1, Count: 1 << 60}), request{kindBlocks, 1, 1 << 60}, nil},
		{"zero count", mustRLP(t, &request{Kind: kindBlocks, From: 1}), request{}, errMalformed},
		{"unknown kind", mustRLP(t, &request{Kind: 9}), request{}, errUnknownKind},
		{"not rlp", []byte{0xff, 0x00, 0x13}, request{}, errMalformed},
		{"empty", nil, request{}, errMalformed},
		{"too many fields", mustRLP(t, []uint64{1, 2, 3, 4}), request{}, errMalformed},
		{"too few fields", mustRLP(t, []uint64{1}), request{}, errMalformed},
		{"trailing bytes", append(mustRLP(t, &request{Kind: kindStatus}), 0x01), request{}, errMalformed},
		{"field too wide", mustRLP(t, []*big.Int{big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 70), big.NewInt(1)}), request{}, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err: have %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("request: have %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRequestFitsFrame(t *testing.T) {
	max := mustRLP(t, &request{Kind: kindBlocks, From: ^uint64(0), Count: ^uint64(0)})
	if len(max) > maxRequestFrame {
		t.Fatalf("largest request: have %d bytes, want at most %d", len(max), maxRequestFrame)
	}
}

func TestDecodeResponse(t *testing.T) {
	enc := func(code uint64, msg string) []byte {
		b, err := encodeResponse(code, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"ok", enc(codeOK, ""), nil},
		{"rate limited", enc(codeRateLimited, "slow down"), errRateLimited},
		{"bad request", enc(codeBadRequest, "no"), errRemote},
		{"unknown code", enc(77, "?"), errRemote},
		{"garbage", []byte{0xc1}, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeResponse(tt.in); !errors.Is(err, tt.err) {
				t.Fatalf("have %v, want %v", err, tt.err)
			}
		})
	}
}

// linkedHeaders returns n headers numbered from 1, each the child of the
// previous.
func linkedHeaders(n int) []*types.Header {
	hs := make([]*types.Header, n)
	parent := common.Hash{}
	for i := range hs {
		hs[i] = &types.Header{Number: big.NewInt(int64(i + 1)), ParentHash: parent, Difficulty: big.NewInt(1)}
		parent = hs[i].Hash()
	}
	return hs
}

func TestDecodeHeadersAndBlocks(t *testing.T) {
	hs := linkedHeaders(4)
	blocks := func(hs []*types.Header) []*types.Block {
		out := make([]*types.Block, len(hs))
		for i, h := range hs {
			out[i] = types.NewBlockWithHeader(h)
		}
		return out
	}
	unlinked := linkedHeaders(4)
	unlinked[2] = &types.Header{Number: big.NewInt(3), ParentHash: common.Hash{1}, Difficulty: big.NewInt(1)}
	tests := []struct {
		name        string
		hs          []*types.Header
		from, count uint64
		err         error
	}{
		{"ok", hs, 1, 4, nil},
		{"fewer than asked", hs[:2], 1, 4, nil},
		{"none", nil, 1, 4, nil},
		{"more than asked", hs, 1, 3, errBadResponse},
		{"wrong start", hs, 2, 4, errBadResponse},
		{"broken link", unlinked, 1, 4, errBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := tt.hs
			if hs == nil {
				hs = []*types.Header{}
			}
			if _, err := decodeHeaders(mustRLP(t, hs), tt.from, tt.count); !errors.Is(err, tt.err) {
				t.Fatalf("headers: have %v, want %v", err, tt.err)
			}
			if _, _, err := decodeBlocks(mustRLP(t, blocksPayload{Blocks: rawBlocks(t, blocks(hs))}), tt.from, tt.count); !errors.Is(err, tt.err) {
				t.Fatalf("blocks: have %v, want %v", err, tt.err)
			}
		})
	}
	if _, _, err := decodeBlocks([]byte{0xc2, 0x01, 0x02}, 1, 1); !errors.Is(err, errMalformed) {
		t.Fatalf("garbage blocks: have %v, want %v", err, errMalformed)
	}
	big := blocksPayload{Blocks: rawBlocks(t, blocks(hs[:1])), Cert: make([]byte, maxCertificate+1)}
	if _, _, err := decodeBlocks(mustRLP(t, big), 1, 1); !errors.Is(err, errBadResponse) {
		t.Fatalf("oversized certificate: have %v, want %v", err, errBadResponse)
	}
	withCert := blocksPayload{Blocks: rawBlocks(t, blocks(hs[:1])), Cert: []byte{1, 2, 3}}
	if _, cert, err := decodeBlocks(mustRLP(t, withCert), 1, 1); err != nil || string(cert) != string([]byte{1, 2, 3}) {
		t.Fatalf("certificate: have %x, %v", cert, err)
	}
	if _, err := decodeStatus(mustRLP(t, []any{uint64(1), common.Hash{}})); !errors.Is(err, errMalformed) {
		t.Fatalf("short status: have %v, want %v", err, errMalformed)
	}
}

// rawBlocks encodes each block.
func rawBlocks(t *testing.T, bs []*types.Block) []rlp.RawValue {
	t.Helper()
	out := []rlp.RawValue{}
	for _, b := range bs {
		out = append(out, mustRLP(t, b))
	}
	return out
}

// timeoutErr is a stream's deadline error as a multiplexer reports it: a
// net.Error whose Timeout is true, not os.ErrDeadlineExceeded.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o deadline reached" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type timingOut struct{}

func (timingOut) Read([]byte) (int, error) { return 0, timeoutErr{} }

// TestReadFrameKeepsTimeouts: a deadline that passes while the length is
// awaited is reported as a timeout, not as a malformed frame, so that the
// puller can tell a slow peer from a wrong one.
func TestReadFrameKeepsTimeouts(t *testing.T) {
	_, err := readFrame(timingOut{}, 1024)
	if errors.Is(err, errMalformed) || !timedOut(err) {
		t.Fatalf("readFrame at a deadline: have %v (malformed %v, timed out %v), want a timeout", err, errors.Is(err, errMalformed), timedOut(err))
	}
	if timedOut(errMalformed) || timedOut(errors.New("reset")) {
		t.Fatal("timedOut takes other errors for timeouts")
	}
}
