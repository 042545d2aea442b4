package eventlog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrateGlobalAccount: a data directory written before accounts has
// every stream in the global account; the event stream moves to the store
// account, every other stream (snapshots, keys) to the command account.
func TestMigrateGlobalAccount(t *testing.T) {
	store := t.TempDir()
	g := filepath.Join(store, "jetstream", "$G", "streams")
	for _, st := range []string{DefaultStream, "OBJ_GRANTLOG_SNAPSHOTS"} {
		require.NoError(t, os.MkdirAll(filepath.Join(g, st), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(g, st, "meta.inf"), []byte(st), 0o600))
	}
	require.NoError(t, migrateGlobalAccount(store))
	assert.FileExists(t, filepath.Join(store, "jetstream", StoreAccount, "streams", DefaultStream, "meta.inf"))
	assert.FileExists(t, filepath.Join(store, "jetstream", CommandAccount, "streams", "OBJ_GRANTLOG_SNAPSHOTS", "meta.inf"))
	assert.NoDirExists(t, filepath.Join(store, "jetstream", "$G"))
	require.NoError(t, migrateGlobalAccount(store), "once done, nothing to do")
}

// TestOldDataDirKeepsItsEvents: a stream written by a server without
// accounts is found, with its events, in the store account after the
// migration.
func TestOldDataDirKeepsItsEvents(t *testing.T) {
	dir := t.TempDir()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, NoLog: true, NoSigs: true,
		StoreDir: filepath.Join(dir, "jetstream")})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = EnsureStream(ctx, js, StreamConfig(DefaultStream, "grantlog.ev", 1))
	require.NoError(t, err)
	for range 3 {
		_, err = js.Publish(ctx, "grantlog.ev.foo.role.x", []byte(`{}`))
		require.NoError(t, err)
	}
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	e, err := StartEmbedded(EmbeddedConfig{DataDir: dir, NoListen: true, NoUsers: true})
	require.NoError(t, err)
	defer e.Close()
	sjs, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	st, err := sjs.Stream(ctx, DefaultStream)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), st.CachedInfo().State.LastSeq)
}
