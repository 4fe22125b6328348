package dynamostore

import (
	"context"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// pollTimeout bounds one poll, so that a request the server never
// answers cannot stall a game's watchers for good.
const pollTimeout = 10 * time.Second

// pollers runs one poller per watched game, shared by all of the game's
// watchers on this handle, so the reads a handle makes grow with the games
// it watches, not with its watchers.
type pollers struct {
	interval time.Duration
	headPly  func(context.Context, common.Hash) (uint32, error)

	mu     sync.Mutex
	games  map[common.Hash]*poller
	closed bool
}

// poller polls one game's newest ply for its watchers.
type poller struct {
	subs map[chan struct{}]struct{}
	stop context.CancelFunc
}

func newPollers(interval time.Duration, headPly func(context.Context, common.Hash) (uint32, error)) *pollers {
	return &pollers{interval: interval, headPly: headPly, games: make(map[common.Hash]*poller)}
}

// watch registers a watcher of id until ctx is done. A game without a
// poller gets one whose first read of the newest ply happens before watch
// returns: an Append that commits afterwards changes what the poller
// reads next, and so wakes the watcher.
func (p *pollers) watch(ctx context.Context, id common.Hash) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	g := p.games[id]
	if g != nil {
		g.subs[ch] = struct{}{}
		p.mu.Unlock()
	} else {
		p.mu.Unlock()
		first, err := p.headPly(ctx, id)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		if g = p.games[id]; g != nil { // another watcher started one meanwhile
			g.subs[ch] = struct{}{}
		} else if !p.closed {
			pctx, stop := context.WithCancel(context.Background())
			g = &poller{subs: map[chan struct{}]struct{}{ch: {}}, stop: stop}
			p.games[id] = g
			go p.run(pctx, id, first)
		}
		p.mu.Unlock()
	}
	context.AfterFunc(ctx, func() { p.leave(id, ch) })
	return ch, nil
}

// leave removes a watcher, stopping the game's poller with the last one.
func (p *pollers) leave(id common.Hash, ch chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.games[id]
	if g == nil {
		return
	}
	delete(g.subs, ch)
	if len(g.subs) == 0 {
		g.stop()
		delete(p.games, id)
	}
}

// run reads the game's newest ply every interval and wakes the watchers
// when it differs from the last read. A failed read is retried at the
// next tick.
func (p *pollers) run(ctx context.Context, id common.Hash, last uint32) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, pollTimeout)
		ply, err := p.headPly(rctx, id)
		cancel()
		if err != nil || ply == last {
			continue
		}
		last = ply
		p.notify(id)
	}
}

// notify wakes every watcher of id without blocking.
func (p *pollers) notify(id common.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.games[id]; g != nil {
		for ch := range g.subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// close stops every poller; later watches get channels that never fire.
func (p *pollers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, g := range p.games {
		g.stop()
		delete(p.games, id)
	}
}
