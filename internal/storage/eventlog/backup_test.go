package eventlog_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

var passphrase = []byte("correct horse battery staple")

// backupSource starts an embedded server with the event stream (n
// messages), a signing key and returns it.
func backupSource(t *testing.T, n int) *eventlog.Embedded {
	t.Helper()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: t.TempDir(), NoListen: true})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	ctx := context.Background()
	sjs, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	_, err = eventlog.EnsureStream(ctx, sjs, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)
	js, err := jetstream.New(e.Conn)
	require.NoError(t, err)
	_, _, err = logsig.EnsureKey(ctx, js, "", 1)
	require.NoError(t, err)
	for i := range n {
		msg := nats.NewMsg(events.DefaultSubjectPrefix + ".ns" + fmt.Sprint(i%3))
		msg.Data = bytes.Repeat([]byte{byte(i)}, 1000+i)
		msg.Header.Set("Grantlog-Test", fmt.Sprint(i))
		_, err := js.PublishMsg(ctx, msg)
		require.NoError(t, err)
	}
	return e
}

// connectAs connects to e in-process as an external user.
func connectAs(t *testing.T, e *eventlog.Embedded, c eventlog.Creds) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(e.Server), nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix(eventlog.InboxPrefix(c.User)))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func TestBackupRestoreStreams(t *testing.T) {
	ctx := context.Background()
	src := backupSource(t, 400)
	dir := filepath.Join(t.TempDir(), "backup")
	var prog bytes.Buffer
	m, err := eventlog.Backup(ctx, eventlog.BackupConfig{Conn: connectAs(t, src, src.CommandCreds), Dir: dir, Passphrase: passphrase, Version: "test", Progress: &prog})
	require.NoError(t, err)
	require.Equal(t, uint64(1), m.FirstRevision)
	require.Equal(t, uint64(400), m.LastRevision)
	require.Equal(t, uint64(400), m.Messages)
	require.Contains(t, prog.String(), "backup GRANTLOG (400 messages, revisions 1-400")
	// The signing key is sealed: its seed is nowhere in the backup.
	js, err := jetstream.New(src.Conn)
	require.NoError(t, err)
	key, err := logsig.LoadKey(ctx, js, "")
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, ent := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		require.NoError(t, err)
		require.NotContains(t, string(raw), string(key.Seed()), ent.Name())
	}

	// A wrong passphrase, a changed manifest or a changed file: refused,
	// nothing written.
	target := filepath.Join(t.TempDir(), "data")
	_, err = eventlog.Restore(ctx, eventlog.RestoreConfig{From: dir, DataDir: target, Passphrase: []byte("not the passphrase at all")})
	require.ErrorIs(t, err, eventlog.ErrBackupTampered)
	require.NoDirExists(t, target)
	tampered := copyDir(t, dir)
	ev := filepath.Join(tampered, "events.snapshot")
	raw, err := os.ReadFile(ev)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 1
	require.NoError(t, os.WriteFile(ev, raw, 0o600))
	_, err = eventlog.Restore(ctx, eventlog.RestoreConfig{From: tampered, DataDir: target, Passphrase: passphrase})
	require.ErrorIs(t, err, eventlog.ErrBackupTampered)
	require.ErrorContains(t, err, "events.snapshot")
	require.NoDirExists(t, target)

	// Restore into a new data directory: the same messages at the same
	// sequences, headers included, and the same signing key.
	var rprog bytes.Buffer
	rm, err := eventlog.Restore(ctx, eventlog.RestoreConfig{From: dir, DataDir: target, Passphrase: passphrase, Progress: &rprog})
	require.NoError(t, err)
	require.Equal(t, m.LastRevision, rm.LastRevision)
	require.Contains(t, rprog.String(), "restore GRANTLOG (400 messages, revisions 1-400)")
	_, err = eventlog.Restore(ctx, eventlog.RestoreConfig{From: dir, DataDir: target, Passphrase: passphrase})
	require.ErrorContains(t, err, "is not empty")

	dst, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: target, NoListen: true})
	require.NoError(t, err)
	t.Cleanup(dst.Close)
	djs, err := jetstream.New(dst.Conn)
	require.NoError(t, err)
	dkey, err := logsig.LoadKey(ctx, djs, "")
	require.NoError(t, err)
	require.Equal(t, key.ID(), dkey.ID())
	sst, err := jetstream.New(src.StoreConn)
	require.NoError(t, err)
	dsj, err := jetstream.New(dst.StoreConn)
	require.NoError(t, err)
	a, err := sst.Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	b, err := dsj.Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	require.Equal(t, a.CachedInfo().Config.DenyDelete, b.CachedInfo().Config.DenyDelete)
	for seq := uint64(1); seq <= 400; seq += 37 {
		x, err := a.GetMsg(ctx, seq)
		require.NoError(t, err)
		y, err := b.GetMsg(ctx, seq)
		require.NoError(t, err)
		require.Equal(t, x.Subject, y.Subject)
		require.Equal(t, x.Data, y.Data)
		require.Equal(t, x.Header.Get("Grantlog-Test"), y.Header.Get("Grantlog-Test"))
		require.True(t, x.Time.Equal(y.Time))
	}
}

// TestBackupCredential: only the command credential backs up.
func TestBackupCredential(t *testing.T) {
	src := backupSource(t, 3)
	for _, c := range []eventlog.Creds{src.ClientCreds, src.ReplicaCreds, src.FollowerCreds} {
		dir := filepath.Join(t.TempDir(), "backup")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := eventlog.Backup(ctx, eventlog.BackupConfig{Conn: connectAs(t, src, c), Dir: dir, Passphrase: passphrase, Timeout: 2 * time.Second})
		cancel()
		require.ErrorIs(t, err, eventlog.ErrBackupCredential, c.User)
		require.NoDirExists(t, dir)
	}
	_, err := eventlog.Backup(context.Background(), eventlog.BackupConfig{Conn: connectAs(t, src, src.CommandCreds), Dir: t.TempDir(), Passphrase: []byte("short")})
	require.ErrorContains(t, err, "at least 12 bytes")
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), raw, 0o600))
	}
	return to
}

// TestBackupCannotAimChunks: the command credential cannot choose where a
// snapshot's chunks go (JetStream's snapshot API would let it delete the
// event stream with the last, empty, chunk): it cannot call the snapshot
// API, and the backup service refuses ids that are not one subject token
// and streams that are not a backup's.
func TestBackupCannotAimChunks(t *testing.T) {
	ctx := context.Background()
	src := backupSource(t, 3)
	nc := connectAs(t, src, src.CommandCreds)
	for _, subj := range []string{"$JS.API.STREAM.SNAPSHOT.KV_GRANTLOG_KEYS", eventlog.StoreAPIPrefix + ".STREAM.SNAPSHOT.GRANTLOG", "$JS.API.STREAM.SNAPSHOT.GRANTLOG"} {
		req := []byte(`{"deliver_subject": "$JS.API.STREAM.DELETE.KV_GRANTLOG_KEYS"}`)
		msg, err := nc.Request(subj, req, time.Second)
		if err == nil {
			require.Contains(t, string(msg.Data), `"error"`, subj)
		}
	}
	for _, req := range []string{`{"stream": "GRANTLOG", "id": "x.$JS.API.STREAM.DELETE.GRANTLOG"}`, `{"stream": "GRANTLOG", "id": "short"}`,
		`{"stream": "GRANTLOG_MIRROR", "id": "abcdefghijkl"}`, `{"stream": "GRANTLOG", "id": ">"}`, `not json`} {
		msg, err := nc.Request(eventlog.BackupSubject, []byte(req), 5*time.Second)
		require.NoError(t, err)
		require.Contains(t, string(msg.Data), `"code":400`, req)
	}
	time.Sleep(3 * time.Second) // a snapshot waits up to 2s for interest before it sends
	sjs, err := jetstream.New(src.StoreConn)
	require.NoError(t, err)
	st, err := sjs.Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	require.Equal(t, uint64(3), st.CachedInfo().State.Msgs)
	js, err := jetstream.New(src.Conn)
	require.NoError(t, err)
	key, err := logsig.LoadKey(ctx, js, "")
	require.NoError(t, err)
	require.NotNil(t, key)
}
