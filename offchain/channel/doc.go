// Package channel implements the signed-state protocol of an off-chain chess
// game refereed by the arbiter contract: EIP-712 hashing and signing of game
// states and outcomes, the rules that link one signed state to the next, and
// the JSON form in which signed states travel between clients, the bridge
// and the chain.
//
// The wire format is fixed; clients in other languages sign the same EIP-712
// typed data:
//
//	EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
//	  name "Arbiter Chess", version "1"
//	State(bytes32 gameId,uint32 ply,string fen,string move,bytes32 prevHash)
//	Outcome(bytes32 gameId,uint8 result)
//
// Ply 0 is the unsigned StartState. The state at ply n >= 1 carries move n in
// UCI notation and the FEN after it, its PrevHash is the EIP-712 struct hash
// of the state at ply n-1, and it is signed by the player who made move n:
// white for odd plies, black for even ones.
//
// A bridge or contract checks a new state like this:
//
//	d := channel.DefaultDomain(chainID)
//	signer, err := channel.RecoverState(d, next.State, next.Signature)
//	if err != nil { ... } // ErrBadSignature
//	err = channel.CheckTransition(prev, next.State, signer, white, black)
//	switch {
//	case errors.Is(err, channel.ErrWrongSigner): ...
//	case errors.Is(err, channel.ErrIllegalMove): ...
//	}
//
// Everything here is deterministic: no clock, no floating point, no map
// iteration.
//
// It owns the signed-state protocol facts (typed data, acceptance rules);
// it may import offchain/chess and must not import node/, contracts/,
// consensus/, cmd/ or examples/: the contracts import it, not the other
// way round.
package channel
