// Package pos implements arbiter's proof-of-stake consensus: stake-weighted
// BFT in the Tendermint family, following Algorithm 1 of "The latest gossip
// on BFT consensus" (Buchman, Kwon, Milosevic, arXiv:1807.04938). A block is
// decided when validators holding more than 2/3 of the stake precommit it;
// decided blocks are final and the chain never forks while less than 1/3 of
// the stake is Byzantine.
//
// The package has four parts:
//
//   - Core (core.go, rules.go, votes.go, absent.go) is one validator's
//     state machine, pure and single-threaded like etcd's raft: Step(message), Tick()
//     (logical time; timeouts are ticks), Propose(block), Validated(hash,
//     err) and StartHeight in, Ready out (messages to persist and
//     broadcast, a block to build, blocks to validate, the decided block
//     with its commit, equivocation evidence, what it refused to sign).
//     It does no I/O and runs no block: valid(v) beyond its own checks is
//     a request the driver answers later. Its methods
//     carry the paper's line numbers (startRound is StartRound, line22 the
//     upon-rule of line 22, onTimeoutPropose OnTimeoutPropose, ...).
//   - Engine (engine.go, extra.go) is the consensus.Engine the chain calls:
//     it verifies the proposer seal and the parent's commit in each header
//     and prepares and seals this node's proposals.
//   - Driver (driver.go, replica.go, wal.go) is the goroutine that owns a
//     Core: it logs every input to a write-ahead log before the core sees
//     it, syncs own votes to the log before sending them, and replays the
//     log on restart, so a validator never signs two different messages for
//     one height, round and step.
//   - Validator sets (validators.go) with stake-weighted proposer rotation,
//     and Evidence (evidence.go) that the staking contract can verify.
//
// Header format: Difficulty 1, Coinbase the proposer, zero MixDigest and
// Nonce, and Extra the RLP of Extra{Round, LastCommit, Seal}: the round the
// block was first proposed in, the precommits (more than 2/3 of the power)
// that decided the parent, and the proposer's signature over SealHash (the
// header with the seal emptied). A block's own commit is carried by its
// child, because the block hash covers Extra; the node that decides a block
// holds its commit and passes it to the chain (Committer).
//
// Wiring a validator node:
//
//	vals, _ := pos.NewValidatorSet(1, members) // []pos.Validator from genesis stakes (see ScalePowers)
//	sets, _ := pos.NewSchedule(vals)          // or the staking contract's ValidatorSource
//	engine := pos.New(chainID, sets, key)     // key nil: verify only
//
//	cfg := pos.DriverConfig{
//		WALPath:   filepath.Join(dataDir, "consensus.wal"),
//		BlockTime: genesis.BlockTime,
//		Head:      chain.CurrentBlock(),
//		Inbound:   topicMessages, // <-chan []byte from the p2p topic
//		Heads:     syncedHeads,   // optional: blocks imported by sync
//		Transport: topic,         // Broadcast([]byte)
//		Builder:   builder,       // chain.BuildBlock over pool.Pending
//		Validator: validator,     // answers Ready.Validate: VerifyHeader + execution, without importing
//		Committer: committer,     // insert the block and mark it final
//	}
//	cfg.Core.DefaultTimeouts()
//	d, err := pos.NewDriver(engine, cfg)
//	go d.Run(ctx)
//	for ev := range d.Evidence() { /* submit to the staking contract */ }
package pos
