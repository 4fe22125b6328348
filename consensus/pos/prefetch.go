package pos

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// PrefetchSignatures recovers the signatures header carries, its
// proposer's seal and the commit of its parent, into the engine's signer
// caches, so that VerifyHeader of header and VerifyCertificate of its
// parent find them there. It judges nothing: a malformed header or a bad
// signature is left for verification to report. Sync calls it on other
// cores for the blocks of a batch ahead of the one being imported; the
// work is bounded by MaxValidators signatures per header.
func (e *Engine) PrefetchSignatures(header *types.Header) {
	if _, err := e.Author(header); err != nil {
		return
	}
	ex, err := DecodeExtra(header.Extra)
	if err != nil || header.Number == nil || !header.Number.IsUint64() || header.Number.Cmp(common.Big1) <= 0 {
		return
	}
	d := voteDigest(e.chainID, Precommit, header.Number.Uint64()-1, ex.LastCommit.Round, header.ParentHash)
	for i := range ex.LastCommit.Signatures {
		_, _ = recoverSigner(d, ex.LastCommit.Signatures[i][:])
	}
}
