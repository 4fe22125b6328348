// Package rpclimit owns the bounds every JSON-RPC server of the project
// puts on its clients (the node's JSON-RPC in node/rpc and the chess
// bridge in offchain/bridge) and the metrics that show them at work: one
// Limits type with its fields' meaning, one way to apply it to a
// go-ethereum rpc.Server and an http.Server, one client key (ClientKey:
// an IPv4 address or an IPv6 /64) that every per-client bound is kept
// by, and one set of per-route request and live-subscription metrics.
//
// Each server keeps its own defaults (a node serves heavier calls than a
// bridge) and passes them to WithDefaults:
//
//	lim := cfg.Limits.WithDefaults(rpclimit.Limits{MaxBodyBytes: 64 << 10, ...})
//	srv := gethrpc.NewServer()
//	lim.Apply(srv)
//	m := rpclimit.NewMetrics("bridge", "Live chess_subscribe subscriptions on this instance.")
//	if err := m.Register(reg); err != nil { ... }
//	httpSrv := lim.HTTPServer(m.Instrument("http", srv))
//
// It sits below node/ and offchain/ and must not import any package of
// the project outside internal/ (nor cmd/ or examples/).
package rpclimit
