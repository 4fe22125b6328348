package p2p

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fetcher asks a peer for its status, headers and blocks. The stream client
// implements it over libp2p; tests implement it in memory.
type fetcher interface {
	status(ctx context.Context, p peer.ID) (*statusMsg, error)
	headers(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Header, error)
	// blocks returns canonical blocks from..from+count-1 (or fewer) and
	// the certificate of the last one (nil without one).
	blocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error)
}

// streamClient sends SyncProtocol requests, one stream per request.
type streamClient struct {
	host    host.Host
	timeout time.Duration
}

// roundTrip sends req to p and returns the payload of an OK answer.
func (c *streamClient) roundTrip(ctx context.Context, p peer.ID, req request) (rlp.RawValue, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st, err := c.host.NewStream(ctx, p, SyncProtocol)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := st.SetDeadline(deadline); err != nil {
		_ = st.Reset()
		return nil, err
	}
	b, err := rlp.EncodeToBytes(&req)
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
	raw, err := readFrame(st, maxResponseFrame(req))
	if err != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("read response: %w", err)
	}
	_ = st.Close()
	return decodeResponse(raw)
}

func (c *streamClient) status(ctx context.Context, p peer.ID) (*statusMsg, error) {
	payload, err := c.roundTrip(ctx, p, request{Kind: kindStatus})
	if err != nil {
		return nil, err
	}
	return decodeStatus(payload)
}

func (c *streamClient) headers(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Header, error) {
	payload, err := c.roundTrip(ctx, p, request{Kind: kindHeaders, From: from, Count: count})
	if err != nil {
		return nil, err
	}
	return decodeHeaders(payload, from, count)
}

func (c *streamClient) blocks(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error) {
	payload, err := c.roundTrip(ctx, p, request{Kind: kindBlocks, From: from, Count: count})
	if err != nil {
		return nil, nil, err
	}
	return decodeBlocks(payload, from, count)
}
