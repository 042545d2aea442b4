package eventlog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
)

// genuine takes a signed snapshot of an index that applied evs into
// bucket, and returns it with its archive's bytes.
func genuine(t *testing.T, log *testutil.Log, key *logsig.Key, bucket string, evs []events.Event) (eventlog.SnapshotInfo, []byte) {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "index"))
	require.NoError(t, st.Apply(evs))
	info, err := eventlog.TakeSnapshot(ctxT(t), st, log.JS, bucket, eventlog.WithSnapshotTempDir(t.TempDir()), eventlog.WithSnapshotSigner(key, log.Stream))
	require.NoError(t, err)
	obs, err := log.JS.ObjectStore(ctxT(t), bucket)
	require.NoError(t, err)
	data, err := obs.GetBytes(ctxT(t), info.Object)
	require.NoError(t, err)
	return info, data
}

// backdoor is an index of an attacker's making: the dataset and a Super
// Admin grant for mallory, at a revision far ahead of the stream.
func backdoor(t *testing.T, evs []events.Event) []byte {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "index"))
	require.NoError(t, st.Apply(evs))
	last := evs[len(evs)-1].Revision
	require.NoError(t, st.Apply([]events.Event{{Revision: last + 1000, Envelope: events.Envelope{Namespace: testutil.NSName(0)},
		Data: events.UserRoleAssigned{UserID: "mallory", RoleID: testutil.RoleID(0), AssignedNamespaces: []string{testutil.NSName(0)}}}}))
	scratch := testutil.StartLog(t, t.TempDir())
	info, err := eventlog.TakeSnapshot(ctxT(t), st, scratch.JS, "SCRATCH", eventlog.WithSnapshotTempDir(t.TempDir()))
	require.NoError(t, err)
	obs, err := scratch.JS.ObjectStore(ctxT(t), "SCRATCH")
	require.NoError(t, err)
	data, err := obs.GetBytes(ctxT(t), info.Object)
	require.NoError(t, err)
	return data
}

// TestRestoreRefusesForgedSnapshots: a replica restores only a snapshot
// signed by a key its event stream announces, not ahead of the stream,
// taken after the stream's own event at its revision, whose archive is the
// one signed; each refusal is logged with its reason, and the next newest
// snapshot is tried.
func TestRestoreRefusesForgedSnapshots(t *testing.T) {
	evs := dataset()
	log, signed := signedStream(t, evs)
	head := uint64(len(evs)) + 1
	other, err := logsig.Generate()
	require.NoError(t, err)
	forged := backdoor(t, evs)
	ctx := ctxT(t)

	for i, tc := range []struct {
		name   string
		forge  func(t *testing.T, bucket string, orig eventlog.SnapshotInfo, archive []byte)
		hidden bool // the genuine snapshot is hidden: nothing can be restored
		want   error
		logged string
	}{
		{"unsigned, the genuine one hidden", func(t *testing.T, bucket string, orig eventlog.SnapshotInfo, _ []byte) {
			crafted{bucket: bucket, rev: head + 1000, data: forged}.put(t, log.JS)
			obs, err := log.JS.ObjectStore(ctx, bucket)
			require.NoError(t, err)
			require.NoError(t, obs.Delete(ctx, orig.Object))
		}, true, eventlog.ErrSnapshotUnsigned, "not signed"},
		{"unsigned, newer than the genuine one", func(t *testing.T, bucket string, _ eventlog.SnapshotInfo, _ []byte) {
			crafted{bucket: bucket, rev: head, data: forged}.put(t, log.JS)
		}, false, eventlog.ErrSnapshotUnsigned, "not signed"},
		{"signed by a key the log never announced", func(t *testing.T, bucket string, _ eventlog.SnapshotInfo, _ []byte) {
			crafted{bucket: bucket, rev: head, data: forged, key: other, stream: log.Stream}.put(t, log.JS)
		}, false, eventlog.ErrSnapshotSignature, "does not trust"},
		{"revision ahead of the stream's head", func(t *testing.T, bucket string, _ eventlog.SnapshotInfo, _ []byte) {
			crafted{bucket: bucket, rev: head + 1000, data: forged, key: signed.Key, eventHash: strings.Repeat("0", 64)}.put(t, log.JS)
		}, false, eventlog.ErrSnapshotAhead, "stream's head is"},
		{"another history at its revision", func(t *testing.T, bucket string, _ eventlog.SnapshotInfo, _ []byte) {
			crafted{bucket: bucket, rev: head, data: forged, key: signed.Key, eventHash: strings.Repeat("ab", 32)}.put(t, log.JS)
		}, false, eventlog.ErrSnapshotHistory, "history differs"},
		{"the genuine signature on another archive", func(t *testing.T, bucket string, orig eventlog.SnapshotInfo, _ []byte) {
			obs, err := log.JS.ObjectStore(ctx, bucket)
			require.NoError(t, err)
			oi, err := obs.GetInfo(ctx, orig.Object)
			require.NoError(t, err)
			_, err = obs.Put(ctx, jetstream.ObjectMeta{Name: orig.Object, Metadata: oi.Metadata}, strings.NewReader(string(forged)))
			require.NoError(t, err)
		}, true, eventlog.ErrSnapshotArchive, "archive"},
		{"the genuine archive with bytes changed", func(t *testing.T, bucket string, orig eventlog.SnapshotInfo, archive []byte) {
			obs, err := log.JS.ObjectStore(ctx, bucket)
			require.NoError(t, err)
			oi, err := obs.GetInfo(ctx, orig.Object)
			require.NoError(t, err)
			bad := append([]byte(nil), archive...)
			bad[len(bad)/2] ^= 0xff
			_, err = obs.Put(ctx, jetstream.ObjectMeta{Name: orig.Object, Metadata: oi.Metadata}, strings.NewReader(string(bad)))
			require.NoError(t, err)
		}, true, eventlog.ErrSnapshotArchive, "not the one the manifest names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := "FORGED" + string(rune('A'+i))
			orig, archive := genuine(t, log, signed.Key, bucket, evs)
			tc.forge(t, bucket, orig, archive)

			dir := filepath.Join(t.TempDir(), "index")
			got, logged, err := restore(t, log, bucket, dir, nil)
			assert.Contains(t, logged, "snapshot refused")
			assert.Contains(t, logged, tc.logged)
			if tc.hidden {
				require.ErrorIs(t, err, eventlog.ErrNoSnapshot, "nothing left to restore: the replica replays the stream")
				require.ErrorIs(t, err, tc.want)
				assert.NoDirExists(t, dir)
				assert.NoDirExists(t, dir+".restoring")
				return
			}
			require.NoError(t, err, logged)
			assert.Equal(t, orig.Revision, got.Revision, "the genuine snapshot is restored")
			restored := openStore(t, dir)
			v := restored.Acquire()
			defer v.Release()
			assert.Empty(t, v.Assignments("mallory"))
		})
	}
}

// TestRestoreThroughAnotherAccount: a reader in another NATS account, which
// sees the snapshot bucket only through two imported JetStream API
// subjects under an API prefix (stream info and direct get), lists and
// restores snapshots: the reader creates nothing on the command account.
// TestRestoreThroughAnotherAccount: a reader in another account, through
// the command account's exports of the bucket's reads only. With exports
// whose response type is stream (as this project's configurations write
// them) chunks come in batches; with the default, singleton, an import
// passes one answer per request, and the restore goes on chunk by chunk.
func TestRestoreThroughAnotherAccount(t *testing.T) {
	for _, rt := range []string{"stream", "singleton"} {
		t.Run(rt, func(t *testing.T) { restoreThroughAnotherAccount(t, rt) })
	}
}

func restoreThroughAnotherAccount(t *testing.T, responseType string) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	require.NoError(t, os.WriteFile(conf, []byte(strings.ReplaceAll(strings.ReplaceAll(`
jetstream { store_dir: "`+filepath.Join(dir, "js")+`" }
accounts {
  CMD: {
    jetstream: enabled
    users: [ { user: cmd, password: cmd } ]
    exports: [
      { service: "$JS.API.STREAM.INFO.OBJ_SNAPS", accounts: [RD], response_type: RT }
      { service: "$JS.API.DIRECT.GET.OBJ_SNAPS", accounts: [RD], response_type: RT }
      { service: "$JS.API.DIRECT.GET.OBJ_SNAPS.>", accounts: [RD], response_type: RT }
    ]
  }
  RD: {
    users: [ { user: rd, password: rd, permissions: {
      publish: { allow: ["P.STREAM.INFO.OBJ_SNAPS", "P.DIRECT.GET.OBJ_SNAPS", "P.DIRECT.GET.OBJ_SNAPS.>"] }
      subscribe: { allow: ["_INBOX.>"] } } } ]
    imports: [
      { service: { account: CMD, subject: "$JS.API.STREAM.INFO.OBJ_SNAPS" }, to: "P.STREAM.INFO.OBJ_SNAPS" }
      { service: { account: CMD, subject: "$JS.API.DIRECT.GET.OBJ_SNAPS" }, to: "P.DIRECT.GET.OBJ_SNAPS" }
      { service: { account: CMD, subject: "$JS.API.DIRECT.GET.OBJ_SNAPS.>" }, to: "P.DIRECT.GET.OBJ_SNAPS.>" }
    ]
  }
}
`, "P.", eventlog.CommandAPIPrefix+"."), "RT", responseType)), 0o600))
	opts, err := natsserver.ProcessConfigFile(conf)
	require.NoError(t, err)
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	ns, err := natsserver.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(10*time.Second))
	connect := func(user string) *nats.Conn {
		nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(user, user))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc
	}

	// The command side: the event stream, signed, and a snapshot.
	cmd, err := jetstream.New(connect("cmd"))
	require.NoError(t, err)
	ctx := ctxT(t)
	stream, err := eventlog.EnsureStream(ctx, cmd, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)
	log := &testutil.Log{JS: cmd, Stream: stream}
	evs := testutil.GenerateDataset(testutil.Shape{Namespaces: 20, Roles: 100, PermsPerRole: 10, Users: 8000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 3, WildcardEvery: 7, Seed: 4}).Events
	signed := log.Signed(t, nil)
	signed.AppendAsync(t, evs)
	signed.Announce(t)
	orig, _ := genuine(t, log, signed.Key, "SNAPS", evs)
	require.Greater(t, orig.Bytes, int64(128<<10), "several chunks")

	// The reader: only the imported API, under the prefix.
	rd, err := jetstream.NewWithAPIPrefix(connect("rd"), eventlog.CommandAPIPrefix)
	require.NoError(t, err)
	all, err := eventlog.ListSnapshots(ctx, rd, "SNAPS")
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, orig.Revision, all[0].Revision)

	target := filepath.Join(t.TempDir(), "index")
	got, err := eventlog.RestoreSnapshotForStream(ctx, rd, "SNAPS", target, stream, eventlog.RestoreSnapshotOptions{Logger: testutil.Quiet})
	require.NoError(t, err)
	assert.Equal(t, orig.Revision, got.Revision)
	assert.Equal(t, signed.Key.ID(), got.SignedBy)
	restored := openStore(t, target)
	assert.Equal(t, orig.Revision, restored.Applied())

	// The Object Store API, which creates consumers, is not open to it.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	obs, err := rd.ObjectStore(short, "SNAPS")
	if err == nil {
		_, err = obs.GetBytes(short, orig.Object)
	}
	require.Error(t, err)
	obj, err := cmd.Stream(ctx, "OBJ_SNAPS")
	require.NoError(t, err)
	si, err := obj.Info(ctx)
	require.NoError(t, err)
	assert.Zero(t, si.State.Consumers, "reading created no consumer on the bucket")
}
