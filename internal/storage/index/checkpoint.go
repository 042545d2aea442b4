package index

import (
	"fmt"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// LayoutVersion is the key layout (see the package documentation) this
// binary reads and writes. Open refuses any other with ErrLayout.
const LayoutVersion = layoutVersion

// SupportedLayout returns LayoutVersion as a number, for comparing with the
// layout recorded in a snapshot.
func SupportedLayout() uint64 {
	n, _ := strconv.ParseUint(layoutVersion, 10, 64)
	return n
}

// OldestLayout is the oldest layout this binary opens (it reads layout 1's
// JSON assignment records and marks such an index layout 2 when opening it).
func OldestLayout() uint64 {
	n, _ := strconv.ParseUint(layoutVersionV1, 10, 64)
	return n
}

// SupportedPebbleFormat is the newest Pebble format major version this
// binary can open (an index is written with it).
func SupportedPebbleFormat() uint64 { return uint64(pebble.FormatNewest) }

// PebbleFormat returns the Pebble format major version of the open
// database.
func (s *Store) PebbleFormat() uint64 { return uint64(s.db.FormatMajorVersion()) }

// Checkpoint writes a consistent copy of the index into dir, which must not
// exist, and returns the applied revision the copy holds. The copy hard-links
// the immutable sstables (so it is cheap and shares disk with the live
// index until compactions rewrite them) after flushing the memtable; open it
// with Open like any index. The caller owns dir and should remove it
// promptly.
//
// Checkpoint holds the store's read lock for its duration, so no Apply runs
// meanwhile: the revision returned is exactly the one stored in the copy.
// Readers are not blocked. It is safe to call concurrently with everything
// but Close (it returns ErrClosed after Close).
func (s *Store) Checkpoint(dir string) (applied uint64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return 0, ErrClosed
	}
	if s.mu.failed != nil {
		return 0, fmt.Errorf("index: checkpoint of a failed store: %w", s.mu.failed)
	}
	applied = s.applied.Load()
	// Flush the memtable first: the copy then holds sstables and an empty
	// WAL, so opening it (a replica restoring a snapshot) does not replay up
	// to a memtable's worth of WAL, and the archive compresses only
	// already-compact sstables.
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("index: flush before checkpoint: %w", err)
	}
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return 0, fmt.Errorf("index: checkpoint into %s: %w", dir, err)
	}
	return applied, nil
}
