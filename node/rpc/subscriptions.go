package rpc

import (
	"context"
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

const (
	// hubBuffer is the backlog between the chain's feeds and the hub.
	hubBuffer = 16
	// subBuffer is the backlog of one subscriber; past it events for that
	// subscriber are dropped (and counted) so a slow client never stalls
	// the chain's feeds.
	subBuffer = 256
	// maxSubscriptions bounds the live subscriptions of a server.
	maxSubscriptions = 10_000
)

// hub holds the server's one subscription to each chain feed and fans
// events out to subscribers without ever blocking the feed.
type hub struct {
	m       *metrics
	headCh  chan *types.Header
	logCh   chan []*types.Log
	headSub event.Subscription
	logSub  event.Subscription

	mu    sync.Mutex
	heads map[chan *types.Header]struct{}
	logs  map[chan []*types.Log]struct{}

	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newHub(chain Chain, m *metrics) *hub {
	h := &hub{
		m:      m,
		headCh: make(chan *types.Header, hubBuffer),
		logCh:  make(chan []*types.Log, hubBuffer),
		heads:  make(map[chan *types.Header]struct{}),
		logs:   make(map[chan []*types.Log]struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
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

var errTooManySubscriptions = limitExceeded("too many subscriptions (at most %d)", maxSubscriptions)

// add registers a subscriber channel in set; the returned func removes it.
func add[T any](h *hub, set map[chan T]struct{}) (chan T, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.heads)+len(h.logs) >= maxSubscriptions {
		return nil, nil, errTooManySubscriptions
	}
	c := make(chan T, subBuffer)
	set[c] = struct{}{}
	h.m.subs.Inc()
	return c, func() {
		h.mu.Lock()
		delete(set, c)
		h.mu.Unlock()
		h.m.subs.Dec()
	}, nil
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
	ch, remove, err := add(api.hub, api.hub.heads)
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
	ch, remove, err := add(api.hub, api.hub.logs)
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
