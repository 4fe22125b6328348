package genesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/arbiter-chain/arbiter/consensus/pow"
	"github.com/arbiter-chain/arbiter/contracts/native"
	"github.com/arbiter-chain/arbiter/contracts/staking"
)

// MaxFileSize bounds a genesis file; anything larger is refused before parsing.
const MaxFileSize = 1 << 20

// Engine names accepted in genesis.json.
const (
	EnginePoW = "pow"
	EnginePoS = "pos"
)

var (
	errNoChainID      = errors.New("genesis: chainId must be set")
	errEngine         = errors.New("genesis: engine must be \"pow\" or \"pos\"")
	errNoMembers      = errors.New("genesis: at least one member is required")
	errDupMember      = errors.New("genesis: duplicate member")
	errGasLimit       = errors.New("genesis: blockGasLimit must be at least 21000")
	errBlockTime      = errors.New("genesis: blockTime must be positive")
	errVoucher        = errors.New("genesis: an allowed account must be vouched for by a member")
	errNoPoWParams    = errors.New("genesis: engine pow needs a \"pow\" section")
	errTooLarge       = errors.New("genesis: file too large")
	errZeroAddress    = errors.New("genesis: zero address")
	errStakingSection = errors.New("genesis: a \"staking\" section needs the staking contract in \"contracts\"")
	errPoWBlockTime   = errors.New("genesis: proof-of-work blockTime must be at least 1s (header time has second resolution)")
)

// Genesis is the content of genesis.json: everything every member must agree
// on before the first block.
type Genesis struct {
	ChainID   uint64      `json:"chainId"`
	Engine    string      `json:"engine"`
	PoW       *pow.Config `json:"pow,omitempty"`
	BlockTime Duration    `json:"blockTime"`
	GasLimit  uint64      `json:"blockGasLimit"`
	// MinGasPrice is the lowest gas price the pool admits, in wei. A private
	// network may price gas at zero: gas then bounds work, not fees.
	MinGasPrice *math.HexOrDecimal256 `json:"minGasPrice,omitempty"`
	Timestamp   uint64                `json:"timestamp"`
	// Contracts names the native contracts enabled at their fixed
	// addresses ("membership", "staking", "chess").
	Contracts []string `json:"contracts,omitempty"`
	// Staking sets the staking contract's parameters; absent fields take
	// the defaults (staking.DefaultEpochLength, twice it, 1 ether).
	Staking *Staking                   `json:"staking,omitempty"`
	Members []Member                   `json:"members"`
	Allowed []Allowance                `json:"allowed,omitempty"`
	Alloc   map[common.Address]Account `json:"alloc"`
}

// Member is a consortium member: its node key's address, a name, its stake
// (used by proof-of-stake) and, if known, the multiaddr its node listens on.
type Member struct {
	Address   common.Address        `json:"address"`
	Name      string                `json:"name"`
	Stake     *math.HexOrDecimal256 `json:"stake,omitempty"`
	Multiaddr string                `json:"multiaddr,omitempty"`
}

// Staking is the "staking" section of genesis.json.
type Staking struct {
	// EpochLength is the number of blocks of an epoch; set changes take
	// effect at epoch boundaries.
	EpochLength uint64 `json:"epochLength,omitempty"`
	// UnbondingDelay is the number of blocks between a withdrawal and its
	// payout (default twice the epoch length).
	UnbondingDelay uint64 `json:"unbondingDelay,omitempty"`
	// MinStake is the least stake of a validator, in wei.
	MinStake *math.HexOrDecimal256 `json:"minStake,omitempty"`
}

// StakingParams returns the staking contract's parameters: the defaults
// changed by the "staking" section.
func (g *Genesis) StakingParams() staking.Params {
	var opts []staking.Option
	if s := g.Staking; s != nil {
		if s.EpochLength != 0 {
			opts = append(opts, staking.WithEpochLength(s.EpochLength))
		}
		if s.UnbondingDelay != 0 {
			opts = append(opts, staking.WithUnbondingDelay(s.UnbondingDelay))
		}
		if s.MinStake != nil {
			if v, overflow := uint256.FromBig((*big.Int)(s.MinStake)); !overflow && (*big.Int)(s.MinStake).Sign() >= 0 {
				opts = append(opts, staking.WithMinStake(v))
			} else {
				opts = append(opts, staking.WithMinStake(new(uint256.Int).SetAllOne()))
			}
		}
	}
	return staking.New(opts...).Params()
}

// Allowance lets a non-member account send transactions, vouched for by a member.
type Allowance struct {
	Account common.Address `json:"account"`
	By      common.Address `json:"by"`
}

// Account is a genesis allocation.
type Account struct {
	Balance *math.HexOrDecimal256 `json:"balance"`
}

// Duration is a time.Duration written as a Go duration string ("2s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "500ms" or "2s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("blockTime: want a duration string like \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("blockTime: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Load reads and validates a genesis file.
func Load(path string) (*Genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fmt.Errorf("genesis: read %s: %w", path, err)
	}
	if buf.Len() > MaxFileSize {
		return nil, errTooLarge
	}
	return Parse(buf.Bytes())
}

// Parse decodes and validates genesis JSON. Unknown fields are refused so a
// misspelt parameter cannot silently take its default.
func Parse(data []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	g := new(Genesis)
	if err := dec.Decode(g); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// Validate checks the genesis for values no network could run on.
func (g *Genesis) Validate() error {
	if g.ChainID == 0 {
		return errNoChainID
	}
	switch g.Engine {
	case EnginePoW:
		if g.PoW == nil {
			return errNoPoWParams
		}
		if err := g.PoW.Validate(); err != nil {
			return fmt.Errorf("genesis: pow: %w", err)
		}
		if time.Duration(g.BlockTime) < time.Second {
			return errPoWBlockTime
		}
	case EnginePoS:
	default:
		return errEngine
	}
	if g.BlockTime <= 0 {
		return errBlockTime
	}
	if g.GasLimit < params.TxGas {
		return errGasLimit
	}
	if len(g.Members) == 0 {
		return errNoMembers
	}
	seen := make(map[common.Address]bool)
	for _, m := range g.Members {
		if m.Address == (common.Address{}) {
			return fmt.Errorf("%w for member %q", errZeroAddress, m.Name)
		}
		if seen[m.Address] {
			return fmt.Errorf("%w %s", errDupMember, m.Address)
		}
		seen[m.Address] = true
	}
	for _, a := range g.Allowed {
		if !seen[a.By] {
			return fmt.Errorf("%w: %s by %s", errVoucher, a.Account, a.By)
		}
	}
	if g.Staking != nil && !slices.Contains(g.Contracts, "staking") {
		return errStakingSection
	}
	if err := g.StakingParams().Validate(); err != nil {
		return fmt.Errorf("genesis: staking: %w", err)
	}
	return nil
}

// Write stores the genesis as indented JSON.
func (g *Genesis) Write(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ChainConfig returns the go-ethereum chain configuration the ledger runs
// under: every fork up to London active from block 0 (EIP-155 replay
// protection, typed and EIP-1559 transactions, EIP-158 empty-account
// deletion). Blob and set-code transactions stay disabled.
func (g *Genesis) ChainConfig() *params.ChainConfig {
	zero := big.NewInt(0)
	return &params.ChainConfig{
		ChainID:             new(big.Int).SetUint64(g.ChainID),
		HomesteadBlock:      zero,
		EIP150Block:         zero,
		EIP155Block:         zero,
		EIP158Block:         zero,
		ByzantiumBlock:      zero,
		ConstantinopleBlock: zero,
		PetersburgBlock:     zero,
		IstanbulBlock:       zero,
		MuirGlacierBlock:    zero,
		BerlinBlock:         zero,
		LondonBlock:         zero,
	}
}

// MemberAddresses returns the genesis members in file order.
func (g *Genesis) MemberAddresses() []common.Address {
	out := make([]common.Address, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.Address
	}
	return out
}

// SortedAlloc returns the allocations in address order, so building genesis
// never depends on map iteration order.
func (g *Genesis) SortedAlloc() []common.Address {
	addrs := make([]common.Address, 0, len(g.Alloc))
	for a := range g.Alloc {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	return addrs
}

// Header returns the genesis header without its state root, which the chain
// computes when it writes the genesis state.
func (g *Genesis) Header(difficulty *big.Int) *types.Header {
	return &types.Header{
		Number:      new(big.Int),
		Time:        g.Timestamp,
		GasLimit:    g.GasLimit,
		Difficulty:  difficulty,
		BaseFee:     new(big.Int),
		UncleHash:   types.EmptyUncleHash,
		TxHash:      types.EmptyTxsHash,
		ReceiptHash: types.EmptyReceiptsHash,
		Extra:       g.Hash().Bytes(),
	}
}

// Hash commits to the whole genesis configuration (chain id, engine and its
// parameters, block time, members, allocations). It is the genesis block's
// Extra, so nodes started from different genesis files have different
// genesis hashes and never mistake each other's chains for their own.
func (g *Genesis) Hash() common.Hash {
	b, err := json.Marshal(g) // encoding/json sorts map keys: deterministic
	if err != nil {
		panic(fmt.Sprintf("genesis: marshal: %v", err)) // only unsupported types fail, and Genesis has none
	}
	return crypto.Keccak256Hash(b)
}

// BalanceBig returns the balance as a big.Int (zero when unset).
func (a Account) BalanceBig() *big.Int {
	if a.Balance == nil {
		return new(big.Int)
	}
	return (*big.Int)(a.Balance)
}

// MinGasPriceBig returns the minimum gas price (zero when unset).
func (g *Genesis) MinGasPriceBig() *big.Int {
	if g.MinGasPrice == nil {
		return new(big.Int)
	}
	return (*big.Int)(g.MinGasPrice)
}

// ForContracts is what the native contracts read of this genesis when they
// seed their storage.
func (g *Genesis) ForContracts() *native.Genesis {
	out := &native.Genesis{ChainID: g.ChainID}
	for _, m := range g.Members {
		gm := native.GenesisMember{Address: m.Address, Name: m.Name}
		if m.Stake != nil {
			gm.Stake = new(big.Int).Set((*big.Int)(m.Stake))
		}
		out.Members = append(out.Members, gm)
	}
	for _, a := range g.Allowed {
		out.Allowed = append(out.Allowed, native.GenesisAllowance{Account: a.Account, By: a.By})
	}
	return out
}
