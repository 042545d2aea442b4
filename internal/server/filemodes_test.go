package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrivateFileModes (issue 10, item 9): in a data directory that already
// existed with mode 0755 (with an index directory of an older version),
// what the server writes is private: directories 0700, files 0600.
func TestPrivateFileModes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "index"), 0o755))
	startServer(t, dir)
	fi, err := os.Stat(filepath.Join(dir, "index"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the index directory")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		assert.Zero(t, fi.Mode().Perm()&0o077, "%s is %v: nobody but the owner may read it", e.Name(), fi.Mode())
	}
}
