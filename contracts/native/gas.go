package native

// The gas schedule. CPU-bound operations are priced from their measured
// worst-case time at 66 gas per microsecond, the rate that makes signature
// recovery (about 45 µs with cgo's libsecp256k1 on the reference machine)
// cost Ethereum's 3000 gas; contracts price their own CPU-bound work the
// same way (contracts/chess: GasChessMove, GasChessStatus). Storage and
// logs keep Ethereum's prices because they cost disk and bandwidth, not
// CPU. BenchmarkChessWork in contracts/chess re-measures the figures.
const (
	// GasCall is charged once per call: selector lookup, ABI decoding and
	// the state snapshot.
	GasCall uint64 = 700
	// GasCopyWord is charged per 32-byte word of input and of output.
	GasCopyWord uint64 = 3

	// GasSload is charged per storage read, and for a write that does not
	// change the slot.
	GasSload uint64 = 800
	// GasSstoreSet is charged for a write that makes a zero slot non-zero.
	GasSstoreSet uint64 = 20000
	// GasSstoreReset is charged for any other write that changes a slot.
	GasSstoreReset uint64 = 5000

	// GasLog is charged per log, plus GasLogTopic per topic and GasLogByte
	// per byte of data.
	GasLog      uint64 = 375
	GasLogTopic uint64 = 375
	GasLogByte  uint64 = 8

	// GasTransfer is charged per transfer out of the contract's balance.
	GasTransfer uint64 = 9000

	// GasKeccak is charged per keccak256, plus GasKeccakWord per 32-byte word hashed.
	GasKeccak     uint64 = 30
	GasKeccakWord uint64 = 6
	// GasTypedHash is charged per EIP-712 struct hash and digest of a
	// signed message (about 4 µs for a chess State).
	GasTypedHash uint64 = 300
	// GasEcrecover is charged per signature recovery (about 45 µs).
	GasEcrecover uint64 = 3000
)

// words is the number of 32-byte words needed for n bytes.
func words(n int) uint64 { return (uint64(n) + 31) / 32 }

// KeccakGas returns the gas for hashing n bytes.
func KeccakGas(n int) uint64 { return GasKeccak + GasKeccakWord*words(n) }

// meter counts gas against a limit. Once the limit is passed it stays
// exhausted: used is pinned to the limit.
type meter struct {
	limit, used uint64
}

// charge adds gas and reports whether it fitted.
func (m *meter) charge(gas uint64) bool {
	if gas > m.limit-m.used {
		m.used = m.limit
		return false
	}
	m.used += gas
	return true
}
