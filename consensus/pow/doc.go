// Package pow implements arbiter's permissioned proof-of-work consensus
// engine.
//
// Any consortium member may mine. A block proves both who made it and that
// work was spent on it:
//
//   - Coinbase is the miner's address and Extra is exactly its 65-byte
//     secp256k1 signature [R || S || V] (V in {0, 1}, low S) over
//     SealHash(header), the hash of every header field except Extra, Nonce
//     and MixDigest.
//   - Nonce and MixDigest carry the work: MixDigest = keccak256(SealHash ||
//     Nonce), and the block is valid when MixDigest, read as a big-endian
//     integer, is at most 2^256 / Difficulty.
//   - The signer must be Coinbase and a member in the parent's state
//     (ChainHeaderReader.IsMember).
//
// Because the seal hash commits to Coinbase, work done by one member cannot be
// claimed by another, and the signature keeps outsiders from mining at all.
// The difficulty retargets every block toward the genesis block time; see
// (*Engine).CalcDifficulty for the rule. There are no uncles and no block
// reward.
//
// The engine parameters live in genesis.json under "pow" (see Config); the
// target block time is genesis's top-level blockTime:
//
//	var cfg pow.Config // decoded from genesis "pow": {"minDifficulty": ..., "initialDifficulty": ...}
//	if err := cfg.Validate(); err != nil {
//		return err
//	}
//	engine := pow.New(cfg, blockTime, key, pow.WithThreads(runtime.NumCPU()))
//	genesis.Difficulty = engine.GenesisDifficulty()
//
//	// Mining a block on top of parent:
//	header := &types.Header{ParentHash: parent.Hash(), Number: number, Time: now, ...}
//	if err := engine.Prepare(chain, header, parent); err != nil {
//		return err
//	}
//	// ... execute transactions, fill Root, GasUsed, ... then:
//	sealed, err := engine.Seal(ctx, chain, types.NewBlockWithHeader(header))
//
//	// Importing a block:
//	if err := engine.VerifyHeader(chain, block.Header(), parent); err != nil {
//		return err // errors.Is(err, consensus.ErrInvalidSeal), ...
//	}
//
// Pass a nil key to New for a node that only verifies.
package pow
