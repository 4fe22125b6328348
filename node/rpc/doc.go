// Package rpc serves the node's Ethereum JSON-RPC 2.0 API over HTTP and
// WebSocket, so standard Ethereum tooling (go-ethereum's ethclient, ethers,
// viem, wallets) can talk to an arbiter node.
//
// The transport is go-ethereum's rpc server (batching, body and message
// limits, subscriptions) mounted on a gorilla/mux router:
//
//	POST /                       JSON-RPC over HTTP
//	GET  / (Upgrade: websocket)  JSON-RPC over WebSocket
//	GET  /ws                     JSON-RPC over WebSocket
//	GET  /healthz                200 {"status":"ok","number":N,"hash":"0x.."}
//	GET  /metrics                Prometheus metrics (Config.Gatherer)
//
// A POST / holding one eth_sendRawTransaction call and nothing else is
// answered before the rpc server, with the server's own answer byte for
// byte (sendFast, docs/decisions/0044-lone-send-fast-path.md).
//
// The API structs registered with the rpc server are thin: they read the
// ledger through the Chain interface and submit transactions through
// TxPool, both declared here and implemented by the node.
//
// Methods:
//
//	eth_chainId eth_blockNumber eth_syncing eth_accounts
//	eth_getBlockByNumber eth_getBlockByHash eth_getBlockReceipts
//	eth_getBlockTransactionCountByNumber eth_getBlockTransactionCountByHash
//	eth_getTransactionByHash eth_getTransactionByBlockNumberAndIndex
//	eth_getTransactionByBlockHashAndIndex eth_getTransactionReceipt
//	eth_getBalance eth_getTransactionCount eth_getCode eth_getStorageAt
//	eth_sendRawTransaction eth_call eth_estimateGas eth_getLogs
//	eth_gasPrice eth_maxPriorityFeePerGas eth_feeHistory
//	eth_subscribe("newHeads") eth_subscribe("logs", filter) eth_unsubscribe
//	net_version net_listening net_peerCount web3_clientVersion web3_sha3
//	arbiter_status arbiter_validators([block]) arbiter_members([block])
//	arbiter_accounts([block]) arbiter_peers arbiter_rounds arbiter_blocks(count)
//
// The arbiter_ namespace (arbiter_api.go, registered by RegisterArbiter)
// is a read-only view of the consortium for operators: engine, head,
// finality and the pos validator's height, round and step; validators with
// stakes and powers; members and vouched accounts with their genesis
// names; connected peers; recent blocks with their proposers. GET /console
// serves the operator console, a page that reads only these methods and
// eth_subscribe.
//
// Block tags: "latest" and "pending" are the head, "safe" and "finalized"
// the finalized block, "earliest" the genesis. eth_getTransactionCount with
// "pending" asks the pool.
//
// Usage:
//
//	srv, err := rpc.New(rpc.Config{ClientVersion: "arbiter/v1.0.0"}, chain, pool)
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	l, err := rpc.Listen(":8545") // empty host: 127.0.0.1:8545
//	if err != nil {
//		return err
//	}
//	go srv.Serve(l)
//
// Listen never binds all interfaces unless asked to ("0.0.0.0:8545").
// A WebSocket handshake carrying a browser's Origin header is refused
// (403) unless the origin is the server's own or listed in
// Config.WSOrigins. Live subscriptions are bounded per WebSocket
// connection (Config.MaxSubscriptionsPerConn), per client address across
// its connections (Config.MaxSubscriptionsPerClient: an IPv4 address or
// an IPv6 /64, MaxSubscriptions/16 by default) and per server
// (Config.MaxSubscriptions); past any of them, eth_subscribe fails with
// code -32005.
// Subscriptions never block the chain's event feeds: a subscriber that
// falls more than a few hundred events behind misses events (counted in
// arbiter_rpc_subscription_events_dropped_total when Config.Registerer is
// set).
//
// It owns the node's JSON-RPC adapters (eth_, net_, web3_, arbiter_); its
// limits and their metrics come from internal/rpclimit. It asks the chain
// and pool only through the interfaces declared here and must not import
// node itself, node/chain, node/p2p, cmd/ or examples/.
package rpc
