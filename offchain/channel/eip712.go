package channel

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// The fixed EIP-712 domain name and version.
const (
	DomainName    = "Arbiter Chess"
	DomainVersion = "1"
)

// ArbiterContract is the address of the arbiter contract, the default
// verifying contract.
const ArbiterContract = "0x0000000000000000000000000000000000001003"

// The EIP-712 type strings.
const (
	domainType  = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
	stateType   = "State(bytes32 gameId,uint32 ply,string fen,string move,bytes32 prevHash)"
	outcomeType = "Outcome(bytes32 gameId,uint8 result)"
)

var (
	domainTypeHash  = crypto.Keccak256Hash([]byte(domainType))
	stateTypeHash   = crypto.Keccak256Hash([]byte(stateType))
	outcomeTypeHash = crypto.Keccak256Hash([]byte(outcomeType))
	nameHash        = crypto.Keccak256Hash([]byte(DomainName))
	versionHash     = crypto.Keccak256Hash([]byte(DomainVersion))
)

// Domain is the EIP-712 domain: the chain and the verifying contract a
// signature is valid for. Signatures made for one Domain do not verify in
// another. Callers must not modify ChainID after building a Domain.
type Domain struct {
	ChainID  *big.Int
	Contract common.Address
}

// DefaultDomain returns the Domain of the arbiter contract at
// ArbiterContract on the given chain. It copies chainID.
func DefaultDomain(chainID *big.Int) Domain {
	d := Domain{Contract: common.HexToAddress(ArbiterContract)}
	if chainID != nil {
		d.ChainID = new(big.Int).Set(chainID)
	}
	return d
}

// Separator returns the EIP-712 domain separator, hashStruct(EIP712Domain).
func (d Domain) Separator() (common.Hash, error) {
	if d.ChainID == nil || d.ChainID.Sign() < 0 || d.ChainID.BitLen() > 256 {
		return common.Hash{}, fmt.Errorf("%w: chain id %v", ErrBadDomain, d.ChainID)
	}
	return crypto.Keccak256Hash(
		domainTypeHash[:],
		nameHash[:],
		versionHash[:],
		common.LeftPadBytes(d.ChainID.Bytes(), 32),
		common.LeftPadBytes(d.Contract[:], 32),
	), nil
}

// Digest returns the hash that is signed for a struct hash in this domain:
// keccak256("\x19\x01" || domainSeparator || structHash).
func (d Domain) Digest(structHash common.Hash) (common.Hash, error) {
	sep, err := d.Separator()
	if err != nil {
		return common.Hash{}, err
	}
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, sep[:], structHash[:]), nil
}

// uint256 encodes v as a 32-byte big-endian word.
func uint256(v uint64) []byte {
	return common.LeftPadBytes(new(big.Int).SetUint64(v).Bytes(), 32)
}

// StructHash returns the EIP-712 hashStruct of s. It is what the next
// state's PrevHash must hold.
func (s State) StructHash() common.Hash {
	fenHash := crypto.Keccak256Hash([]byte(s.FEN))
	moveHash := crypto.Keccak256Hash([]byte(s.Move))
	return crypto.Keccak256Hash(
		stateTypeHash[:],
		s.GameID[:],
		uint256(uint64(s.Ply)),
		fenHash[:],
		moveHash[:],
		s.PrevHash[:],
	)
}

// StructHash returns the EIP-712 hashStruct of o.
func (o Outcome) StructHash() common.Hash {
	return crypto.Keccak256Hash(
		outcomeTypeHash[:],
		o.GameID[:],
		uint256(uint64(o.Result)),
	)
}
