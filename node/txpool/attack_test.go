package txpool

import (
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/arbiter-chain/arbiter/contracts/chess"
	"github.com/arbiter-chain/arbiter/contracts/staking"
	"github.com/arbiter-chain/arbiter/node/rules"
)

// TestFloodByOneMember reproduces the reported attack: a member with no
// balance sends 347 transactions of 96 KiB at gas price 0, enough to fill
// a 32 MiB pool, from itself or from accounts it vouches for, with a nonce
// gap or without. Afterwards honest members must still get an ordinary
// transfer, slashing evidence and a chess arbiter call into the pool, and
// keep what they had pooled before.
func TestFloodByOneMember(t *testing.T) {
	const floodTxs = 347
	tests := []struct {
		name   string
		sybils int  // accounts mallory vouches for, sending round robin with mallory
		gap    bool // the flood starts at nonce 1, so none of it can execute
	}{
		{name: "one sender, nonce gap", gap: true},
		{name: "vouched accounts, nonce gap", sybils: 20, gap: true},
		{name: "vouched accounts, executable", sybils: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			keys := e.sybils(t, tt.sybils)
			p := e.pool(Config{})

			before := []*types.Transaction{sign(t, e.alice, legacy(0, 0)), sign(t, e.bob, legacy(0, 0))}
			mustAdd(t, p, before...)

			nonces := make([]uint64, len(keys))
			if tt.gap {
				for i := range nonces {
					nonces[i] = 1
				}
			}
			accepted, i := 0, 0
			send := func(size int) bool {
				k := i % len(keys)
				i++
				if p.Add(sign(t, keys[k], withData(nonces[k], size))) != nil {
					return false
				}
				accepted++
				nonces[k]++
				return true
			}
			for range floodTxs {
				send(rules.MaxDataSize)
			}
			// Top the pool up to the last byte with ever smaller ones, each
			// size until every sender was refused in a row.
			for size := rules.MaxDataSize / 2; ; size /= 2 {
				for refused := 0; refused < len(keys); {
					if send(size) {
						refused = 0
					} else {
						refused++
					}
				}
				if size == 0 {
					break
				}
			}
			t.Logf("flood: %d accepted, pool %d txs, %d bytes", accepted, p.Len(), p.Bytes())

			slash := append(crypto.Keccak256([]byte("slash(bytes)"))[:4], make([]byte, 1024)...)
			after := []*types.Transaction{
				sign(t, e.alice, legacy(1, 0)),
				sign(t, e.bob, legacy(1, 0, func(tx *types.LegacyTx) {
					tx.To, tx.Data, tx.Gas = &staking.Address, slash, 300_000
				})),
				sign(t, e.carol, legacy(3, 0, func(tx *types.LegacyTx) {
					tx.To, tx.Data, tx.Gas = &chess.Address, make([]byte, 600), 100_000
				})),
			}
			for i, tx := range after {
				if err := p.Add(tx); err != nil {
					t.Errorf("honest tx %d after the flood: have %v, want nil", i, err)
				}
			}
			pooled(t, p, "honest tx pooled before the flood", before...)
			checkPool(t, p)
		})
	}
}
