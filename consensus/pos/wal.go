package pos

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ethereum/go-ethereum/common"
)

// WAL record kinds. A record is
//
//	[length uint32 BE][crc32c uint32 BE][kind byte][data]
//
// where length counts kind and data and the CRC (Castagnoli) covers them.
const (
	walMessage    byte = 1 // data: a received wire message
	walTick       byte = 2 // data: empty; one Tick
	walOwn        byte = 3 // data: a wire message this validator signed
	walHeight     byte = 4 // data: 8-byte BE height; later records belong to it
	walLastSigned byte = 5 // data: RLP LastSigned, the guard at rotation
	walSeenCommit byte = 6 // data: RLP seenCommit, the parent's commit
	walValidated  byte = 7 // data: 32-byte block hash, then the validation error's text (empty: valid)
	walFar        byte = 8 // data: 20-byte validator address, 4-byte BE round; a far round it reached
)

// encodeFar is the data of a walFar record.
func encodeFar(addr common.Address, round uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), addr[:]...), round)
}

// decodeFar reads a walFar record.
func decodeFar(data []byte) (common.Address, uint32, bool) {
	if len(data) != common.AddressLength+4 {
		return common.Address{}, 0, false
	}
	return common.BytesToAddress(data[:common.AddressLength]), binary.BigEndian.Uint32(data[common.AddressLength:]), true
}

// maxValidationError bounds the error text a walValidated record keeps.
const maxValidationError = 512

// encodeValidated is the data of a walValidated record.
func encodeValidated(hash common.Hash, err error) []byte {
	b := append([]byte(nil), hash[:]...)
	if err != nil {
		msg := err.Error()
		if msg == "" {
			msg = "invalid"
		}
		if len(msg) > maxValidationError {
			msg = msg[:maxValidationError]
		}
		b = append(b, msg...)
	}
	return b
}

// decodeValidated reads a walValidated record; the error, if any, keeps
// its text only.
func decodeValidated(data []byte) (common.Hash, error, bool) {
	if len(data) < common.HashLength || len(data) > common.HashLength+maxValidationError {
		return common.Hash{}, nil, false
	}
	hash := common.BytesToHash(data[:common.HashLength])
	if len(data) == common.HashLength {
		return hash, nil, true
	}
	return hash, errors.New(string(data[common.HashLength:])), true
}

const (
	walHeaderSize = 8
	// maxWALRecord bounds one record: a maximal message plus its kind.
	maxWALRecord = DefaultMaxMessageSize + 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// walRecord is one WAL entry.
type walRecord struct {
	kind byte
	data []byte
}

// walRotateSize is the size from which a new height rewrites the log
// instead of appending to it (newHeight): a log holds the heights since
// its last rotation, at most this much plus one height's records.
const walRotateSize = 16 << 20

// wal is an append-only, length- and CRC-framed log of consensus inputs.
// Appends are buffered; sync flushes and fsyncs. A record cut short by a
// crash (or corrupted) ends the log: open drops it and everything after.
type wal struct {
	path   string
	f      *os.File
	w      *bufio.Writer
	size   int64 // bytes in the log, written or buffered
	rotate int64 // newHeight rotates from this size (walRotateSize)
	noSync bool  // tests: skip fsync
}

// openWAL opens or creates the log at path and returns its records. A torn
// or corrupt tail is truncated away; dropped reports how many bytes went.
func openWAL(path string) (w *wal, recs []walRecord, dropped int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("pos: wal: %w", err)
	}
	recs, good, err := readWAL(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("pos: wal %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("pos: wal: %w", err)
	}
	if dropped = st.Size() - good; dropped > 0 {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("pos: wal: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("pos: wal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("pos: wal: %w", err)
	}
	return &wal{path: path, f: f, w: bufio.NewWriter(f), size: good, rotate: walRotateSize}, recs, dropped, nil
}

// readWAL reads records until the end or the first bad one, returning the
// records and the offset just after the last good record.
func readWAL(r io.Reader) ([]walRecord, int64, error) {
	var (
		recs []walRecord
		off  int64
		hdr  [walHeaderSize]byte
	)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, off, nil // clean end or torn header
			}
			return nil, 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > maxWALRecord {
			return recs, off, nil // corrupt length
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, off, nil // torn body
			}
			return nil, 0, err
		}
		if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			return recs, off, nil // corrupt body
		}
		recs = append(recs, walRecord{kind: body[0], data: body[1:]})
		off += walHeaderSize + int64(n)
	}
}

// frame returns the framed bytes of a record.
func frame(kind byte, data []byte) []byte {
	b := make([]byte, walHeaderSize+1+len(data))
	b[walHeaderSize] = kind
	copy(b[walHeaderSize+1:], data)
	binary.BigEndian.PutUint32(b[:4], uint32(1+len(data)))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[walHeaderSize:], crcTable))
	return b
}

// append buffers a record.
func (w *wal) append(kind byte, data []byte) error {
	if len(data)+1 > maxWALRecord {
		return fmt.Errorf("pos: wal: record of %d bytes too large", len(data))
	}
	n, err := w.w.Write(frame(kind, data))
	w.size += int64(n)
	return err
}

// sync writes buffered records and fsyncs the file.
func (w *wal) sync() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	if w.noSync {
		return nil
	}
	return w.f.Sync()
}

// newHeight starts a height's records: it appends recs (the guard, the
// parent's commit and the height marker) without a sync while the log is
// under its rotation size (walRotateSize), and rotates it with reset
// otherwise.
//
// The appended records need no sync of their own: nothing this validator
// signs at the new height is sent before persist syncs the log, which
// writes them first (bufio keeps the order).
// A crash before that leaves the previous height's records as the tail,
// and openReplica then starts the new height afresh, exactly as after a
// crash between the commit and a rotation. Replay reads from the last
// height marker and raises the double-sign guard over every record, so
// earlier heights left in the log change nothing but its size.
func (w *wal) newHeight(recs ...walRecord) error {
	if w.size >= w.rotate {
		return w.reset(recs...)
	}
	for _, r := range recs {
		if err := w.append(r.kind, r.data); err != nil {
			return fmt.Errorf("pos: wal: %w", err)
		}
	}
	return nil
}

// reset atomically replaces the log with recs (written to a temporary file,
// synced, renamed over the log): the rotation newHeight does once the log
// has grown to walRotateSize.
func (w *wal) reset(recs ...walRecord) error {
	tmp := w.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("pos: wal: %w", err)
	}
	bw := bufio.NewWriter(f)
	var size int64
	for _, r := range recs {
		n, err := bw.Write(frame(r.kind, r.data))
		if err != nil {
			f.Close()
			return fmt.Errorf("pos: wal: %w", err)
		}
		size += int64(n)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("pos: wal: %w", err)
	}
	if !w.noSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("pos: wal: %w", err)
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		f.Close()
		return fmt.Errorf("pos: wal: %w", err)
	}
	if !w.noSync {
		// The rename must be durable before anything is signed into the
		// new file: a crash that brought the old file back would lose
		// those messages from the guard.
		if err := syncDir(filepath.Dir(w.path)); err != nil {
			f.Close()
			return fmt.Errorf("pos: wal: sync directory: %w", err)
		}
	}
	old := w.f
	w.f, w.w, w.size = f, bufio.NewWriter(f), size
	return old.Close()
}

// syncDir fsyncs a directory. A file system that cannot sync directories
// (EINVAL, as some network and FUSE file systems answer) is taken as
// making renames durable by itself.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// close flushes and closes the log.
func (w *wal) close() error {
	ferr := w.w.Flush()
	cerr := w.f.Close()
	return errors.Join(ferr, cerr)
}
