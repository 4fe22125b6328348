package watcher

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// event is a decoded arbiter log.
type event struct {
	Name   string
	GameID common.Hash
	Claim  claimEvent // GameClaimed only
}

// claimEvent is GameClaimed(gameId, claimant, kind, ply, deadline).
type claimEvent struct {
	Claimant common.Address
	Kind     uint8
	Ply      uint32
	Deadline uint64
}

// decodeLog decodes l under the arbiter ABI. It is strict: the topic
// count must match the event, address topics must be zero-padded, and the
// data must be exactly the canonical encoding of the non-indexed values.
// Every failure wraps errUndecodable.
func decodeLog(a abi.ABI, l types.Log) (event, error) {
	if len(l.Topics) == 0 {
		return event{}, fmt.Errorf("%w: no topics", errUndecodable)
	}
	ev, err := a.EventByID(l.Topics[0])
	if err != nil {
		return event{}, fmt.Errorf("%w: unknown event topic %s", errUndecodable, l.Topics[0])
	}
	var indexed abi.Arguments
	for _, in := range ev.Inputs {
		if in.Indexed {
			indexed = append(indexed, in)
		}
	}
	if len(l.Topics) != 1+len(indexed) {
		return event{}, fmt.Errorf("%w: %s with %d topics, want %d", errUndecodable, ev.Name, len(l.Topics), 1+len(indexed))
	}
	for i, in := range indexed {
		if in.Type.T == abi.AddressTy && common.BytesToHash(l.Topics[1+i][:12]) != (common.Hash{}) {
			return event{}, fmt.Errorf("%w: %s topic %s is not an address", errUndecodable, ev.Name, in.Name)
		}
	}
	nonIndexed := ev.Inputs.NonIndexed()
	vals, err := nonIndexed.Unpack(l.Data)
	if err != nil {
		return event{}, fmt.Errorf("%w: %s data: %v", errUndecodable, ev.Name, err)
	}
	if again, err := nonIndexed.Pack(vals...); err != nil || !bytes.Equal(again, l.Data) {
		return event{}, fmt.Errorf("%w: %s data is not the canonical encoding of its values", errUndecodable, ev.Name)
	}
	if len(indexed) == 0 || indexed[0].Name != "gameId" {
		return event{}, fmt.Errorf("%w: %s has no gameId topic", errUndecodable, ev.Name)
	}
	out := event{Name: ev.Name, GameID: l.Topics[1]}
	if ev.Name == channel.EventGameClaimed {
		if len(vals) != 3 {
			return event{}, fmt.Errorf("%w: GameClaimed has %d values", errUndecodable, len(vals))
		}
		kind, ok1 := vals[0].(uint8)
		ply, ok2 := vals[1].(uint32)
		deadline, ok3 := vals[2].(uint64)
		if !ok1 || !ok2 || !ok3 {
			return event{}, fmt.Errorf("%w: GameClaimed values %v", errUndecodable, vals)
		}
		out.Claim = claimEvent{Claimant: common.BytesToAddress(l.Topics[2][12:]), Kind: kind, Ply: ply, Deadline: deadline}
	}
	return out, nil
}

// decodeClaimCall decodes the calldata of a claim() transaction and checks
// that it is the claim ev reports.
func decodeClaimCall(a abi.ABI, data []byte, id common.Hash, ev claimEvent) (channel.ClaimArgs, error) {
	if len(data) < 4 {
		return channel.ClaimArgs{}, fmt.Errorf("%w: %d bytes of calldata", errNotClaim, len(data))
	}
	m, err := a.MethodById(data[:4])
	if err != nil || m.Name != "claim" {
		return channel.ClaimArgs{}, fmt.Errorf("%w: selector %x", errNotClaim, data[:4])
	}
	vals, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		return channel.ClaimArgs{}, fmt.Errorf("%w: %v", errNotClaim, err)
	}
	var in channel.ClaimArgs
	if err := m.Inputs.Copy(&in, vals); err != nil {
		return channel.ClaimArgs{}, fmt.Errorf("%w: %v", errNotClaim, err)
	}
	if in.GameId != id || in.Kind != ev.Kind || in.Last.Ply != ev.Ply || in.Last.GameId != id {
		return channel.ClaimArgs{}, fmt.Errorf("%w: claims game %x kind %d ply %d", errNotClaim, in.GameId, in.Kind, in.Last.Ply)
	}
	return in, nil
}
