package pos

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func writeTestWAL(t *testing.T, path string, recs []walRecord) {
	t.Helper()
	w, _, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.append(r.kind, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
}

func sameRecords(a, b []walRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

func TestWALTornTail(t *testing.T) {
	recs := []walRecord{
		{walHeight, []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{walMessage, bytes.Repeat([]byte{7}, 300)},
		{walTick, nil},
		{walOwn, []byte("own vote")},
	}
	full := 0
	for _, r := range recs {
		full += walHeaderSize + 1 + len(r.data)
	}
	lastLen := walHeaderSize + 1 + len(recs[3].data)
	tests := []struct {
		name    string
		damage  func(b []byte) []byte
		keep    int // records that survive
		dropped int64
	}{
		{"intact", func(b []byte) []byte { return b }, 4, 0},
		{"cut inside the last header", func(b []byte) []byte { return b[:full-lastLen+3] }, 3, 3},
		{"cut inside the last body", func(b []byte) []byte { return b[:full-2] }, 3, int64(lastLen - 2)},
		{"corrupt last body", func(b []byte) []byte { b[full-1] ^= 1; return b }, 3, int64(lastLen)},
		{"corrupt second record", func(b []byte) []byte { b[walHeaderSize+9+walHeaderSize+5] ^= 1; return b }, 1, int64(full - (walHeaderSize + 9))},
		{"garbage length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1) }, 4, 9},
		{"zero length", func(b []byte) []byte { return append(b, make([]byte, 12)...) }, 4, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal")
			writeTestWAL(t, path, recs)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != full {
				t.Fatalf("file size: have %d, want %d", len(b), full)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			w, got, dropped, err := openWAL(path)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRecords(got, recs[:tt.keep]) {
				t.Fatalf("records: have %d, want the first %d", len(got), tt.keep)
			}
			if dropped != tt.dropped {
				t.Fatalf("dropped: have %d bytes, want %d", dropped, tt.dropped)
			}
			// Appending after the repair yields a clean log.
			extra := walRecord{walTick, nil}
			if err := w.append(extra.kind, extra.data); err != nil {
				t.Fatal(err)
			}
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			w, got, dropped, err = openWAL(path)
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			if want := append(append([]walRecord(nil), recs[:tt.keep]...), extra); !sameRecords(got, want) || dropped != 0 {
				t.Fatalf("after repair and append: %d records, %d dropped; want %d, 0", len(got), dropped, len(want))
			}
		})
	}
}

func TestWALReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	writeTestWAL(t, path, []walRecord{{walTick, nil}, {walTick, nil}})
	w, _, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh := []walRecord{{walHeight, []byte{0, 0, 0, 0, 0, 0, 0, 9}}}
	if err := w.reset(fresh...); err != nil {
		t.Fatal(err)
	}
	if err := w.append(walTick, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	_, got, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(fresh, walRecord{walTick, nil}); !sameRecords(got, want) {
		t.Fatalf("after reset: have %v, want %v", got, want)
	}
}

// TestWALHeightsAppendUntilRotation checks that a new height appends its
// records to the log until the log reaches its rotation size, and then
// replaces the log with that height's records alone.
func TestWALHeightsAppendUntilRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	w, _, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	w.rotate = 64
	height := func(n byte) walRecord { return walRecord{walHeight, []byte{0, 0, 0, 0, 0, 0, 0, n}} }
	guard := walRecord{walLastSigned, bytes.Repeat([]byte{7}, 20)}
	var want []walRecord
	for n := byte(1); n <= 3; n++ {
		if err := w.newHeight(guard, height(n)); err != nil {
			t.Fatal(err)
		}
		if err := w.append(walTick, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, guard, height(n), walRecord{walTick, nil})
		if n == 3 {
			// 55 bytes a height: height 2 appends at 55, height 3 rotates at 110.
			want = want[len(want)-3:]
		}
		if err := w.sync(); err != nil {
			t.Fatal(err)
		}
		_, got, _, err := openWAL(path)
		if err != nil {
			t.Fatal(err)
		}
		if !sameRecords(got, want) {
			t.Fatalf("after height %d: %d records, want %d", n, len(got), len(want))
		}
		if st, err := os.Stat(path); err != nil || st.Size() != w.size {
			t.Fatalf("after height %d: size on disk %v (%v), tracked %d", n, st.Size(), err, w.size)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
}

// TestWALHeightStartLostInCrash checks what a replica relies on when a
// crash follows a new height's start before anything synced it: the log
// ends with the previous height's records, so openReplica sees the old
// height marker and starts the new height afresh.
func TestWALHeightStartLostInCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	h1 := []walRecord{{walHeight, []byte{0, 0, 0, 0, 0, 0, 0, 1}}, {walOwn, []byte("prevote")}}
	writeTestWAL(t, path, h1)
	w, _, _, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.newHeight(walRecord{walHeight, []byte{0, 0, 0, 0, 0, 0, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	// Crash: the buffered records never reach the file.
	if err := w.f.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, dropped, err := openWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRecords(got, h1) || dropped != 0 {
		t.Fatalf("after the crash: %d records, %d bytes dropped; want the %d of height 1", len(got), dropped, len(h1))
	}
}

// TestRestartFromWALDoesNotDoubleSign crashes a validator right after it
// prevoted one of an equivocating proposer's blocks and restarts it; then
// the other block arrives. With its WAL the validator knows it already
// prevoted in that round; without it (the control) it prevotes the other
// block, which shows the test can fail.
func TestRestartFromWALDoesNotDoubleSign(t *testing.T) {
	for _, useWAL := range []bool{true, false} {
		t.Run(fmt.Sprintf("wal=%v", useWAL), func(t *testing.T) {
			h := newCoreHarness(t)
			v, w := h.block(0, 0), h.block(0, 1)
			path := filepath.Join(t.TempDir(), "wal")
			cfg := h.core.cfg
			cfg.LastSigned = LastSigned{}

			rep, rd, err := openReplica(cfg, path, h.genesis, nil, h.vals, false)
			if err != nil {
				t.Fatal(err)
			}
			signed := make(map[signKey]common.Hash)
			var doubles []signKey
			record := func(rd Ready) {
				for len(rd.Validate) > 0 {
					// Validation answered at once, through the log.
					for _, b := range rd.Validate {
						if _, err := rep.validated(b.Hash(), h.validate(b)); err != nil {
							t.Fatal(err)
						}
					}
					more := rep.core.Ready()
					more.Signed = append(rd.Signed, more.Signed...)
					more.Messages = append(rd.Messages, more.Messages...)
					rd = more
				}
				if err := rep.persist(&rd); err != nil {
					t.Fatal(err)
				}
				for _, raw := range rd.Signed {
					info, _ := signedInfo(testChainID, raw)
					k := signKey{info.Height, info.Round, info.Step}
					if d, ok := signed[k]; ok && d != info.Digest {
						doubles = append(doubles, k)
					}
					signed[k] = info.Digest
				}
			}
			record(rd)
			// Round 0's proposal of v: the validator prevotes v.
			if _, err := rep.message(signProposal(t, h.proposerKey(0), 0, -1, v).Encode()); err != nil {
				t.Fatal(err)
			}
			record(rep.core.Ready())
			rep.tick()
			record(rep.core.Ready())
			if len(signed) != 1 {
				t.Fatalf("before the crash: %d signed messages, want 1 prevote", len(signed))
			}
			// Crash: the process dies; the WAL file stays.
			if err := rep.wal.close(); err != nil {
				t.Fatal(err)
			}
			if !useWAL {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			}
			rep, rd, err = openReplica(cfg, path, h.genesis, nil, h.vals, false)
			if err != nil {
				t.Fatal(err)
			}
			defer rep.wal.close()
			record(rd)
			if _, err := rep.message(signProposal(t, h.proposerKey(0), 0, -1, w).Encode()); err != nil {
				t.Fatal(err)
			}
			record(rep.core.Ready())
			// The round still completes: a polka for v makes it precommit v.
			for i := range 3 {
				if _, err := rep.message(signVote(t, h.others[i], Prevote, 1, 0, v.Hash()).Encode()); err != nil {
					t.Fatal(err)
				}
				record(rep.core.Ready())
			}
			if useWAL {
				if len(doubles) > 0 {
					t.Fatalf("double-signed after restart at %v", doubles)
				}
				if d, ok := signed[signKey{1, 0, uint8(Precommit)}]; !ok || d != voteDigest(testChainID, Precommit, 1, 0, v.Hash()) {
					t.Fatal("restarted validator did not precommit v")
				}
			} else if len(doubles) == 0 {
				t.Fatal("control: without the WAL the validator should have double-signed")
			}
		})
	}
}

// TestReplicaAcrossHeightsInOneLog restarts a replica whose log holds a
// finished height 1 and the opening of height 2, in three ways: the
// opening lost to a crash before any sync, the opening torn half-way, and
// the log rotated at height 2's start. Each time the replica must come
// back at height 2, with the guard of what it signed at height 1 and the
// parent's commit, and its log must then open height 2.
func TestReplicaAcrossHeightsInOneLog(t *testing.T) {
	for _, tc := range []string{"opening lost", "opening torn", "rotated"} {
		t.Run(tc, func(t *testing.T) {
			h := newCoreHarness(t)
			v := h.block(0, 0)
			path := filepath.Join(t.TempDir(), "wal")
			cfg := h.core.cfg
			cfg.LastSigned = LastSigned{}
			rep, rd, err := openReplica(cfg, path, h.genesis, nil, h.vals, false)
			if err != nil {
				t.Fatal(err)
			}
			settleReplica(t, h, rep, rd)
			if _, err := rep.message(signProposal(t, h.proposerKey(0), 0, -1, v).Encode()); err != nil {
				t.Fatal(err)
			}
			settleReplica(t, h, rep, rep.core.Ready())
			prevoted := rep.core.LastSigned()
			if prevoted.Height != 1 || prevoted.Step != uint8(Prevote) {
				t.Fatalf("at height 1: last signed %+v, want a prevote", prevoted)
			}
			// Height 1 decided: height 2 opens with v's commit.
			commit := &Commit{Round: 0, Signatures: []Signature{{1}}}
			if tc == "rotated" {
				rep.wal.rotate = 1
			}
			synced := rep.wal.size
			if err := rep.startHeight(v, h.vals, commit); err != nil {
				t.Fatal(err)
			}
			// Crash.
			switch tc {
			case "opening lost":
				if err := rep.wal.f.Close(); err != nil {
					t.Fatal(err)
				}
			case "opening torn":
				if err := rep.wal.w.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := rep.wal.f.Truncate(synced + (rep.wal.size-synced)/2); err != nil {
					t.Fatal(err)
				}
				if err := rep.wal.f.Close(); err != nil {
					t.Fatal(err)
				}
			case "rotated":
				if err := rep.wal.close(); err != nil {
					t.Fatal(err)
				}
			}
			rep, _, err = openReplica(cfg, path, v, commit, h.vals, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.core.LastSigned(); got.cmp(prevoted.Height, prevoted.Round, prevoted.Step) < 0 {
				t.Fatalf("after restart: guard %+v below height 1's prevote %+v", got, prevoted)
			}
			if rep.core.height != 2 || rep.core.lastCommit == nil || rep.core.lastCommit.Signatures[0] != commit.Signatures[0] {
				t.Fatalf("after restart: height %d, last commit %v; want 2 and v's", rep.core.height, rep.core.lastCommit)
			}
			if err := rep.wal.close(); err != nil {
				t.Fatal(err)
			}
			_, recs, _, err := openWAL(path)
			if err != nil {
				t.Fatal(err)
			}
			var marker uint64
			own := 0
			for _, r := range recs {
				switch r.kind {
				case walHeight:
					marker = binary.BigEndian.Uint64(r.data)
				case walOwn:
					own++
				}
			}
			if marker != 2 {
				t.Fatalf("log's last height marker %d, want 2", marker)
			}
			if wantOwn := map[bool]int{true: 0, false: 1}[tc == "rotated"]; own != wantOwn {
				t.Fatalf("log holds %d own messages, want %d", own, wantOwn)
			}
		})
	}
}

// settleReplica answers rd's validation requests at once through the log
// and persists what the replica signed.
func settleReplica(t *testing.T, h *coreHarness, rep *replica, rd Ready) {
	t.Helper()
	for len(rd.Validate) > 0 {
		for _, b := range rd.Validate {
			if _, err := rep.validated(b.Hash(), h.validate(b)); err != nil {
				t.Fatal(err)
			}
		}
		more := rep.core.Ready()
		more.Signed = append(rd.Signed, more.Signed...)
		rd = more
	}
	if err := rep.persist(&rd); err != nil {
		t.Fatal(err)
	}
}
