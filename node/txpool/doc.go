// Package txpool holds the transactions waiting to be included in a block of
// the permissioned chain.
//
// A transaction is admitted by the same rules block import applies (package
// rules): static checks and signature recovery, then the state checks against
// the head state (sender allowed, nonce not used, funds). The pool adds its
// own limits: a minimum gas price, replacement by price bump (and at most one
// replacement per nonce and head that does not raise the price), total count
// and size, and a per-sender count and size. A sender's pooled transactions
// must be affordable together, not only one by one.
//
// Each sender's transactions are kept in nonce order. Those whose nonces
// follow the sender's state nonce without a gap are executable; the others
// are held as future (non-executable) transactions until the gap is filled,
// in a bounded part of the pool, a few per sender, for a bounded number of
// heads.
//
// Gas may be priced at zero and a member may vouch for any number of
// accounts, so neither price nor per-sender limits keep one member from
// filling the pool. Shares are therefore counted per sponsor, the member
// accountable for a sender (the sender itself, or the member vouching for
// it). When the pool is full, an executable transaction evicts future ones
// first, then, if its sponsor is within its fair share, executable ones of
// the sponsor holding the most: a member within its fair share is never shut
// out by another member's transactions, however many accounts those come
// from.
//
// Clients of the node (Submit) may get flow control besides (Config's
// BacklogWindow): while the pool holds more executable transactions than
// the chain includes in a short window, a sponsor holding its fair share of
// them waits for heads to make room, and is refused (ErrBacklog) if none
// does within about a second, so what a node accepts is final within about
// that window.
//
// Usage:
//
//	pool := txpool.New(txpool.Config{}, rules.NewStatic(chainID, gasLimit), chain)
//
//	// gossip newly pooled transactions
//	ch := make(chan []*types.Transaction, 16)
//	sub := pool.SubscribeNewTxs(ch)
//	defer sub.Unsubscribe()
//
//	// from the network (a peer's transactions never wait)
//	if err := pool.Add(tx); errors.Is(err, rules.ErrNonceTooLow) {
//		// a replay
//	}
//
//	// from a client of this node: may wait for room in the backlog
//	if err := pool.Submit(ctx, tx); errors.Is(err, txpool.ErrPoolFull) {
//		// back off and send it again
//	}
//
//	// building a block
//	for _, tx := range pool.Pending() {
//		// each sender's transactions come in nonce order
//	}
//
//	// after the head changed; dropped holds the transactions of blocks a
//	// reorg removed from the canonical chain
//	pool.Reset(newHead, dropped)
package txpool
