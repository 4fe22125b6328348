package channel

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

var errNilKey = fmt.Errorf("%w: nil private key", ErrBadSignature)

// SignatureLength is the length of a signature: r || s || v.
const SignatureLength = 65

// SignState signs s for domain d. The signature is r || s || v with v 27 or
// 28, as eth_signTypedData_v4 returns it.
func SignState(d Domain, s State, key *ecdsa.PrivateKey) ([]byte, error) {
	if err := s.checkSize(); err != nil {
		return nil, err
	}
	return sign(d, s.StructHash(), key)
}

// RecoverState returns the address that signed s for domain d. It accepts v
// as 0/1 or 27/28 and rejects malformed and high-s signatures with
// ErrBadSignature.
func RecoverState(d Domain, s State, sig []byte) (common.Address, error) {
	if err := s.checkSize(); err != nil {
		return common.Address{}, err
	}
	return recoverSigner(d, s.StructHash(), sig)
}

// SignOutcome signs o for domain d, like SignState.
func SignOutcome(d Domain, o Outcome, key *ecdsa.PrivateKey) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return sign(d, o.StructHash(), key)
}

// RecoverOutcome returns the address that signed o for domain d, like
// RecoverState.
func RecoverOutcome(d Domain, o Outcome, sig []byte) (common.Address, error) {
	if err := o.check(); err != nil {
		return common.Address{}, err
	}
	return recoverSigner(d, o.StructHash(), sig)
}

func sign(d Domain, structHash common.Hash, key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errNilKey
	}
	digest, err := d.Digest(structHash)
	if err != nil {
		return nil, err
	}
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	sig[64] += 27
	return sig, nil
}

func recoverSigner(d Domain, structHash common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != SignatureLength {
		return common.Address{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), SignatureLength)
	}
	v := sig[64]
	switch v {
	case 0, 1:
	case 27, 28:
		v -= 27
	default:
		return common.Address{}, fmt.Errorf("%w: v = %d", ErrBadSignature, sig[64])
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return common.Address{}, fmt.Errorf("%w: r or s out of range", ErrBadSignature)
	}
	digest, err := d.Digest(structHash)
	if err != nil {
		return common.Address{}, err
	}
	norm := make([]byte, SignatureLength)
	copy(norm, sig)
	norm[64] = v
	pub, err := crypto.SigToPub(digest[:], norm)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
