package rpc

import (
	"context"
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/arbiter-chain/arbiter/internal/rpclimit"
)

const (
	// hubBuffer is the backlog between the chain's feeds and the hub.
	hubBuffer = 16
	// subBuffer is the backlog of one subscriber; past it events for that
	// subscriber are dropped (and counted) so a slow client never stalls
	// the chain's feeds.
	subBuffer = 256
)

// hub holds the server's one subscription to each chain feed and fans
// events out to subscribers without ever blocking the feed.
type hub struct {
	m       *metrics
	limits  subLimits
	headCh  chan *types.Header
	logCh   chan []*types.Log
	headSub event.Subscription
	logSub  event.Subscription

	mu        sync.Mutex
	heads     map[chan *types.Header]struct{}
	logs      map[chan []*types.Log]struct{}
	perConn   map[*gethrpc.Client]int // live subscriptions by connection
	perClient map[string]int          // live subscriptions by client key

	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// subLimits bound the live subscriptions of the server, of one
// connection and of one client key (see owner).
type subLimits struct {
	total, perConn, perClient int
}

func newHub(chain Chain, m *metrics, limits subLimits) *hub {
	h := &hub{
		m:         m,
		limits:    limits,
		perConn:   make(map[*gethrpc.Client]int),
		perClient: make(map[string]int),
		headCh:    make(chan *types.Header, hubBuffer),
		logCh:     make(chan []*types.Log, hubBuffer),
		heads:     make(map[chan *types.Header]struct{}),
		logs:      make(map[chan []*types.Log]struct{}),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	h.headSub = chain.SubscribeNewHeads(h.headCh)
	h.logSub = chain.SubscribeLogs(h.logCh)
	go h.loop()
	return h
}

func (h *hub) loop() {
	defer close(h.done)
	defer h.headSub.Unsubscribe()
	defer h.logSub.Unsubscribe()
	for {
		select {
		case head := <-h.headCh:
			h.mu.Lock()
			for c := range h.heads {
				select {
				case c <- head:
				default:
					h.m.dropped.Inc()
				}
			}
			h.mu.Unlock()
		case logs := <-h.logCh:
			h.mu.Lock()
			for c := range h.logs {
				select {
				case c <- logs:
				default:
					h.m.dropped.Inc()
				}
			}
			h.mu.Unlock()
		case <-h.headSub.Err():
			return
		case <-h.logSub.Err():
			return
		case <-h.quit:
			return
		}
	}
}

func (h *hub) close() {
	h.closeOnce.Do(func() { close(h.quit) })
	<-h.done
}

// add registers a subscriber channel of o in set, within the server's,
// the connection's and the client's bounds; the returned func removes it.
func add[T any](h *hub, set map[chan T]struct{}, o owner) (chan T, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perConn[o.conn] >= h.limits.perConn {
		return nil, nil, limitExceeded("too many subscriptions on this connection (at most %d)", h.limits.perConn)
	}
	if h.perClient[o.client] >= h.limits.perClient {
		return nil, nil, limitExceeded("too many subscriptions from this client address (at most %d across its connections)", h.limits.perClient)
	}
	if len(h.heads)+len(h.logs) >= h.limits.total {
		return nil, nil, limitExceeded("too many subscriptions (at most %d)", h.limits.total)
	}
	c := make(chan T, subBuffer)
	set[c] = struct{}{}
	h.perConn[o.conn]++
	h.perClient[o.client]++
	h.m.Subscriptions.Inc()
	return c, func() {
		h.mu.Lock()
		delete(set, c)
		if h.perConn[o.conn]--; h.perConn[o.conn] <= 0 {
			delete(h.perConn, o.conn)
		}
		if h.perClient[o.client]--; h.perClient[o.client] <= 0 {
			delete(h.perClient, o.client)
		}
		h.mu.Unlock()
		h.m.Subscriptions.Dec()
	}, nil
}

// owner is who a subscription counts against: its connection, and its
// client key (rpclimit.ClientKey of the connection's remote address: an
// IPv4 address or an IPv6 /64), so that a client cannot take every slot
// of the server by opening many connections. A connection without a
// remote address (in-process) has the empty key; all such connections
// share one bound.
type owner struct {
	conn   *gethrpc.Client
	client string
}

// ownerOf returns the owner of a subscription call: the WebSocket's
// client, which go-ethereum's server puts in the context of every call it
// serves on that connection, and the client key of its remote address
// (for a WebSocket the address of the TCP connection, whatever proxy
// headers say).
func ownerOf(ctx context.Context) (owner, error) {
	if _, ok := gethrpc.NotifierFromContext(ctx); !ok {
		return owner{}, gethrpc.ErrNotificationsUnsupported
	}
	c, ok := gethrpc.ClientFromContext(ctx)
	if !ok {
		return owner{}, gethrpc.ErrNotificationsUnsupported
	}
	return owner{conn: c, client: rpclimit.ClientKey(gethrpc.PeerInfoFromContext(ctx).RemoteAddr)}, nil
}

// subscribe starts a subscription that feeds each event from ch through
// send until the client unsubscribes, the connection drops or the server
// closes.
func subscribe[T any](ctx context.Context, h *hub, ch chan T, remove func(), send func(n *gethrpc.Notifier, id gethrpc.ID, ev T) error) (*gethrpc.Subscription, error) {
	n, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		remove()
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	sub := n.CreateSubscription()
	go func() {
		defer remove()
		for {
			select {
			case ev := <-ch:
				if err := send(n, sub.ID, ev); err != nil {
					return
				}
			case <-sub.Err():
				return
			case <-h.quit:
				return
			}
		}
	}()
	return sub, nil
}

// NewHeads is eth_subscribe("newHeads"): each new head header.
func (api *ethAPI) NewHeads(ctx context.Context) (*gethrpc.Subscription, error) {
	o, err := ownerOf(ctx)
	if err != nil {
		return nil, err
	}
	ch, remove, err := add(api.hub, api.hub.heads, o)
	if err != nil {
		return nil, err
	}
	return subscribe(ctx, api.hub, ch, remove, func(n *gethrpc.Notifier, id gethrpc.ID, head *types.Header) error {
		return n.Notify(id, head)
	})
}

// Logs is eth_subscribe("logs", filter): each new log matching the
// filter's addresses and topics, one notification per log. fromBlock and
// toBlock are ignored (only new logs are sent); blockHash is refused.
func (api *ethAPI) Logs(ctx context.Context, q filterQuery) (*gethrpc.Subscription, error) {
	if q.BlockHash != nil {
		return nil, errors.New("blockHash is not supported in a logs subscription")
	}
	o, err := ownerOf(ctx)
	if err != nil {
		return nil, err
	}
	ch, remove, err := add(api.hub, api.hub.logs, o)
	if err != nil {
		return nil, err
	}
	return subscribe(ctx, api.hub, ch, remove, func(n *gethrpc.Notifier, id gethrpc.ID, logs []*types.Log) error {
		for _, l := range logs {
			if !q.matches(l) {
				continue
			}
			if err := n.Notify(id, l); err != nil {
				return err
			}
		}
		return nil
	})
}
