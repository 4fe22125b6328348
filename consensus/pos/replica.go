package pos

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// seenCommit is the WAL form of the commit for the block a height builds on.
type seenCommit struct {
	Height uint64
	Hash   common.Hash
	Commit Commit
}

// replica couples a Core with its WAL: every input is logged before the
// core handles it, and own signed messages are synced before anything is
// sent. It is the synchronous part of a Driver, used directly by the tests.
// It is not safe for concurrent use.
type replica struct {
	core  *Core
	wal   *wal
	inWAL map[common.Hash]bool // own records already in the log (replay)
}

// openReplica opens the WAL at path and starts a core on head (the chain's
// last committed block), whose commit is headCommit if the caller knows it
// (the log's own record of it is preferred). The double-sign guard is restored from every own
// message and guard record in the log. If the log belongs to height
// head+1, its inputs are replayed into the core in order; otherwise (the
// chain moved on, the new height's opening was lost in a crash, or the log
// is new) head+1 is started afresh and its opening appended to the log. The
// returned Ready holds what the replay produced, for the caller to act on.
func openReplica(cfg Config, path string, head *types.Block, headCommit *Commit, vals *ValidatorSet, noSync bool) (*replica, Ready, error) {
	w, recs, _, err := openWAL(path)
	if err != nil {
		return nil, Ready{}, err
	}
	w.noSync = noSync
	var (
		seen     *seenCommit
		marker   = -1
		markerAt uint64
		guard    = cfg.LastSigned
		raiseTo  = func(l LastSigned) {
			if guard.cmp(l.Height, l.Round, l.Step) < 0 {
				guard = l
			}
		}
	)
	for i, r := range recs {
		switch r.kind {
		case walLastSigned:
			var l LastSigned
			if rlp.DecodeBytes(r.data, &l) == nil {
				raiseTo(l)
			}
		case walOwn:
			if l, ok := signedInfo(cfg.ChainID, r.data); ok {
				raiseTo(l)
			}
		case walSeenCommit:
			// The log may hold several heights: keep the commit of
			// the head, whichever record carries it.
			var s seenCommit
			if rlp.DecodeBytes(r.data, &s) == nil && s.Height == head.NumberU64() && s.Hash == head.Hash() {
				seen = &s
			}
		case walHeight:
			if len(r.data) == 8 {
				marker, markerAt = i, binary.BigEndian.Uint64(r.data)
			}
		}
	}
	cfg.LastSigned = guard
	core, err := NewCore(cfg)
	if err != nil {
		w.close()
		return nil, Ready{}, err
	}
	rp := &replica{core: core, wal: w, inWAL: make(map[common.Hash]bool)}

	var lastCommit *Commit
	switch {
	case head.NumberU64() == 0:
		lastCommit = &Commit{}
	case seen != nil:
		lastCommit = &seen.Commit
	case headCommit != nil:
		lastCommit = headCommit
	}
	next := head.NumberU64() + 1
	if marker < 0 || markerAt != next {
		if err := rp.startHeight(head, vals, lastCommit); err != nil {
			w.close()
			return nil, Ready{}, err
		}
		return rp, core.Ready(), nil
	}
	if err := core.StartHeight(head, vals, lastCommit); err != nil {
		w.close()
		return nil, Ready{}, err
	}
	for _, r := range recs[marker+1:] {
		switch r.kind {
		case walMessage:
			_ = core.Step(r.data)
		case walOwn:
			rp.inWAL[crypto.Keccak256Hash(r.data)] = true
			_ = core.Step(r.data)
		case walTick:
			core.Tick()
		case walValidated:
			if hash, verr, ok := decodeValidated(r.data); ok {
				_ = core.Validated(hash, verr)
			}
		case walFar:
			if addr, round, ok := decodeFar(r.data); ok {
				_ = core.farFrom(addr, round)
				core.evaluate()
			}
		}
	}
	return rp, core.Ready(), nil
}

// signedInfo returns the guard position of an own signed message.
func signedInfo(chainID *big.Int, raw []byte) (LastSigned, bool) {
	m, err := DecodeMessage(raw, maxWALRecord)
	if err != nil {
		return LastSigned{}, false
	}
	switch m := m.(type) {
	case *Proposal:
		return LastSigned{Height: m.Height, Round: m.Round, Step: signedProposal, Digest: m.Digest(chainID)}, true
	case *Vote:
		return LastSigned{Height: m.Height, Round: m.Round, Step: uint8(m.Type), Digest: m.Digest(chainID)}, true
	}
	return LastSigned{}, false
}

// message steps a received message and logs it if the core accepted it.
// A refused message changed nothing, so the log need not hold it: junk,
// copies and far-future floods cost no log space. A message of a far round
// is logged as what the core took from it, its signer and round (walFar),
// not whole: a proposal far ahead may carry a block of megabytes, and a
// Byzantine proposer could have one logged on every validator every tick.
// Logging after the step
// is safe: own messages the step caused are synced by persist before they
// are sent, so a crash in between loses only an input, as if it had never
// arrived. It returns the core's verdict and, separately, a WAL failure
// (after which nothing may be signed).
func (r *replica) message(raw []byte) (stepErr, walErr error) {
	if stepErr = r.core.Step(raw); stepErr != nil {
		return stepErr, nil
	}
	if f, ok := r.core.takeFar(); ok {
		return nil, r.wal.append(walFar, encodeFar(f.addr, f.round))
	}
	return nil, r.wal.append(walMessage, raw)
}

// filled steps a proposal this node filled (Core.StepFilled) and logs its
// wire form, as message does.
func (r *replica) filled(f FilledProposal) (stepErr, walErr error) {
	if stepErr = r.core.StepFilled(f); stepErr != nil {
		return stepErr, nil
	}
	if fr, ok := r.core.takeFar(); ok {
		return nil, r.wal.append(walFar, encodeFar(fr.addr, fr.round))
	}
	return nil, r.wal.append(walMessage, f.Raw)
}

// validated hands the core a validation answer and logs it if the core
// took it (see message).
func (r *replica) validated(hash common.Hash, verr error) (stepErr, walErr error) {
	if stepErr = r.core.Validated(hash, verr); stepErr != nil {
		return stepErr, nil
	}
	return nil, r.wal.append(walValidated, encodeValidated(hash, verr))
}

// tick logs and applies one tick.
func (r *replica) tick() error {
	if err := r.wal.append(walTick, nil); err != nil {
		return err
	}
	r.core.Tick()
	return nil
}

// persist logs rd's own signed messages and syncs the log; only then may
// rd's messages be sent. Messages already in the log (reproduced by a
// replay) are not written twice.
func (r *replica) persist(rd *Ready) error {
	if len(rd.Signed) == 0 {
		return nil
	}
	for _, raw := range rd.Signed {
		k := crypto.Keccak256Hash(raw)
		if r.inWAL[k] {
			continue
		}
		if err := r.wal.append(walOwn, raw); err != nil {
			return err
		}
		r.inWAL[k] = true
	}
	return r.wal.sync()
}

// startHeight starts the log's records for the height after parent (the
// guard, the parent's commit, the height marker) and starts the core on it.
func (r *replica) startHeight(parent *types.Block, vals *ValidatorSet, lastCommit *Commit) error {
	guard, err := rlp.EncodeToBytes(r.core.LastSigned())
	if err != nil {
		return err
	}
	var h [8]byte
	binary.BigEndian.PutUint64(h[:], parent.NumberU64()+1)
	recs := []walRecord{{kind: walLastSigned, data: guard}}
	if lastCommit != nil {
		sc, err := rlp.EncodeToBytes(&seenCommit{Height: parent.NumberU64(), Hash: parent.Hash(), Commit: *lastCommit})
		if err != nil {
			return err
		}
		recs = append(recs, walRecord{kind: walSeenCommit, data: sc})
	}
	recs = append(recs, walRecord{kind: walHeight, data: h[:]})
	if err := r.wal.newHeight(recs...); err != nil {
		return fmt.Errorf("pos: new height %d: %w", parent.NumberU64()+1, err)
	}
	r.inWAL = make(map[common.Hash]bool)
	return r.core.StartHeight(parent, vals, lastCommit)
}
