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
	// syncSessionTimeout bounds one session with one peer: the ancestor
	// search and the fetch and import of its blocks. Without it a peer that
	// answers each request just inside the request timeout holds the one
	// syncer for as long as it likes. An honest peer serves thousands of
	// blocks in a minute (a batch per request); a session that ends on this
	// bound after importing some is not held against the peer, but the next
	// session goes to another heavier peer first.
	syncSessionTimeout = time.Minute
	// maxShortAnswers is how many short block answers in a row a session
	// takes before the peer is at fault. One short answer can be honest (a
	// server stops at its byte limit when the next block is large), a run
	// of them from a peer that claims the blocks is a peer starving us.
	maxShortAnswers = 3
	// shortAnswerFraction, shortAnswerBlocks and fullAnswerBytes define a
	// short answer: under 1/shortAnswerFraction of the blocks asked for and
	// under shortAnswerBlocks (leaving room for a server whose
	// MaxBlocksPerResponse is below our SyncBatch: none is configured below
	// 16 blocks an answer), and under fullAnswerBytes (servers stop for
	// bytes only near MaxResponseBytes, 8 MiB by default and never under
	// minResponseBytes, so a byte-limited answer is larger than this).
	shortAnswerFraction = 4
	shortAnswerBlocks   = 16
	fullAnswerBytes     = 1 << 20
	// minResponseBytes is the least MaxResponseBytes a server takes: see
	// Limits.withDefaults.
	minResponseBytes = 2 * fullAnswerBytes
	// maxCooldownShift caps the doubling of the cooldown of a peer that
	// fails again and again: 30 s, 1, 2, then 4 minutes, so that a peer
	// whose claims always win the choice gets a shrinking share of the
	// syncer's time while an honest peer's occasional fault costs little.
	maxCooldownShift = 3
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
	// errImplausibleStatus is returned for a status whose total difficulty
	// no chain of its head number can have.
	errImplausibleStatus = errors.New("status total difficulty impossible for its head number")
	// errShortAnswers is returned when a peer keeps answering with a
	// fraction of the blocks it claims to have.
	errShortAnswers = errors.New("peer keeps serving fewer blocks than asked for and claimed")
	// errSessionTimeout is returned when a session reaches
	// syncSessionTimeout before the peer's claimed head.
	errSessionTimeout = errors.New("sync session reached its time limit")
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

// certifyingChain is implemented by *chain.Chain: Certifying reports a
// certifying (proof-of-stake) engine, under which every block has
// difficulty 1 (pos VerifyHeader; decision 7), so total difficulty is the
// genesis difficulty plus the head number.
type certifyingChain interface {
	Certifying() bool
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
	session  time.Duration // bound of one session with one peer
	// unitDifficulty is set when every block after genesis has difficulty
	// 1 (a certifying chain); otherwise each has at least 1.
	unitDifficulty bool

	hints    chan peer.ID
	cooldown map[peer.ID]time.Time
	// strikes counts a peer's faults since its last clean session; it sets
	// the doubling of its cooldown. Peers are members only (the gater), so
	// the map stays small.
	strikes map[peer.ID]int
}

func newSyncer(c syncChain, f fetcher, peers func() []peer.ID, genesis common.Hash, l Limits, log *slog.Logger, m *metrics, mark func(common.Hash)) *syncer {
	s := &syncer{
		chain: c, fetch: f, peers: peers, genesis: genesis,
		batch: uint64(l.SyncBatch), interval: l.SyncInterval,
		log: log, metrics: m, mark: mark, now: time.Now, wait: rateLimitWait,
		session:  syncSessionTimeout,
		hints:    make(chan peer.ID, 64),
		cooldown: make(map[peer.ID]time.Time),
		strikes:  make(map[peer.ID]int),
	}
	if cc, ok := c.(certifyingChain); ok {
		s.unitDifficulty = cc.Certifying()
	}
	return s
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
// Within a round heavier peers take turns: a peer without a session yet
// comes first, then the one whose session was longest ago, and only then
// the heaviest, so that a peer whose claims always make it the heaviest
// cannot keep the syncer from the others.
func (s *syncer) round(ctx context.Context, candidates []peer.ID) {
	turns := make(map[peer.ID]int) // session index in this round, by peer
	for i := 0; i < maxRoundsPerTrigger && ctx.Err() == nil; i++ {
		p, st := s.best(ctx, candidates, turns)
		if st == nil {
			return
		}
		turns[p] = i
		n, err := s.syncFrom(ctx, p, st)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSessionTimeout) && n > 0 {
			// Slow but real progress: not a fault, but the next session
			// goes to another heavier peer if there is one.
			s.log.Info("sync session ended", "peer", p, "imported", n, "err", err)
			continue
		}
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
			s.fault(p, err)
			continue
		}
		delete(s.strikes, p) // a clean session forgives earlier faults
	}
}

// fault puts p on cooldown for err: peerCooldown, doubled for each fault
// since its last clean session, at most maxCooldownShift times.
func (s *syncer) fault(p peer.ID, err error) {
	d := peerCooldown << s.strikes[p]
	s.strikes[p] = min(s.strikes[p]+1, maxCooldownShift)
	s.cooldown[p] = s.now().Add(d)
	s.log.Warn("sync from peer failed", "peer", p, "err", err, "cooldown", d)
}

// best asks candidates for their status and returns one heavier than us, or
// a nil status if none is. It prefers a peer without a turn in this round
// (turns), then the one whose turn was earliest, then the most total
// difficulty.
func (s *syncer) best(ctx context.Context, candidates []peer.ID, turns map[peer.ID]int) (peer.ID, *statusMsg) {
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
		if err := s.checkStatus(st); err != nil {
			s.fault(p, err)
			continue
		}
		if s.strikes[p] == 0 {
			// A peer with faults since its last clean session does not
			// raise the reported target: a claim of a far head is cheap
			// and would otherwise show the node as syncing again each
			// time the peer's cooldown ends.
			target = max(target, st.Number)
		}
		if st.TD.Cmp(td) > 0 && (bestSt == nil || before(p, st, best, bestSt, turns)) {
			best, bestSt = p, st
		}
	}
	s.metrics.setTarget(target)
	return best, bestSt
}

// before reports whether peer p with status st goes before q with qs: a
// peer without a turn first, then the earlier turn, then more difficulty.
func before(p peer.ID, st *statusMsg, q peer.ID, qs *statusMsg, turns map[peer.ID]int) bool {
	pt, pUsed := turns[p]
	qt, qUsed := turns[q]
	switch {
	case pUsed != qUsed:
		return !pUsed
	case pUsed && pt != qt:
		return pt < qt
	}
	return st.TD.Cmp(qs.TD) > 0
}

// checkStatus checks what a status claims against what any chain of ours
// can hold, before the claim earns the peer a session. Total difficulty is
// the genesis difficulty plus that of every later block (node/chain
// writeBlock), and every later block has difficulty at least 1 (the pow
// retarget never goes below max(MinDifficulty, 1)) and exactly 1 on a
// certifying chain. A far-ahead head with a consistent difficulty passes:
// the session bounds catch a peer that cannot serve it.
func (s *syncer) checkStatus(st *statusMsg) error {
	gtd := s.chain.GetTD(s.genesis, 0)
	if gtd == nil {
		return nil
	}
	least := new(big.Int).Add(gtd, new(big.Int).SetUint64(st.Number))
	switch c := st.TD.Cmp(least); {
	case c < 0:
		return fmt.Errorf("%w: total difficulty %v at head %d, want at least %v", errImplausibleStatus, st.TD, st.Number, least)
	case c > 0 && s.unitDifficulty:
		return fmt.Errorf("%w: total difficulty %v at head %d, want %v (difficulty 1 a block)", errImplausibleStatus, st.TD, st.Number, least)
	}
	return nil
}

// syncFrom imports p's chain after the common ancestor, up to the head p
// reported, within s.session; it returns errSessionTimeout if that ends
// first.
func (s *syncer) syncFrom(ctx context.Context, p peer.ID, st *statusMsg) (int, error) {
	sess, cancel := context.WithTimeout(ctx, s.session)
	defer cancel()
	n, err := s.syncSession(sess, p, st)
	if err != nil && ctx.Err() == nil && errors.Is(sess.Err(), context.DeadlineExceeded) {
		return n, fmt.Errorf("%w (%v): %d blocks imported, peer claims head %d: %v", errSessionTimeout, s.session, n, st.Number, err)
	}
	return n, err
}

// syncSession does syncFrom's work. Blocks are fetched one batch ahead of
// the import.
func (s *syncer) syncSession(ctx context.Context, p peer.ID, st *statusMsg) (int, error) {
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
// out, checking each batch links to the previous one. It closes out. p
// claimed every block up to to, so maxShortAnswers short answers in a row
// are a fault.
func (s *syncer) fetchRange(ctx context.Context, p peer.ID, from, to uint64, parent common.Hash, out chan<- batch) error {
	defer close(out)
	short := 0
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
		if !isShort(bs, count) {
			short = 0
			continue
		}
		if short++; short >= maxShortAnswers && from <= to {
			return fmt.Errorf("%w: %d answers in a row under 1/%d of the %d blocks asked and under %d bytes, at %d of claimed head %d",
				errShortAnswers, short, shortAnswerFraction, count, fullAnswerBytes, from, to)
		}
	}
	return nil
}

// isShort reports whether an answer of bs to a request for count blocks is
// short: under 1/shortAnswerFraction of them, under shortAnswerBlocks and
// under fullAnswerBytes.
func isShort(bs []*types.Block, count uint64) bool {
	if uint64(len(bs))*shortAnswerFraction >= count || len(bs) >= shortAnswerBlocks {
		return false
	}
	size := uint64(0)
	for _, b := range bs {
		size += b.Size()
	}
	return size < fullAnswerBytes
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
