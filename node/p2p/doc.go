// Package p2p replicates the chain between consortium members over libp2p.
//
// The host's identity is the node key, so a peer's ID names its member
// address (AddressOf). A connection gater admits only current members, in
// both directions, at the handshake; when the head changes, connections to
// peers that stopped being members are closed. Configured member addresses
// are dialled at start and redialled with a capped exponential backoff.
//
// Three gossipsub topics carry transactions, blocks and consensus messages.
// Their names include the genesis hash (Topics), messages are identified by
// the SHA-256 of their payload and carry no libp2p signature or author
// (the gater admits only members, and every payload carries its own
// signatures), and every topic has a validator that rejects malformed,
// oversized, wrongly signed or non-member payloads before they spread; peer
// scoring pushes peers that relay them down. Gossiped blocks go to the
// chain.
//
// Transactions travel in batches (an RLP list of encodings, bounded by
// count and bytes, flushed after a few milliseconds): a receiver checks a
// batch cheapest first, recovers its senders on every core and offers them
// to the pool; every transaction the pool takes, whatever its source, goes
// out again in this node's own batches, never in a peer's. Gossip may lose
// transactions; the transaction protocol (TxProtocol) repairs that: every
// few hundred milliseconds the node compares its pool with a peer's digest
// and pulls the runs of nonces it lacks, which also fills nonce gaps.
//
// Proof-of-stake proposals travel compact (header and transaction hashes);
// the block-transaction protocol (BlockTxProtocol) lets a validator fetch by
// hash the transactions of a proposal its pool lacks, from the peer's pool
// or from the proposals it sent or filled lately (KeepTxs, FetchTxs).
//
// The sync protocol (SyncProtocol) serves status, headers and blocks by
// number, bounded per request and rate-limited per peer. The syncer
// compares status with peers and imports the chain of a heavier one from
// the common ancestor.
//
// Usage:
//
//	n, err := p2p.New(ctx, p2p.Config{
//		Key:         nodeKey,
//		ListenAddrs: []string{"/ip4/0.0.0.0/tcp/30303"},
//		Peers:       []string{"/ip4/10.0.0.2/tcp/30303/p2p/16Uiu2..."},
//		GenesisHash: c.GenesisHash(),
//		Rules:       c.Rules(),
//		Engine:      c.Engine(),
//		Logger:      log,
//		Registerer:  registry,
//	}, c, pool, p2p.HeadMembers(c))
//	if err != nil {
//		return err
//	}
//	defer n.Close()
//	if err := n.Start(); err != nil {
//		return err
//	}
package p2p
