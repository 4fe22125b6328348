package p2p

import (
	"context"
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
	return roundTrip(ctx, c.host, p, SyncProtocol, c.timeout, &req, maxResponseFrame(req))
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
