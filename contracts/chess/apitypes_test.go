package chess_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/arbiter-chain/arbiter/internal/chaintest"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// walletDomain is the domain as a wallet's eth_signTypedData_v4 request
// spells it.
func walletDomain() apitypes.TypedDataDomain {
	return apitypes.TypedDataDomain{
		Name:              "Arbiter Chess",
		Version:           "1",
		ChainId:           math.NewHexOrDecimal256(chaintest.ChainID),
		VerifyingContract: "0x0000000000000000000000000000000000001003",
	}
}

var walletDomainType = []apitypes.Type{
	{Name: "name", Type: "string"},
	{Name: "version", Type: "string"},
	{Name: "chainId", Type: "uint256"},
	{Name: "verifyingContract", Type: "address"},
}

// walletSign hashes td with go-ethereum's typed-data code and signs it the
// way a wallet does (v = 27 or 28).
func walletSign(t *testing.T, td apitypes.TypedData, name string) []byte {
	t.Helper()
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatalf("typed data hash: %v", err)
	}
	sig, err := crypto.Sign(digest, chaintest.Key(name))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	sig[64] += 27
	return sig
}

func walletState(t *testing.T, s channel.State, name string) []byte {
	t.Helper()
	return walletSign(t, apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": walletDomainType,
			"State": {
				{Name: "gameId", Type: "bytes32"},
				{Name: "ply", Type: "uint32"},
				{Name: "fen", Type: "string"},
				{Name: "move", Type: "string"},
				{Name: "prevHash", Type: "bytes32"},
			},
		},
		PrimaryType: "State",
		Domain:      walletDomain(),
		Message: apitypes.TypedDataMessage{
			"gameId":   s.GameID.Hex(),
			"ply":      new(big.Int).SetUint64(uint64(s.Ply)).String(),
			"fen":      s.FEN,
			"move":     s.Move,
			"prevHash": s.PrevHash.Hex(),
		},
	}, name)
}

func walletOutcome(t *testing.T, f *fixture, result uint8, name string) []byte {
	t.Helper()
	return walletSign(t, apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": walletDomainType,
			"Outcome":      {{Name: "gameId", Type: "bytes32"}, {Name: "result", Type: "uint8"}},
		},
		PrimaryType: "Outcome",
		Domain:      walletDomain(),
		Message:     apitypes.TypedDataMessage{"gameId": f.id.Hex(), "result": big.NewInt(int64(result)).String()},
	}, name)
}

// TestWalletSignatures plays a claim, its answer and an agreed result with
// signatures made by go-ethereum's typed-data hashing alone, as a wallet
// would make them.
func TestWalletSignatures(t *testing.T) {
	f := newGame(t)
	s := f.line(scholarsMate...)
	f.expect(black, "claim", nil, "", f.id, channel.ClaimTimeout, tuple(s[1]), walletState(t, s[1], white), tuple(s[2]), walletState(t, s[2], black))
	f.expect(white, "answer", nil, "", f.id, tuple(s[3]), walletState(t, s[3], white))
	f.expect(black, "claim", nil, "", f.id, channel.ClaimTimeout, tuple(s[3]), walletState(t, s[3], white), tuple(s[4]), walletState(t, s[4], black))
	f.expect(watcher, "conclude", nil, "", f.id, channel.ResultBlackWins, walletOutcome(t, f, channel.ResultBlackWins, white), walletOutcome(t, f, channel.ResultBlackWins, black))
	f.check(channel.StatusEnded, channel.ResultBlackWins, true)
}
