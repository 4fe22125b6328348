package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// The request protocols (sync and transaction pulling) share one shape: a
// stream per request, one length-prefixed RLP request frame, then one
// response frame (code, message, payload) and the stream closed.

// answerFunc reads a request from st, sent by p, and returns the response.
type answerFunc func(st network.Stream, p peer.ID) (code uint64, msg string, payload rlp.RawValue)

// serveRequest answers the one request on st before deadline, logging a
// refusal as what.
func serveRequest(st network.Stream, deadline time.Time, answer answerFunc, log *slog.Logger, what string) {
	p := st.Conn().RemotePeer()
	if err := st.SetDeadline(deadline); err != nil {
		_ = st.Reset()
		return
	}
	code, msg, payload := answer(st, p)
	if code != codeOK {
		log.Debug(what+" refused", "peer", p, "code", code, "reason", msg)
	}
	b, err := encodeResponse(code, msg, payload)
	if err == nil {
		err = writeFrame(st, b)
	}
	if err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// roundTrip opens a stream of proto to p, sends req, and returns the
// payload of an OK response of at most limit bytes, all within timeout.
func roundTrip(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, timeout time.Duration, req any, limit int) (rlp.RawValue, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := st.SetDeadline(deadline); err != nil {
		_ = st.Reset()
		return nil, err
	}
	b, err := rlp.EncodeToBytes(req)
	if err == nil {
		err = writeFrame(st, b)
	}
	if err == nil {
		err = st.CloseWrite()
	}
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("send request: %w", err)
	}
	raw, err := readFrame(st, limit)
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("read response: %w", err)
	}
	_ = st.Close()
	return decodeResponse(raw)
}
