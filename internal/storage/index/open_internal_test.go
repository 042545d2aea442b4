package index

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// TestOpenLeavesCompactionsOn: loading runs with compactions held back,
// and the index Open returns compacts: level 0 files written after it are
// compacted away rather than piling up.
func TestOpenLeavesCompactionsOn(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	for f := range 12 {
		b := s.db.NewBatch()
		for i := range 200 {
			require.NoError(t, b.Set(fmt.Appendf(nil, "zz/%03d/%05d", i, f), []byte("v"), nil))
		}
		require.NoError(t, b.Commit(pebble.NoSync))
		require.NoError(t, s.db.Flush())
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.db.Metrics().Compact.Count == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.NotZero(t, s.db.Metrics().Compact.Count, "twelve level 0 files and no compaction")
}
