// Package chaintest drives native contracts the way the network does:
// through signed transactions mined into sealed blocks and imported by a
// real chain (proof of work at difficulty 1, in-memory store), with eth_call
// for revert reasons. It is imported by tests only (the contracts' tests
// among them: it lives outside contracts/ because it imports the node's
// chain, which contracts never do).
//
//	e := chaintest.New(t, chaintest.Config{Members: []string{"A", "B", "C"}, Allowed: []string{"white", "black"}})
//	res := e.Exec("white", chess.Address, stake, chaintest.Pack(t, chaintest.ChessABI, "open", black, uint64(10)))
//	if res.Reason != "" { t.Fatalf(...) }
package chaintest
