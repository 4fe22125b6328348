package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// blockSource is what the sync server reads.
type blockSource interface {
	CurrentBlock() *types.Block
	GetHeaderByNumber(number uint64) *types.Header
	GetBlockByNumber(number uint64) *types.Block
	GetTD(hash common.Hash, number uint64) *big.Int
	// Certificate returns a block's certificate, or nil.
	Certificate(hash common.Hash, number uint64) []byte
}

// errNoTD is served when the head's total difficulty cannot be read.
var errNoTD = errors.New("head total difficulty unavailable")

// serve answers a decoded request from src within limits. It returns the
// response code, an error message and the payload.
func serve(src blockSource, genesis common.Hash, req request, l Limits) (uint64, string, rlp.RawValue) {
	switch req.Kind {
	case kindStatus:
		head := src.CurrentBlock()
		td := src.GetTD(head.Hash(), head.NumberU64())
		if td == nil {
			return codeUnavailable, errNoTD.Error(), nil
		}
		b, err := rlp.EncodeToBytes(&statusMsg{Number: head.NumberU64(), Hash: head.Hash(), TD: td, Genesis: genesis})
		if err != nil {
			return codeUnavailable, err.Error(), nil
		}
		return codeOK, "", b
	case kindHeaders:
		var hs []*types.Header
		for i := uint64(0); i < min(req.Count, uint64(l.MaxHeadersPerResponse)); i++ {
			n := req.From + i
			if n < req.From { // overflow
				break
			}
			h := src.GetHeaderByNumber(n)
			if h == nil {
				break
			}
			hs = append(hs, h)
		}
		return encodeList(hs)
	case kindBlocks:
		var (
			raws []rlp.RawValue
			size int
			last *types.Block
		)
		for i := uint64(0); i < min(req.Count, uint64(l.MaxBlocksPerResponse)); i++ {
			n := req.From + i
			if n < req.From {
				break
			}
			b := src.GetBlockByNumber(n)
			if b == nil {
				break
			}
			enc, err := rlp.EncodeToBytes(b)
			if err != nil {
				return codeUnavailable, err.Error(), nil
			}
			if len(raws) > 0 && size+len(enc) > l.MaxResponseBytes {
				break
			}
			raws = append(raws, enc)
			size += len(enc)
			last = b
		}
		p := blocksPayload{Blocks: raws}
		if p.Blocks == nil {
			p.Blocks = []rlp.RawValue{}
		}
		if last != nil {
			p.Cert = src.Certificate(last.Hash(), last.NumberU64())
		}
		b, err := rlp.EncodeToBytes(&p)
		if err != nil {
			return codeUnavailable, err.Error(), nil
		}
		return codeOK, "", b
	default:
		return codeBadRequest, errUnknownKind.Error(), nil
	}
}

func encodeList[T any](items []T) (uint64, string, rlp.RawValue) {
	if items == nil {
		items = []T{}
	}
	b, err := rlp.EncodeToBytes(items)
	if err != nil {
		return codeUnavailable, err.Error(), nil
	}
	return codeOK, "", b
}

// bucket is a token bucket: it holds up to burst tokens and gains rate
// tokens per second.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket for the time since its last use and takes one
// token if there is one.
func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(burst, b.tokens+el*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter keeps one token bucket per peer. Its map is bounded by the
// number of connected members (the gater admits nobody else) and a peer's
// bucket is dropped when it disconnects.
type limiter struct {
	rate, burst float64

	mu    sync.Mutex
	peers map[peer.ID]*bucket
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), peers: make(map[peer.ID]*bucket)}
}

// allow takes a token from p's bucket; a new peer starts with a full bucket.
func (l *limiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.peers[p]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.peers[p] = b
	}
	return b.take(now, l.rate, l.burst)
}

// forget drops p's bucket.
func (l *limiter) forget(p peer.ID) {
	l.mu.Lock()
	delete(l.peers, p)
	l.mu.Unlock()
}

// server answers SyncProtocol streams.
type server struct {
	chain   blockSource
	genesis common.Hash
	limits  Limits
	limiter *limiter
	log     *slog.Logger
	now     func() time.Time
}

func newServer(c blockSource, genesis common.Hash, l Limits, log *slog.Logger) *server {
	return &server{chain: c, genesis: genesis, limits: l, limiter: newLimiter(l.RequestRate, l.RequestBurst), log: log, now: time.Now}
}

// handle serves one request on st and closes it. A request that is too
// large, malformed or over the peer's rate is answered with an error and
// the stream is closed.
func (s *server) handle(st network.Stream) {
	serveRequest(st, s.now().Add(s.limits.RequestTimeout), s.answer, s.log, "sync request")
}

func (s *server) answer(st network.Stream, p peer.ID) (uint64, string, rlp.RawValue) {
	raw, err := readFrame(st, maxRequestFrame)
	// Every request costs a token, malformed ones included.
	if !s.limiter.allow(p, s.now()) {
		return codeRateLimited, "too many requests", nil
	}
	if err != nil {
		return codeBadRequest, fmt.Sprintf("read request: %v", err), nil
	}
	req, err := decodeRequest(raw)
	if err != nil {
		return codeBadRequest, err.Error(), nil
	}
	return serve(s.chain, s.genesis, req, s.limits)
}
