package main

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"
)

// devKey returns well-known development key i (1-based). These keys are
// public (anyone can derive them from this source): they exist so that the
// embedded genesis.json can be run out of the box, and must never hold value.
func devKey(i int) (*ecdsa.PrivateKey, error) {
	if i < 1 || i > maxMembers {
		return nil, fmt.Errorf("dev key index %d out of range 1..%d", i, maxMembers)
	}
	return crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("arbiter development member %d", i))))
}
