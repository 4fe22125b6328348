package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/arbiter-chain/arbiter/node/chain"
)

// SyncProtocol is the request/response stream protocol that serves the
// chain's status and canonical blocks by number. One request per stream:
// the client writes a request frame and closes its side; the server writes
// one response frame and closes the stream.
//
// A frame is a uvarint length followed by that many bytes of RLP.
//
//	request:  [kind, from, count]            kind 0 Status, 1 GetHeaders, 2 GetBlocks
//	response: [code, message, payload]       code 0 ok; payload by kind:
//	  Status:     [number, hash, td, genesis]
//	  GetHeaders: [header, ...]              canonical, from, from+1, ...
//	  GetBlocks:  [[block, ...], cert]       canonical, from, from+1, ...; cert is the
//	                                         last block's certificate (empty without one)
//
// Under a certifying engine (proof-of-stake) every block of a GetBlocks
// answer but the last is certified by the header of the block after it;
// cert certifies the last, so each answer can be imported on its own.
const SyncProtocol protocol.ID = "/arbiter/sync/2"

// Request kinds.
const (
	kindStatus  uint64 = 0
	kindHeaders uint64 = 1
	kindBlocks  uint64 = 2
)

// Response codes.
const (
	codeOK          uint64 = 0
	codeBadRequest  uint64 = 1
	codeRateLimited uint64 = 2
	codeUnavailable uint64 = 3
)

// Hard bounds of the wire protocol, independent of configuration: what a
// frame may hold before it is decoded.
const (
	maxRequestFrame       = 64
	maxBlocksPerResponse  = 1024
	maxHeadersPerResponse = 1024
	maxHeaderSize         = chain.MaxExtra + 1024
	maxStatusFrame        = 1024
	maxErrorMessage       = 256
	// maxResponseBytes caps Limits.MaxResponseBytes. A GetBlocks answer
	// stops before MaxResponseBytes unless it holds one block, which is at
	// most chain.MaxBlockSize; the envelope adds a few bytes.
	maxResponseBytes = 2 * chain.MaxBlockSize
	maxBlocksPayload = maxResponseBytes + 64<<10
	// maxCertificate bounds the certificate in a GetBlocks answer (a pos
	// commit of MaxValidators signatures is under 9 KiB).
	maxCertificate = 16 << 10
)

// Wire errors.
var (
	// errFrameTooLarge is returned for a frame whose length prefix exceeds
	// the bound for what is expected.
	errFrameTooLarge = errors.New("frame too large")
	// errMalformed is returned for a frame that does not decode.
	errMalformed = errors.New("malformed message")
	// errUnknownKind is returned for a request of an unknown kind.
	errUnknownKind = errors.New("unknown request kind")
	// errRateLimited is returned by a client whose request the server
	// refused for its rate.
	errRateLimited = errors.New("rate limited by peer")
	// errRemote is returned by a client for any other error response.
	errRemote = errors.New("peer answered with an error")
	// errBadResponse is returned for a response that does not answer the
	// request: wrong numbers, broken parent links, too many items.
	errBadResponse = errors.New("bad response")
)

type request struct {
	Kind  uint64
	From  uint64
	Count uint64
}

type response struct {
	Code    uint64
	Message string
	Payload rlp.RawValue
}

// statusMsg is a peer's view of its chain.
type statusMsg struct {
	Number  uint64
	Hash    common.Hash
	TD      *big.Int
	Genesis common.Hash
}

// writeFrame writes a length-prefixed frame.
func writeFrame(w io.Writer, b []byte) error {
	var prefix [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(prefix[:], uint64(len(b)))
	if _, err := w.Write(append(prefix[:n:n], b...)); err != nil {
		return err
	}
	return nil
}

// readFrame reads one length-prefixed frame of at most limit bytes. The
// length is checked before anything is allocated.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	br, ok := r.(io.ByteReader)
	if !ok {
		br = &byteReader{r: r}
	}
	size, err := binary.ReadUvarint(br)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: truncated length", errMalformed)
	case timedOut(err):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: length: %v", errMalformed, err)
	case size > uint64(limit):
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, size, limit)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated frame", errMalformed)
		}
		return nil, err
	}
	return buf, nil
}

// byteReader reads a stream one byte at a time, so that reading the length
// prefix never consumes bytes of the body.
type byteReader struct {
	r   io.Reader
	one [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.one[:]); err != nil {
		return 0, err
	}
	return b.one[0], nil
}

// decodeRequest decodes and checks a request frame.
func decodeRequest(b []byte) (request, error) {
	var req request
	if err := rlp.DecodeBytes(b, &req); err != nil {
		return req, fmt.Errorf("%w: %v", errMalformed, err)
	}
	switch req.Kind {
	case kindStatus:
	case kindHeaders, kindBlocks:
		if req.Count == 0 {
			return req, fmt.Errorf("%w: count 0", errMalformed)
		}
	default:
		return req, fmt.Errorf("%w: %d", errUnknownKind, req.Kind)
	}
	return req, nil
}

// maxResponseFrame is the most a client reads in answer to req.
func maxResponseFrame(req request) int {
	switch req.Kind {
	case kindStatus:
		return maxStatusFrame
	case kindHeaders:
		n := min(req.Count, maxHeadersPerResponse)
		return int(n)*maxHeaderSize + 1024
	default:
		return maxBlocksPayload
	}
}

// decodeResponse decodes a response frame, turning an error code into an error.
func decodeResponse(b []byte) (rlp.RawValue, error) {
	var resp response
	if err := rlp.DecodeBytes(b, &resp); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	msg := resp.Message
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	switch resp.Code {
	case codeOK:
		return resp.Payload, nil
	case codeRateLimited:
		return nil, fmt.Errorf("%w: %q", errRateLimited, msg)
	default:
		return nil, fmt.Errorf("%w: code %d: %q", errRemote, resp.Code, msg)
	}
}

func decodeStatus(payload []byte) (*statusMsg, error) {
	var st statusMsg
	if err := rlp.DecodeBytes(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: status: %v", errMalformed, err)
	}
	if st.TD == nil {
		return nil, fmt.Errorf("%w: status without total difficulty", errBadResponse)
	}
	return &st, nil
}

// decodeHeaders decodes a GetHeaders answer and checks it holds at most
// count consecutive headers starting at from.
func decodeHeaders(payload []byte, from, count uint64) ([]*types.Header, error) {
	var hs []*types.Header
	if err := rlp.DecodeBytes(payload, &hs); err != nil {
		return nil, fmt.Errorf("%w: headers: %v", errMalformed, err)
	}
	if uint64(len(hs)) > count {
		return nil, fmt.Errorf("%w: %d headers for %d asked", errBadResponse, len(hs), count)
	}
	for i, h := range hs {
		if h.Number == nil || !h.Number.IsUint64() || h.Number.Uint64() != from+uint64(i) {
			return nil, fmt.Errorf("%w: header %d has number %v, want %d", errBadResponse, i, h.Number, from+uint64(i))
		}
		if i > 0 && h.ParentHash != hs[i-1].Hash() {
			return nil, fmt.Errorf("%w: header %d does not link to its predecessor", errBadResponse, h.Number)
		}
	}
	return hs, nil
}

// blocksPayload is the payload of a GetBlocks answer.
type blocksPayload struct {
	Blocks []rlp.RawValue
	Cert   []byte
}

// decodeBlocks decodes a GetBlocks answer and checks it holds at most count
// linked blocks starting at from, and a certificate of bounded size for the
// last (empty if the server has none).
func decodeBlocks(payload []byte, from, count uint64) ([]*types.Block, []byte, error) {
	var p blocksPayload
	if err := rlp.DecodeBytes(payload, &p); err != nil {
		return nil, nil, fmt.Errorf("%w: blocks: %v", errMalformed, err)
	}
	if uint64(len(p.Blocks)) > count {
		return nil, nil, fmt.Errorf("%w: %d blocks for %d asked", errBadResponse, len(p.Blocks), count)
	}
	if len(p.Cert) > maxCertificate {
		return nil, nil, fmt.Errorf("%w: certificate of %d bytes", errBadResponse, len(p.Cert))
	}
	bs := make([]*types.Block, len(p.Blocks))
	for i, raw := range p.Blocks {
		b := new(types.Block)
		if err := rlp.DecodeBytes(raw, b); err != nil {
			return nil, nil, fmt.Errorf("%w: block %d: %v", errMalformed, i, err)
		}
		if b.NumberU64() != from+uint64(i) || !b.Number().IsUint64() {
			return nil, nil, fmt.Errorf("%w: block %d has number %v, want %d", errBadResponse, i, b.Number(), from+uint64(i))
		}
		if i > 0 && b.ParentHash() != bs[i-1].Hash() {
			return nil, nil, fmt.Errorf("%w: block %d does not link to its predecessor", errBadResponse, b.NumberU64())
		}
		bs[i] = b
	}
	if len(p.Cert) == 0 {
		p.Cert = nil
	}
	return bs, p.Cert, nil
}

func encodeResponse(code uint64, msg string, payload rlp.RawValue) ([]byte, error) {
	if payload == nil {
		payload = rlp.EmptyList
	}
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	return rlp.EncodeToBytes(&response{Code: code, Message: msg, Payload: payload})
}

// timedOut reports whether err is a request's deadline passing (the
// context's, or the stream's that roundTrip sets from it), not an answer
// that was wrong.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}
