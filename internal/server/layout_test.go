package server_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// TestIndexOfUnreadableLayoutIsRebuilt: a node whose index was written in a
// layout this binary does not read (a newer binary's, say) moves it aside
// and rebuilds it from the stream, instead of refusing to start.
func TestIndexOfUnreadableLayoutIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	var want map[string]string
	var applied uint64
	t.Run("first run", func(t *testing.T) {
		n, _, _ := startLoggedNode(t, server.Config{DataDir: dir}, "")
		role := n.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Item",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:ITEM", "action": 15}}})
		out := n.c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u1/roles",
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"g1", "g2"}})
		applied = num(out["revision"])
		testutil.WaitApplied(t, n.srv.Store(), applied)
		want = testutil.Dump(t, n.srv.Store())
		n.stop(t)
	})

	db, err := pebble.Open(filepath.Join(dir, "index"), &pebble.Options{Logger: quietPebble{}})
	require.NoError(t, err)
	require.NoError(t, db.Set([]byte("\x00meta/layout"), []byte("99"), pebble.Sync))
	require.NoError(t, db.Close())

	t.Run("second run", func(t *testing.T) {
		n, logs, _ := startLoggedNode(t, server.Config{DataDir: dir}, "")
		assert.Contains(t, logs.String(), "layout this binary does not read: rebuilding it")
		aside, err := filepath.Glob(filepath.Join(dir, "index.layout-*"))
		require.NoError(t, err)
		assert.Len(t, aside, 1, "the unreadable index is moved aside")
		testutil.WaitApplied(t, n.srv.Store(), applied)
		assert.Equal(t, want, testutil.Dump(t, n.srv.Store()))
		assert.True(t, n.c.allowed("u1", "g2", "NAMESPACE:g2:ITEM", 2))
	})
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)           {}
func (quietPebble) Errorf(string, ...any)          {}
func (quietPebble) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
