package channel

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
)

// MaxSignedStateJSON caps the size, in bytes, of a SignedState's JSON form.
// A maximal valid one is well under 500 bytes.
const MaxSignedStateJSON = 1024

// SignedState is a State with its signature, as it travels between clients,
// the bridge and the chain. Its JSON form is
//
//	{"gameId":"0x<64 hex>","ply":7,"fen":"...","move":"e2e4",
//	 "prevHash":"0x<64 hex>","signature":"0x<130 hex>"}
//
// Decoding is strict: all six keys are required, spelled exactly so, and
// appear once with a non-null value; unknown keys, bad hex, wrong lengths,
// an oversized fen or move, and trailing data are rejected with
// ErrMalformed. Decoding does not check the signature itself; use
// RecoverState.
type SignedState struct {
	State     State
	Signature []byte
}

// signedStateJSON fixes the key order of the encoding.
type signedStateJSON struct {
	GameID    string `json:"gameId"`
	Ply       uint32 `json:"ply"`
	FEN       string `json:"fen"`
	Move      string `json:"move"`
	PrevHash  string `json:"prevHash"`
	Signature string `json:"signature"`
}

// MarshalJSON encodes s with 0x-prefixed lower-case hex.
func (s SignedState) MarshalJSON() ([]byte, error) {
	if err := s.State.checkSize(); err != nil {
		return nil, err
	}
	if len(s.Signature) != SignatureLength {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(s.Signature), SignatureLength)
	}
	return json.Marshal(signedStateJSON{
		GameID:    s.State.GameID.Hex(),
		Ply:       s.State.Ply,
		FEN:       s.State.FEN,
		Move:      s.State.Move,
		PrevHash:  s.State.PrevHash.Hex(),
		Signature: "0x" + hex.EncodeToString(s.Signature),
	})
}

// Bits recording which keys were seen while decoding.
const (
	seenGameID uint8 = 1 << iota
	seenPly
	seenFEN
	seenMove
	seenPrevHash
	seenSignature
	seenAll = seenGameID | seenPly | seenFEN | seenMove | seenPrevHash | seenSignature
)

// UnmarshalJSON decodes s strictly; see SignedState. On error s is left
// unchanged.
func (s *SignedState) UnmarshalJSON(data []byte) error {
	if len(data) > MaxSignedStateJSON {
		return fmt.Errorf("%w: %d bytes of JSON, at most %d allowed", ErrMalformed, len(data), MaxSignedStateJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: want a JSON object", ErrMalformed)
	}
	var (
		out      SignedState
		seen     uint8
		gameID   string
		prevHash string
		sig      string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		key, _ := tok.(string)
		var bit uint8
		var dst any
		switch key {
		case "gameId":
			bit, dst = seenGameID, &gameID
		case "ply":
			bit, dst = seenPly, &out.State.Ply
		case "fen":
			bit, dst = seenFEN, &out.State.FEN
		case "move":
			bit, dst = seenMove, &out.State.Move
		case "prevHash":
			bit, dst = seenPrevHash, &prevHash
		case "signature":
			bit, dst = seenSignature, &sig
		default:
			return fmt.Errorf("%w: unknown key %q", ErrMalformed, truncate(key))
		}
		if seen&bit != 0 {
			return fmt.Errorf("%w: duplicate key %q", ErrMalformed, key)
		}
		seen |= bit
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, key, err)
		}
		if bytes.Equal(raw, []byte("null")) {
			return fmt.Errorf("%w: %s: null", ErrMalformed, key)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, key, err)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fmt.Errorf("%w: unterminated object", ErrMalformed)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after object", ErrMalformed)
	}
	if seen != seenAll {
		return fmt.Errorf("%w: missing keys", ErrMalformed)
	}
	if err := out.State.checkSize(); err != nil {
		return err
	}
	var err error
	if out.State.GameID, err = decodeHash("gameId", gameID); err != nil {
		return err
	}
	if out.State.PrevHash, err = decodeHash("prevHash", prevHash); err != nil {
		return err
	}
	if out.Signature, err = decodeHex("signature", sig, SignatureLength); err != nil {
		return err
	}
	*s = out
	return nil
}

func decodeHash(key, s string) (common.Hash, error) {
	b, err := decodeHex(key, s, common.HashLength)
	if err != nil {
		return common.Hash{}, err
	}
	return common.Hash(b), nil
}

// decodeHex decodes "0x" followed by exactly n bytes of hex, either case.
func decodeHex(key, s string, n int) ([]byte, error) {
	if len(s) != 2+2*n || s[:2] != "0x" {
		return nil, fmt.Errorf("%w: %s: want 0x and %d hex digits", ErrMalformed, key, 2*n)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, key, err)
	}
	return b, nil
}

// truncate shortens untrusted input before it goes into an error message.
func truncate(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
