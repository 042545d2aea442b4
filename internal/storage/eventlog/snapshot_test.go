package eventlog_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dataset returns the events of a small generated permission model.
func dataset() []events.Event {
	return testutil.GenerateDataset(testutil.Shape{Namespaces: 5, Roles: 30, PermsPerRole: 5, Users: 800,
		MaxRolesPerUse: 3, MaxNSPerAssign: 2, WildcardEvery: 7, Seed: 42}).Events
}

func openStore(t *testing.T, dir string) *index.Store {
	t.Helper()
	st, err := index.Open(index.Options{Dir: dir, Logger: testutil.Quiet, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// signedStream starts a log whose stream announces a signing key and then
// holds evs (signed), so that an index that applied evs from revision 1
// has a stream to be verified against (the key event is the stream's
// last).
func signedStream(t *testing.T, evs []events.Event) (*testutil.Log, *testutil.SignedLog) {
	t.Helper()
	log := testutil.StartLog(t, t.TempDir())
	s := log.Signed(t, nil)
	s.AppendAsync(t, evs)
	s.Announce(t)
	return log, s
}

// restore is RestoreForStream against the log's stream, logging to the
// returned buffer.
func restore(t *testing.T, log *testutil.Log, bucket, dir string, progress func(done, total int64)) (eventlog.SnapshotInfo, string, error) {
	t.Helper()
	var buf bytes.Buffer
	info, err := eventlog.RestoreSnapshotForStream(ctxT(t), log.JS, bucket, dir, log.Stream, eventlog.RestoreSnapshotOptions{
		Progress: progress, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	return info, buf.String(), err
}

func TestTakeRestoreRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	evs := dataset()
	log, signed := signedStream(t, evs)
	st := openStore(t, filepath.Join(t.TempDir(), "index"))
	require.NoError(t, st.Apply(evs))

	info, err := eventlog.TakeSnapshot(ctx, st, log.JS, "", eventlog.WithSnapshotNode("node-a"), eventlog.WithSnapshotTempDir(t.TempDir()),
		eventlog.WithSnapshotSigner(signed.Key, log.Stream))
	require.NoError(t, err)
	assert.Equal(t, eventlog.SnapshotObjectName(st.Applied()), info.Object)
	assert.Equal(t, st.Applied(), info.Revision)
	assert.Equal(t, "node-a", info.Node)
	assert.Equal(t, index.LayoutVersion, info.Layout)
	assert.Equal(t, st.PebbleFormat(), info.PebbleFormat)
	assert.Positive(t, info.Bytes)
	assert.Equal(t, signed.Key.ID(), info.SignedBy)

	// The object carries the metadata.
	obs, err := log.JS.ObjectStore(ctx, eventlog.DefaultSnapshotBucket)
	require.NoError(t, err)
	oi, err := obs.GetInfo(ctx, info.Object)
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatUint(info.Revision, 10), oi.Metadata[eventlog.SnapshotMetaRevision])
	assert.Equal(t, index.LayoutVersion, oi.Metadata[eventlog.SnapshotMetaLayout])
	assert.Equal(t, strconv.FormatUint(st.PebbleFormat(), 10), oi.Metadata[eventlog.SnapshotMetaPebbleFormat])
	assert.Equal(t, "node-a", oi.Metadata[eventlog.SnapshotMetaNode])
	assert.NotEmpty(t, oi.Metadata[eventlog.SnapshotMetaCreatedAt])
	var m eventlog.SnapshotManifest
	require.NoError(t, json.Unmarshal([]byte(oi.Metadata[eventlog.SnapshotMetaManifest]), &m))
	assert.Equal(t, info.Revision, m.Revision)
	assert.Equal(t, info.Object, m.Object)
	assert.Len(t, m.ArchiveSHA256, 64)
	assert.Len(t, m.EventHash, 64)
	assert.True(t, strings.HasPrefix(oi.Metadata[eventlog.SnapshotMetaManifestSig], signed.Key.ID()+"."))
	// Whole 128 KiB chunks (not one message per write of the archive).
	assert.Equal(t, uint32((info.Bytes+128<<10-1)/(128<<10)), oi.Chunks) //nolint:gosec // small

	// Writes after the snapshot are not in it.
	more := testutil.GenerateDataset(testutil.Shape{Namespaces: 1, Roles: 2, PermsPerRole: 1, Users: 3,
		MaxRolesPerUse: 1, MaxNSPerAssign: 1, Seed: 9}).Events
	want := testutil.Dump(t, st)
	for i := range more {
		more[i].Revision += info.Revision
	}
	require.NoError(t, st.Apply(more))

	dir := filepath.Join(t.TempDir(), "restored")
	var calls int
	var lastDone, lastTotal int64
	got, logged, err := restore(t, log, "", dir, func(done, total int64) {
		calls++
		lastDone, lastTotal = done, total
	})
	require.NoError(t, err, logged)
	assert.Equal(t, signed.Key.ID(), got.SignedBy)
	assert.Equal(t, info.Revision, got.Revision)
	assert.Positive(t, calls)
	assert.Equal(t, info.Bytes, lastTotal)
	assert.Equal(t, lastTotal, lastDone, "progress reaches the total")

	restored := openStore(t, dir)
	assert.Equal(t, info.Revision, restored.Applied())
	assert.Equal(t, want, testutil.Dump(t, restored))
	assert.NotEmpty(t, want)

	// The restored index goes on from the snapshot's revision.
	require.NoError(t, restored.Apply(more))
	assert.Equal(t, testutil.Dump(t, st), testutil.Dump(t, restored))
	assert.Equal(t, st.Applied(), restored.Applied())

	t.Run("target must be empty", func(t *testing.T) {
		_, _, err := restore(t, log, "", dir, nil)
		require.ErrorIs(t, err, eventlog.ErrTargetNotEmpty)
		empty := t.TempDir()
		_, _, err = restore(t, log, "", empty, nil)
		require.NoError(t, err, "an empty directory will do")
	})
}

func TestTakeKeepsNewest(t *testing.T) {
	ctx := ctxT(t)
	log := testutil.StartLog(t, t.TempDir())
	st := openStore(t, filepath.Join(t.TempDir(), "index"))
	evs := dataset()[:50]
	var revs []uint64
	for i := range 5 {
		require.NoError(t, st.Apply(evs[i*10:(i+1)*10]))
		info, err := eventlog.TakeSnapshot(ctx, st, log.JS, "SNAPS", eventlog.WithSnapshotKeep(3), eventlog.WithSnapshotTempDir(t.TempDir()))
		require.NoError(t, err)
		revs = append(revs, info.Revision)
	}
	all, err := eventlog.ListSnapshots(ctx, log.JS, "SNAPS")
	require.NoError(t, err)
	var got []uint64
	for _, i := range all {
		got = append(got, i.Revision)
	}
	assert.Equal(t, []uint64{revs[4], revs[3], revs[2]}, got)
	latest, err := eventlog.LatestSnapshot(ctx, log.JS, "SNAPS")
	require.NoError(t, err)
	assert.Equal(t, revs[4], latest.Revision)

	_, err = eventlog.LatestSnapshot(ctx, log.JS, "NOSUCH")
	require.ErrorIs(t, err, eventlog.ErrNoSnapshot)
	_, _, err = restore(t, log, "NOSUCH", filepath.Join(t.TempDir(), "x"), nil)
	require.ErrorIs(t, err, eventlog.ErrNoSnapshot)
}

type entry struct {
	name     string
	typ      byte
	body     string
	linkname string
}

func craft(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o600,
			Size: int64(len(e.body)), Linkname: e.linkname}))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// crafted is a snapshot made by hand.
type crafted struct {
	bucket    string
	rev       uint64
	layout    string
	format    uint64
	data      []byte
	key       *logsig.Key      // signs the manifest; nil: unsigned
	stream    jetstream.Stream // the event hash comes from it
	eventHash string           // instead of the stream's
}

// put stores c as a snapshot.
func (c crafted) put(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := ctxT(t)
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: c.bucket})
	if err != nil {
		obs, err = js.ObjectStore(ctx, c.bucket)
	}
	require.NoError(t, err)
	layout, format := c.layout, c.format
	if layout == "" {
		layout = index.LayoutVersion
	}
	if format == 0 {
		format = index.SupportedPebbleFormat()
	}
	name := eventlog.SnapshotObjectName(c.rev)
	md := map[string]string{
		eventlog.SnapshotMetaRevision: strconv.FormatUint(c.rev, 10), eventlog.SnapshotMetaLayout: layout,
		eventlog.SnapshotMetaPebbleFormat: strconv.FormatUint(format, 10), eventlog.SnapshotMetaCreatedAt: time.Now().UTC().Format(time.RFC3339Nano),
	}
	if c.key != nil {
		sum := sha256.Sum256(c.data)
		eh := c.eventHash
		if eh == "" && c.stream != nil {
			if m, err := c.stream.GetMsg(ctx, c.rev); err == nil {
				h := sha256.Sum256(m.Data)
				eh = hex.EncodeToString(h[:])
			}
		}
		raw, err := json.Marshal(eventlog.SnapshotManifest{Object: name, Revision: c.rev, ArchiveSHA256: hex.EncodeToString(sum[:]),
			ArchiveBytes: int64(len(c.data)), PebbleFormat: format, Layout: layout, CreatedAt: time.Now().UTC(), EventHash: eh})
		require.NoError(t, err)
		md[eventlog.SnapshotMetaManifest], md[eventlog.SnapshotMetaManifestSig] = string(raw), c.key.SignSnapshot(raw)
	}
	_, err = obs.Put(ctx, jetstream.ObjectMeta{Name: name, Metadata: md}, bytes.NewReader(c.data))
	require.NoError(t, err)
}

func TestRestoreRefusesUnsafeArchives(t *testing.T) {
	log, signed := signedStream(t, dataset()[:20])
	for i, tc := range []struct {
		name    string
		entries []entry
	}{
		{"parent traversal", []entry{{name: "ok", typ: tar.TypeReg, body: "x"}, {name: "../evil", typ: tar.TypeReg, body: "x"}}},
		{"nested traversal", []entry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}},
		{"absolute path", []entry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}},
		{"symlink", []entry{{name: "link", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}},
		{"hard link", []entry{{name: "link", typ: tar.TypeLink, linkname: "../outside"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := "CRAFTED" + strconv.Itoa(i)
			crafted{bucket: bucket, rev: 10, data: craft(t, tc.entries...), key: signed.Key, stream: log.Stream}.put(t, log.JS)
			parent := t.TempDir()
			dir := filepath.Join(parent, "sub", "index")
			_, _, err := restore(t, log, bucket, dir, nil)
			require.ErrorIs(t, err, eventlog.ErrUnsafeArchive, "signed, but unsafe all the same")
			assert.NoFileExists(t, filepath.Join(parent, "sub", "evil"))
			assert.NoFileExists(t, filepath.Join(parent, "evil"))
			assert.NoDirExists(t, dir, "nothing is left at the target")
			assert.NoDirExists(t, dir+".restoring", "the partial unpack is removed")
		})
	}
}

func TestRestoreRefusesNewerSnapshots(t *testing.T) {
	log, signed := signedStream(t, dataset()[:20])
	body := craft(t, entry{name: "MANIFEST", typ: tar.TypeReg, body: "x"})
	for i, tc := range []struct {
		name   string
		layout string
		format uint64
		want   string
	}{
		{"newer layout", strconv.FormatUint(index.SupportedLayout()+1, 10), index.SupportedPebbleFormat(), "newer than this binary"},
		{"newer pebble format", index.LayoutVersion, index.SupportedPebbleFormat() + 1, "Pebble format"},
		{"unreadable layout", "v9", index.SupportedPebbleFormat(), "index layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := "NEWER" + strconv.Itoa(i)
			crafted{bucket: bucket, rev: 7, layout: tc.layout, format: tc.format, data: body, key: signed.Key, stream: log.Stream}.put(t, log.JS)
			dir := filepath.Join(t.TempDir(), "index")
			_, _, err := restore(t, log, bucket, dir, nil)
			require.ErrorIs(t, err, eventlog.ErrSnapshotIncompatible)
			assert.Contains(t, err.Error(), tc.want)
			assert.NoDirExists(t, dir)
		})
	}
}

func TestSnapshotterTakesWhenTheIndexMoved(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	st := openStore(t, filepath.Join(t.TempDir(), "index"))
	evs := dataset()[:20]
	require.NoError(t, st.Apply(evs[:10]))
	sn := eventlog.NewSnapshotter(eventlog.SnapshotterConfig{Store: st, JS: log.JS, Interval: 20 * time.Millisecond,
		TempDir: t.TempDir(), Logger: testutil.Quiet, Node: "n1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sn.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	latest := func() uint64 {
		i, err := eventlog.LatestSnapshot(context.Background(), log.JS, "")
		if err != nil {
			return 0
		}
		return i.Revision
	}
	require.Eventually(t, func() bool { return latest() == 10 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // several ticks with no change
	all, err := eventlog.ListSnapshots(context.Background(), log.JS, "")
	require.NoError(t, err)
	assert.Len(t, all, 1, "no new snapshot while the index did not move")

	require.NoError(t, st.Apply(evs[10:]))
	require.Eventually(t, func() bool { return latest() == 20 }, 5*time.Second, 10*time.Millisecond)

	info, err := sn.Take(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(20), info.Revision)
}

func TestCompatibleLayouts(t *testing.T) {
	for layout := index.OldestLayout(); layout <= index.SupportedLayout(); layout++ {
		info := eventlog.SnapshotInfo{Object: "x", Layout: strconv.FormatUint(layout, 10), PebbleFormat: index.SupportedPebbleFormat()}
		require.NoError(t, info.Compatible(), "layout %d", layout)
	}
	info := eventlog.SnapshotInfo{Object: "x", Layout: strconv.FormatUint(index.OldestLayout()-1, 10), PebbleFormat: index.SupportedPebbleFormat()}
	err := info.Compatible()
	require.ErrorIs(t, err, eventlog.ErrSnapshotIncompatible)
	assert.Contains(t, err.Error(), "older than this binary")
}
