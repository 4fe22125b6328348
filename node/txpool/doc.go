// Package txpool holds the transactions waiting to be included in a block of
// the permissioned chain.
//
// A transaction is admitted by the same rules block import applies (package
// rules): static checks and signature recovery, then the state checks against
// the head state (sender allowed, nonce not used, funds). The pool adds its
// own limits: a minimum gas price, replacement by price bump, total count and
// size, and a per-sender count. A sender's pooled transactions must be
// affordable together, not only one by one.
//
// Each sender's transactions are kept in nonce order. Those whose nonces
// follow the sender's state nonce without a gap are executable; the others
// are held as future transactions until the gap is filled.
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
//	// from RPC or the network
//	if err := pool.Add(tx); errors.Is(err, rules.ErrNonceTooLow) {
//		// a replay
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
