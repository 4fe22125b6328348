package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	// ancestorWindow is how many headers below the lower of the two heads
	// are compared at once before the search turns to bisection.
	ancestorWindow = 64
	// peerCooldown is how long a peer that failed a sync is left alone.
	peerCooldown = 30 * time.Second
	// progressEvery is how often a running sync logs its progress.
	progressEvery = 2 * time.Second
	// rateLimitRetries and rateLimitWait shape retries of a request the
	// peer refused for its rate.
	rateLimitRetries = 5
	rateLimitWait    = 200 * time.Millisecond
	// maxRoundsPerTrigger bounds the sync sessions one trigger starts.
	maxRoundsPerTrigger = 8
)

// Sync errors.
var (
	// errNoAncestor is returned when a peer shares not even our genesis.
	errNoAncestor = errors.New("no common ancestor")
	// errGenesisMismatch is returned for a peer on another network.
	errGenesisMismatch = errors.New("peer runs another genesis")
	// errNoProgress is returned when a peer claims a heavier chain but
	// serves no block past the common ancestor.
	errNoProgress = errors.New("peer claims a heavier chain but serves no new block")
)

// syncChain is what the syncer reads and imports into.
type syncChain interface {
	CurrentBlock() *types.Block
	GetHeaderByNumber(number uint64) *types.Header
	GetTD(hash common.Hash, number uint64) *big.Int
	InsertChain(blocks []*types.Block, tipCert []byte) (int, error)
	// PrefetchSignatures readies the signature checks of blocks about to
	// be imported; it returns when done or when stop closes.
	PrefetchSignatures(blocks []*types.Block, stop <-chan struct{})
}

// syncer catches the chain up with heavier peers: it compares status with
// peers when one connects, periodically, and when a gossiped block has an
// unknown parent; it finds the common ancestor with the best peer and
// imports the peer's blocks after it in batches. Everything but hints is
// owned by the goroutine running run.
type syncer struct {
	chain    syncChain
	fetch    fetcher
	peers    func() []peer.ID
	genesis  common.Hash
	batch    uint64
	interval time.Duration
	log      *slog.Logger
	metrics  *metrics
	mark     func(common.Hash) // told of every block before import
	now      func() time.Time
	wait     time.Duration // first wait after a rate-limit refusal

	hints    chan peer.ID
	cooldown map[peer.ID]time.Time
}

func newSyncer(c syncChain, f fetcher, peers func() []peer.ID, genesis common.Hash, l Limits, log *slog.Logger, m *metrics, mark func(common.Hash)) *syncer {
	return &syncer{
		chain: c, fetch: f, peers: peers, genesis: genesis,
		batch: uint64(l.SyncBatch), interval: l.SyncInterval,
		log: log, metrics: m, mark: mark, now: time.Now, wait: rateLimitWait,
		hints:    make(chan peer.ID, 64),
		cooldown: make(map[peer.ID]time.Time),
	}
}

// hint asks the syncer to compare status with p soon. It never blocks: if
// hints are queued already the periodic round will see p.
func (s *syncer) hint(p peer.ID) {
	select {
	case s.hints <- p:
	default:
	}
}

// run syncs until ctx ends.
func (s *syncer) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.hints:
			set := map[peer.ID]bool{p: true}
			for drained := false; !drained; {
				select {
				case q := <-s.hints:
					set[q] = true
				default:
					drained = true
				}
			}
			cands := make([]peer.ID, 0, len(set))
			for q := range set {
				cands = append(cands, q)
			}
			s.round(ctx, cands)
		case <-t.C:
			s.round(ctx, s.peers())
		}
	}
}

// round syncs from the heaviest of candidates while one is heavier than us.
func (s *syncer) round(ctx context.Context, candidates []peer.ID) {
	for i := 0; i < maxRoundsPerTrigger && ctx.Err() == nil; i++ {
		p, st := s.best(ctx, candidates)
		if st == nil {
			return
		}
		n, err := s.syncFrom(ctx, p, st)
		if err == nil && n == 0 {
			// Gossip may have brought the peer's head between its status
			// and our fetch; that is progress, not a peer to avoid.
			head := s.chain.CurrentBlock()
			if td := s.chain.GetTD(head.Hash(), head.NumberU64()); td != nil && td.Cmp(st.TD) >= 0 {
				continue
			}
			err = errNoProgress
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("sync from peer failed", "peer", p, "err", err)
				s.cooldown[p] = s.now().Add(peerCooldown)
			}
			continue
		}
	}
}

// best asks candidates for their status and returns the one with the most
// total difficulty above ours, or a nil status if none is heavier.
func (s *syncer) best(ctx context.Context, candidates []peer.ID) (peer.ID, *statusMsg) {
	head := s.chain.CurrentBlock()
	td := s.chain.GetTD(head.Hash(), head.NumberU64())
	if td == nil {
		return "", nil
	}
	var (
		best   peer.ID
		bestSt *statusMsg
		target = head.NumberU64()
	)
	now := s.now()
	for _, p := range candidates {
		if until, ok := s.cooldown[p]; ok {
			if now.Before(until) {
				continue
			}
			delete(s.cooldown, p)
		}
		st, err := s.fetch.status(ctx, p)
		if err != nil {
			s.log.Debug("status request failed", "peer", p, "err", err)
			continue
		}
		if st.Genesis != s.genesis {
			s.log.Warn("sync refused", "peer", p, "err", errGenesisMismatch, "genesis", st.Genesis, "want", s.genesis)
			s.cooldown[p] = now.Add(peerCooldown)
			continue
		}
		target = max(target, st.Number)
		if st.TD.Cmp(td) > 0 && (bestSt == nil || st.TD.Cmp(bestSt.TD) > 0) {
			best, bestSt = p, st
		}
	}
	s.metrics.setTarget(target)
	return best, bestSt
}

// syncFrom imports p's chain after the common ancestor, up to the head p
// reported. Blocks are fetched one batch ahead of the import.
func (s *syncer) syncFrom(ctx context.Context, p peer.ID, st *statusMsg) (int, error) {
	anc, ancHash, err := s.findAncestor(ctx, p, st.Number)
	if err != nil {
		return 0, fmt.Errorf("find common ancestor: %w", err)
	}
	if anc >= st.Number {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Three stages overlap: fetching a batch, recovering the signatures of
	// the one before it on every core, importing the one before that.
	raw, batches := make(chan batch, 1), make(chan batch, 1)
	fetched := make(chan error, 1)
	go func() { fetched <- s.fetchRange(ctx, p, anc+1, st.Number, ancHash, raw) }()
	go func() {
		defer close(batches)
		for bt := range raw {
			s.chain.PrefetchSignatures(bt.blocks, ctx.Done())
			select {
			case batches <- bt:
			case <-ctx.Done():
			}
		}
	}()

	prog := progress{log: s.log, peer: p, target: st.Number, height: anc, start: s.now(), last: s.now(), now: s.now}
	s.log.Info("sync started", "peer", p, "ancestor", anc, "target", st.Number)
	imported := 0
	var importErr error
	for bt := range batches {
		for _, b := range bt.blocks {
			s.mark(b.Hash())
		}
		n, err := s.chain.InsertChain(bt.blocks, bt.cert)
		imported += n
		s.metrics.imported(n)
		prog.add(n, bt.blocks[len(bt.blocks)-1].NumberU64())
		if err != nil {
			importErr = fmt.Errorf("import: %w", err)
			cancel()
			break
		}
	}
	for range batches { // let the fetcher finish after an import error
	}
	fetchErr := <-fetched
	prog.done(imported)
	if importErr != nil {
		return imported, importErr
	}
	if fetchErr != nil && !errors.Is(fetchErr, context.Canceled) {
		return imported, fmt.Errorf("fetch: %w", fetchErr)
	}
	return imported, ctx.Err()
}

// batch is a run of linked blocks and the certificate of the last one.
type batch struct {
	blocks []*types.Block
	cert   []byte
}

// fetchRange fetches blocks from..to from p in batches and sends them to
// out, checking each batch links to the previous one. It closes out.
func (s *syncer) fetchRange(ctx context.Context, p peer.ID, from, to uint64, parent common.Hash, out chan<- batch) error {
	defer close(out)
	for from <= to {
		count := min(s.batch, to-from+1)
		bs, cert, err := s.blocksRetry(ctx, p, from, count)
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			return fmt.Errorf("%w: no block at %d", errBadResponse, from)
		}
		if bs[0].ParentHash() != parent {
			return fmt.Errorf("%w: block %d does not link to %x", errBadResponse, from, parent)
		}
		select {
		case out <- batch{blocks: bs, cert: cert}:
		case <-ctx.Done():
			return ctx.Err()
		}
		parent = bs[len(bs)-1].Hash()
		from += uint64(len(bs))
	}
	return nil
}

// blocksRetry fetches blocks, waiting and retrying when the peer says we
// are over our rate.
func (s *syncer) blocksRetry(ctx context.Context, p peer.ID, from, count uint64) ([]*types.Block, []byte, error) {
	for i := 0; ; i++ {
		bs, cert, err := s.fetch.blocks(ctx, p, from, count)
		if !errors.Is(err, errRateLimited) || i == rateLimitRetries {
			return bs, cert, err
		}
		t := time.NewTimer(s.wait << i)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		}
	}
}

// findAncestor returns the highest block number at which our canonical
// chain and p's agree, and its hash. Canonical chains from one genesis agree
// below their fork point and differ above it, so after a first window of
// headers under the lower head the search bisects.
func (s *syncer) findAncestor(ctx context.Context, p peer.ID, remoteHead uint64) (uint64, common.Hash, error) {
	hi := min(s.chain.CurrentBlock().NumberU64(), remoteHead)
	from := hi + 1 - min(hi+1, ancestorWindow)
	hs, err := s.fetch.headers(ctx, p, from, hi-from+1)
	if err != nil {
		return 0, common.Hash{}, err
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if s.matches(hs[i]) {
			return from + uint64(i), hs[i].Hash(), nil
		}
	}
	if uint64(len(hs)) != hi-from+1 {
		return 0, common.Hash{}, fmt.Errorf("%w: %d headers from %d, want %d", errBadResponse, len(hs), from, hi-from+1)
	}
	if from == 0 {
		return 0, common.Hash{}, errNoAncestor
	}
	// Bisect [0, from-1]: lo is assumed to match (block 0, then every
	// probe that matched); block 0 itself is checked last.
	lo, top := uint64(0), from-1
	loHash := s.genesis
	for lo < top {
		mid := lo + (top-lo+1)/2
		hs, err := s.fetch.headers(ctx, p, mid, 1)
		if err != nil {
			return 0, common.Hash{}, err
		}
		if len(hs) != 1 {
			return 0, common.Hash{}, fmt.Errorf("%w: no header at %d", errBadResponse, mid)
		}
		if s.matches(hs[0]) {
			lo, loHash = mid, hs[0].Hash()
		} else {
			top = mid - 1
		}
	}
	if lo == 0 { // nothing above genesis matched: check genesis itself
		if hs, err := s.fetch.headers(ctx, p, 0, 1); err != nil || len(hs) != 1 || !s.matches(hs[0]) {
			return 0, common.Hash{}, errNoAncestor
		}
	}
	return lo, loHash, nil
}

// matches reports whether h is our canonical header at its number.
func (s *syncer) matches(h *types.Header) bool {
	local := s.chain.GetHeaderByNumber(h.Number.Uint64())
	return local != nil && local.Hash() == h.Hash()
}

// progress logs a running sync's height, target and rate.
type progress struct {
	log         *slog.Logger
	peer        peer.ID
	target      uint64
	start, last time.Time
	n, height   uint64
	now         func() time.Time
}

func (p *progress) add(n int, height uint64) {
	p.n += uint64(n)
	p.height = height
	if now := p.now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.log.Info("sync progress", "peer", p.peer, "height", height, "target", p.target, "blocks_per_sec", p.rate(now))
	}
}

func (p *progress) done(imported int) {
	now := p.now()
	p.log.Info("sync finished", "peer", p.peer, "imported", imported, "height", p.height, "target", p.target,
		"elapsed", now.Sub(p.start).Round(time.Millisecond), "blocks_per_sec", p.rate(now))
}

func (p *progress) rate(now time.Time) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(int(float64(p.n)/el*10)) / 10
}
