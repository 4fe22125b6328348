package txpool

import (
	"math/big"
	"time"

	"github.com/arbiter-chain/arbiter/node/rules"
)

// Defaults for the zero fields of Config. The limits not listed here default
// to a fraction of MaxTxs or MaxBytes (see Config).
const (
	DefaultMaxTxs             = 8192
	DefaultMaxBytes           = 32 << 20
	DefaultMaxPerSender       = 1024
	DefaultPriceBump          = 10
	DefaultMaxFuturePerSender = 256 // a whole gossip batch of one sender, arriving before the one it follows
	DefaultFutureHeads        = 64
)

// Bounds on the pool's size, so that a sponsor's share of it (count times
// bytes, see usage.load) fits in 64 bits. Larger settings are lowered.
const (
	maxMaxTxs   = 1 << 24
	maxMaxBytes = 1 << 38
)

// Config bounds the pool. Zero fields take the defaults.
//
// A transaction is executable when its nonce follows the sender's state nonce
// and the sender's other pooled transactions without a gap; the others are
// non-executable (future). Non-executable transactions share a bounded part
// of the pool, and a sender may have only a few of them.
type Config struct {
	MaxTxs       int      // transactions in the pool (DefaultMaxTxs)
	MaxBytes     uint64   // encoded bytes in the pool (DefaultMaxBytes)
	MaxPerSender int      // transactions per sender (DefaultMaxPerSender)
	MinGasPrice  *big.Int // minimum effective gas price (0)
	PriceBump    uint64   // percent a replacement must raise fee cap and tip by (DefaultPriceBump)

	// MaxSenderBytes bounds the encoded bytes of one sender's transactions
	// (MaxBytes/16, at least rules.MaxTxSize).
	MaxSenderBytes uint64
	// MaxFutureTxs bounds the non-executable transactions in the pool
	// (MaxTxs/4).
	MaxFutureTxs int
	// MaxFutureBytes bounds the encoded bytes of the non-executable
	// transactions in the pool (MaxBytes/4).
	MaxFutureBytes uint64
	// MaxFuturePerSender bounds one sender's non-executable transactions
	// (DefaultMaxFuturePerSender).
	MaxFuturePerSender int
	// FutureHeads is how many new heads a transaction may wait without
	// becoming executable before it is dropped (DefaultFutureHeads).
	FutureHeads int
	// BacklogWindow sets the client backlog (see Pool.Submit): the
	// executable transactions the chain drains in this time at its recent
	// rate (DefaultBacklogWindow), at least MinBacklog (DefaultMinBacklog)
	// per BacklogWindow of the time measured.
	// A negative window turns the backlog off: Submit never waits.
	BacklogWindow time.Duration
	MinBacklog    int
	// BacklogWait is the longest a client's transaction waits for room in
	// the backlog before it is refused (DefaultBacklogWait).
	BacklogWait time.Duration
	// Clock reads the time for the drain rate (nil: time.Now).
	Clock func() time.Time
	// Senders receives the sender of every admitted transaction, for block
	// validation to reuse, and keeps apart those of transactions refused for
	// lack of room (nil: a cache of its own, of twice MaxTxs).
	Senders *Senders
}

func (c Config) withDefaults() Config {
	if c.MaxTxs <= 0 {
		c.MaxTxs = DefaultMaxTxs
	}
	c.MaxTxs = min(c.MaxTxs, maxMaxTxs)
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	c.MaxBytes = min(c.MaxBytes, maxMaxBytes)
	if c.MaxPerSender <= 0 {
		c.MaxPerSender = DefaultMaxPerSender
	}
	if c.MinGasPrice == nil || c.MinGasPrice.Sign() < 0 {
		c.MinGasPrice = new(big.Int)
	}
	if c.PriceBump == 0 {
		c.PriceBump = DefaultPriceBump
	}
	if c.MaxSenderBytes == 0 {
		c.MaxSenderBytes = max(c.MaxBytes/16, rules.MaxTxSize)
	}
	if c.MaxFutureTxs <= 0 {
		c.MaxFutureTxs = max(c.MaxTxs/4, 1)
	}
	c.MaxFutureTxs = min(c.MaxFutureTxs, c.MaxTxs)
	if c.MaxFutureBytes == 0 {
		c.MaxFutureBytes = max(c.MaxBytes/4, 1)
	}
	c.MaxFutureBytes = min(c.MaxFutureBytes, c.MaxBytes)
	if c.MaxFuturePerSender <= 0 {
		c.MaxFuturePerSender = DefaultMaxFuturePerSender
	}
	if c.FutureHeads <= 0 {
		c.FutureHeads = DefaultFutureHeads
	}
	if c.BacklogWindow == 0 {
		c.BacklogWindow = DefaultBacklogWindow
	}
	if c.MinBacklog <= 0 {
		c.MinBacklog = DefaultMinBacklog
	}
	if c.BacklogWait <= 0 {
		c.BacklogWait = DefaultBacklogWait
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Senders == nil {
		c.Senders = NewSenders(max(2*c.MaxTxs, minSenders))
	}
	return c
}
