package channel

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

var domainFields = []apitypes.Type{
	{Name: "name", Type: "string"},
	{Name: "version", Type: "string"},
	{Name: "chainId", Type: "uint256"},
	{Name: "verifyingContract", Type: "address"},
}

// typedDomain builds the domain the way a wallet would, from strings.
func typedDomain(d Domain) apitypes.TypedDataDomain {
	return apitypes.TypedDataDomain{
		Name:              "Arbiter Chess",
		Version:           "1",
		ChainId:           (*math.HexOrDecimal256)(new(big.Int).Set(d.ChainID)),
		VerifyingContract: d.Contract.Hex(),
	}
}

func typedState(d Domain, s State) apitypes.TypedData {
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": domainFields,
			"State": {
				{Name: "gameId", Type: "bytes32"},
				{Name: "ply", Type: "uint32"},
				{Name: "fen", Type: "string"},
				{Name: "move", Type: "string"},
				{Name: "prevHash", Type: "bytes32"},
			},
		},
		PrimaryType: "State",
		Domain:      typedDomain(d),
		Message: apitypes.TypedDataMessage{
			"gameId":   s.GameID.Hex(),
			"ply":      new(big.Int).SetUint64(uint64(s.Ply)).String(),
			"fen":      s.FEN,
			"move":     s.Move,
			"prevHash": s.PrevHash.Hex(),
		},
	}
}

func typedOutcome(d Domain, o Outcome) apitypes.TypedData {
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": domainFields,
			"Outcome": {
				{Name: "gameId", Type: "bytes32"},
				{Name: "result", Type: "uint8"},
			},
		},
		PrimaryType: "Outcome",
		Domain:      typedDomain(d),
		Message: apitypes.TypedDataMessage{
			"gameId": o.GameID.Hex(),
			"result": big.NewInt(int64(o.Result)).String(),
		},
	}
}

// signTyped hashes td with go-ethereum and signs the digest (v is 0 or 1).
func signTyped(t *testing.T, td apitypes.TypedData, key []byte) (common.Hash, common.Hash, []byte) {
	t.Helper()
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatalf("TypedDataAndHash: have %v, want nil", err)
	}
	structHash, err := td.HashStruct(td.PrimaryType, td.Message)
	if err != nil {
		t.Fatalf("HashStruct: have %v, want nil", err)
	}
	prv, err := crypto.ToECDSA(key)
	if err != nil {
		t.Fatalf("ToECDSA: have %v, want nil", err)
	}
	sig, err := crypto.Sign(digest, prv)
	if err != nil {
		t.Fatalf("Sign: have %v, want nil", err)
	}
	return common.BytesToHash(digest), common.BytesToHash(structHash), sig
}

func testDomains() []struct {
	name string
	d    Domain
} {
	maxChain := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	return []struct {
		name string
		d    Domain
	}{
		{"mainnet default contract", DefaultDomain(big.NewInt(1))},
		{"devnet other contract", Domain{ChainID: big.NewInt(31337), Contract: common.HexToAddress("0x00000000000000000000000000000000deadbeef")}},
		{"max chain id", Domain{ChainID: maxChain, Contract: common.HexToAddress(ArbiterContract)}},
	}
}

func TestStateMatchesApitypes(t *testing.T) {
	f := newFixture(t)
	states := line(t, f.game, "e2e4", "d7d5", "e4e5", "f7f5")
	cases := []struct {
		name string
		s    State
	}{
		{"start state", states[0]},
		{"ply 1", states[1]},
		{"ply 2", states[2]},
		{"ply 4 with en passant", states[4]},
		{"max ply and odd strings", State{GameID: f.game, Ply: 1<<32 - 1, FEN: "ünïcode \x00", Move: "", PrevHash: common.Hash{0xff}}},
	}
	key := crypto.Keccak256([]byte("apitypes signer"))
	prv, _ := crypto.ToECDSA(key)
	want := crypto.PubkeyToAddress(prv.PublicKey)
	for _, dom := range testDomains() {
		for _, tc := range cases {
			t.Run(dom.name+"/"+tc.name, func(t *testing.T) {
				digest, structHash, sig := signTyped(t, typedState(dom.d, tc.s), key)
				if have := tc.s.StructHash(); have != structHash {
					t.Errorf("StructHash: have %s, want %s", have, structHash)
				}
				have, err := dom.d.Digest(tc.s.StructHash())
				if err != nil || have != digest {
					t.Fatalf("Digest: have %s (err %v), want %s", have, err, digest)
				}
				signer, err := RecoverState(dom.d, tc.s, sig)
				if err != nil || signer != want {
					t.Errorf("RecoverState: have %s (err %v), want %s", signer, err, want)
				}
				own, err := SignState(dom.d, tc.s, prv)
				if err != nil {
					t.Fatalf("SignState: have %v, want nil", err)
				}
				if pub, err := crypto.SigToPub(digest[:], append(own[:64:64], own[64]-27)); err != nil || crypto.PubkeyToAddress(*pub) != want {
					t.Errorf("go-ethereum recovery of SignState: have err %v, want %s", err, want)
				}
			})
		}
	}
}

func TestOutcomeMatchesApitypes(t *testing.T) {
	f := newFixture(t)
	key := crypto.Keccak256([]byte("apitypes signer"))
	prv, _ := crypto.ToECDSA(key)
	want := crypto.PubkeyToAddress(prv.PublicKey)
	for _, dom := range testDomains() {
		for _, result := range []uint8{ResultWhiteWins, ResultBlackWins, ResultDraw} {
			o := Outcome{GameID: f.game, Result: result}
			t.Run(dom.name+"/"+big.NewInt(int64(result)).String(), func(t *testing.T) {
				digest, structHash, sig := signTyped(t, typedOutcome(dom.d, o), key)
				if have := o.StructHash(); have != structHash {
					t.Errorf("StructHash: have %s, want %s", have, structHash)
				}
				if have, err := dom.d.Digest(o.StructHash()); err != nil || have != digest {
					t.Errorf("Digest: have %s (err %v), want %s", have, err, digest)
				}
				signer, err := RecoverOutcome(dom.d, o, sig)
				if err != nil || signer != want {
					t.Errorf("RecoverOutcome: have %s (err %v), want %s", signer, err, want)
				}
				own, err := SignOutcome(dom.d, o, prv)
				if err != nil {
					t.Fatalf("SignOutcome: have %v, want nil", err)
				}
				if signer, err := RecoverOutcome(dom.d, o, own); err != nil || signer != want {
					t.Errorf("RecoverOutcome(SignOutcome): have %s (err %v), want %s", signer, err, want)
				}
			})
		}
	}
}

func TestDomainErrors(t *testing.T) {
	tests := []struct {
		name    string
		chainID *big.Int
		want    error
	}{
		{"nil chain id", nil, ErrBadDomain},
		{"negative chain id", big.NewInt(-1), ErrBadDomain},
		{"chain id of 257 bits", new(big.Int).Lsh(big.NewInt(1), 256), ErrBadDomain},
		{"zero chain id", big.NewInt(0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Domain{ChainID: tt.chainID, Contract: common.HexToAddress(ArbiterContract)}
			if _, err := d.Digest(common.Hash{}); !errors.Is(err, tt.want) {
				t.Errorf("Digest: have %v, want %v", err, tt.want)
			}
			if _, err := SignState(d, StartState(common.Hash{}), testKey(t, "k")); !errors.Is(err, tt.want) {
				t.Errorf("SignState: have %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDefaultDomainCopiesChainID(t *testing.T) {
	id := big.NewInt(5)
	d := DefaultDomain(id)
	id.SetInt64(6)
	if d.ChainID.Int64() != 5 {
		t.Errorf("have %v, want 5", d.ChainID)
	}
	if have, want := d.Contract, common.HexToAddress("0x0000000000000000000000000000000000001003"); have != want {
		t.Errorf("have %s, want %s", have, want)
	}
}
