package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLoggedNode is startNode with the node's log kept in the returned
// buffer; it also returns how long the node took from New to ready.
func startLoggedNode(t *testing.T, cfg server.Config, token string) (*node, *syncBuffer, time.Duration) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.HTTPAddr, cfg.Logger = "127.0.0.1:0", slog.New(slog.NewTextHandler(logs, nil))
	anyNATSPort(&cfg)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		require.NoError(t, err, "logs:\n%s", logs)
	}
	if token == "" {
		raw, err := os.ReadFile(filepath.Join(cfg.DataDir, auth.BootstrapTokenFile))
		require.NoError(t, err)
		token = strings.TrimSpace(string(raw))
	}
	n := &node{srv: srv, c: newClient(t, srv.HTTPAddr(), token), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- srv.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	for !srv.Ready() {
		require.Less(t, time.Since(start), 15*time.Second, "%s node not ready; logs:\n%s", cfg.NodeRole, logs)
		time.Sleep(time.Millisecond)
	}
	return n, logs, time.Since(start)
}

// publishDataset appends the events of a generated permission model to the
// stream, as a command node would (signed with the node's log signing key),
// and returns the last revision.
func publishDataset(t *testing.T, srv *server.Server, shape testutil.Shape) uint64 {
	t.Helper()
	js := srv.JetStream()
	stream, err := js.Stream(context.Background(), eventlog.DefaultStream)
	require.NoError(t, err)
	return testutil.SignedWithBucketKey(t, srv.AccountJetStream(), js, stream).AppendAsync(t, testutil.GenerateDataset(shape).Events)
}

// TestReplicaBootstrapsFromSnapshot: an all node with data takes a snapshot
// through the API and keeps writing; a new replica on an empty data
// directory restores the snapshot, replays only the tail and converges to
// the all node's index; a replica that finds no snapshot replays everything
// and converges too. A replica whose resume point the stream dropped
// rebuilds from a newer snapshot, moving its old index aside.
func TestReplicaBootstrapsFromSnapshot(t *testing.T) {
	dir0 := t.TempDir()
	a, aLogs, _ := startLoggedNode(t, server.Config{DataDir: dir0, NATSListen: "127.0.0.1:0"}, "")
	url := a.srv.NATSURL()
	replicaCfg := func(dir, bucket string) server.Config {
		return server.Config{DataDir: dir, NodeRole: server.NodeRoleReplica, NATSURL: url, SnapshotBucket: bucket,
			NATSCreds:      filepath.Join(dir0, eventlog.ReplicaCredsFile),
			StatusInterval: 100 * time.Millisecond}
	}

	// GRANTLOG_TEST_SNAPSHOT_USERS scales the data for the BENCHMARKS
	// cold-start figures (default 4000 users, about 8k events; the embedded
	// server fsyncs every event, so publishing takes ~0.5 ms per event).
	users := 4000
	if v := os.Getenv("GRANTLOG_TEST_SNAPSHOT_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "GRANTLOG_TEST_SNAPSHOT_USERS")
		users = n
	}
	start := time.Now()
	shape := testutil.Shape{Namespaces: 20, Roles: 200, PermsPerRole: 10, Users: users,
		MaxRolesPerUse: 3, MaxNSPerAssign: 3, WildcardEvery: 50, Seed: 7}
	dataRev := publishDataset(t, a.srv, shape)
	testutil.WaitApplied(t, a.srv.Store(), dataRev)
	t.Logf("published and applied %d events in %s", dataRev, time.Since(start).Round(time.Millisecond))

	// Only an authenticated caller with ADMIN:SNAPSHOT may take one.
	code, body := a.c.as("").do("POST", "/v1/admin/snapshots", nil)
	assert.Equal(t, http.StatusUnauthorized, code, "%v", body)

	start = time.Now()
	code, snap := a.c.do("POST", "/v1/admin/snapshots", nil)
	require.Equal(t, http.StatusCreated, code, "%v; logs:\n%s", snap, aLogs)
	snapRev := num(snap["revision"])
	t.Logf("snapshot at revision %d: %d bytes in %s", snapRev, num(snap["bytes"]), time.Since(start).Round(time.Millisecond))
	assert.GreaterOrEqual(t, snapRev, dataRev)
	assert.Equal(t, eventlog.SnapshotObjectName(snapRev), snap["object"])
	assert.Positive(t, num(snap["bytes"]))
	entries, err := os.ReadDir(dir0)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "grantlog-checkpoint-"), "temporary checkpoint %s left behind", e.Name())
	}

	// Keep writing after the snapshot.
	role := a.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "AfterSnapshot",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:LATE", "action": 2}}})
	var last uint64
	for i := range 5 {
		out := a.c.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/late/users/u%d/roles", i),
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"late"}})
		last = num(out["revision"])
	}

	b, bLogs, bStart := startLoggedNode(t, replicaCfg(t.TempDir(), ""), a.c.token)
	assert.Equal(t, snapRev, b.srv.RestoredFrom(), "replica B restored from the snapshot")
	assert.Contains(t, bLogs.String(), "restored the index from a snapshot")
	assert.Contains(t, bLogs.String(), "percent=100")
	bTimes := b.srv.StartTimes()
	assert.Positive(t, bTimes.Restore, "B's start spent time restoring the snapshot")
	assert.Positive(t, bTimes.Load, "and loading the index")
	assert.Less(t, bTimes.Restore+bTimes.Load, bStart, "both are parts of its start")
	assert.Contains(t, bLogs.String(), "opened the index")

	cDir := t.TempDir()
	c, cLogs, cStart := startLoggedNode(t, replicaCfg(cDir, "NO_SNAPSHOTS_HERE"), a.c.token)
	assert.Zero(t, c.srv.RestoredFrom(), "replica C replayed from the start")
	assert.Contains(t, cLogs.String(), "no snapshot: replaying the stream from the start")
	// C looked for a snapshot in a bucket its account cannot reach (the
	// look waits for JetStream's request timeout), then loaded an empty
	// index.
	cTimes := c.srv.StartTimes()
	assert.Less(t, cTimes.Restore+cTimes.Load, cStart)
	t.Logf("cold start to ready, %d events (%d in the snapshot): from snapshot + tail %s, full replay %s",
		last, snapRev, bStart.Round(time.Millisecond), cStart.Round(time.Millisecond))

	want := testutil.Dump(t, a.srv.Store())
	for name, n := range map[string]*node{"B (snapshot)": b, "C (replay)": c} {
		testutil.WaitApplied(t, n.srv.Store(), last)
		assert.Equal(t, a.srv.Store().Applied(), n.srv.Store().Applied(), name)
		assert.Equal(t, want, testutil.Dump(t, n.srv.Store()), name)
	}
	checks := []map[string]any{
		{"subject": map[string]any{"type": "user", "id": "u3"}, "namespace": "late", "resource": "NAMESPACE:late:LATE", "action": 2},
		{"subject": map[string]any{"type": "user", "id": "u9"}, "namespace": "late", "resource": "NAMESPACE:late:LATE", "action": 2},
	}
	ds := testutil.GenerateDataset(shape)
	for _, ch := range ds.Checks(40, 3) {
		checks = append(checks, map[string]any{"subject": map[string]any{"type": "user", "id": ch.User},
			"namespace": ch.Namespace, "resource": ch.Resource, "action": int(ch.Action)})
	}
	for i, req := range checks {
		req["atLeastRevision"] = last
		wantAllowed := a.c.must(http.StatusOK, "POST", "/v1/check", req)["allowed"]
		assert.Equal(t, wantAllowed, b.c.must(http.StatusOK, "POST", "/v1/check", req)["allowed"], "check %d at B", i)
		assert.Equal(t, wantAllowed, c.c.must(http.StatusOK, "POST", "/v1/check", req)["allowed"], "check %d at C", i)
	}

	t.Run("replicas do not take snapshots over HTTP", func(t *testing.T) {
		code, body := b.c.do("POST", "/v1/admin/snapshots", nil)
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, "notACommandNode", body["errorCode"])
	})

	t.Run("a replica behind the stream's first event rebuilds from a snapshot", func(t *testing.T) {
		before := c.srv.Store().Applied()
		c.stop(t)
		for i := range 5 {
			out := a.c.must(http.StatusCreated, "POST", fmt.Sprintf("/v1/namespaces/late/users/v%d/roles", i),
				map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"late"}})
			last = num(out["revision"])
		}
		snap2 := num(a.c.must(http.StatusCreated, "POST", "/v1/admin/snapshots", nil)["revision"])
		require.Equal(t, last, snap2)
		// Drop every event up to the head but one from the stream (limits,
		// as an operator might set them): C's resume point is gone.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sjs := a.srv.StoreJetStream()
		st, err := sjs.Stream(ctx, eventlog.DefaultStream)
		require.NoError(t, err)
		cfg := st.CachedInfo().Config
		cfg.Discard, cfg.MaxMsgs = jetstream.DiscardOld, 1
		info, err := sjs.UpdateStream(ctx, cfg)
		require.NoError(t, err)
		require.Greater(t, info.CachedInfo().State.FirstSeq, before+1)
		// The readers' mirror keeps its own limits: the operator sets them
		// there too.
		mjs := a.srv.MirrorJetStream()
		mst, err := mjs.Stream(ctx, eventlog.ReaderStream)
		require.NoError(t, err)
		mcfg := mst.CachedInfo().Config
		mcfg.Discard, mcfg.MaxMsgs = jetstream.DiscardOld, 1
		minfo, err := mjs.UpdateStream(ctx, mcfg)
		require.NoError(t, err)
		require.Greater(t, minfo.CachedInfo().State.FirstSeq, before+1)

		// Without a snapshot in its bucket, C refuses to start and says why.
		_, err = server.New(ctx, func() server.Config {
			cfg := replicaCfg(cDir, "NO_SNAPSHOTS_HERE")
			cfg.HTTPAddr, cfg.Logger = "127.0.0.1:0", testutil.Quiet
			return cfg
		}())
		require.ErrorIs(t, err, projector.ErrGap)
		assert.Contains(t, err.Error(), "take a snapshot on a healthy node")

		c2, logs, took := startLoggedNode(t, replicaCfg(cDir, ""), a.c.token)
		t.Logf("rebuilt from snapshot after a gap in %s", took.Round(time.Millisecond))
		assert.Equal(t, snap2, c2.srv.RestoredFrom())
		assert.Contains(t, logs.String(), "rebuilding from the newest snapshot")
		broken, err := filepath.Glob(filepath.Join(cDir, "index.broken-*"))
		require.NoError(t, err)
		assert.Len(t, broken, 1, "the old index is moved aside")
		testutil.WaitApplied(t, c2.srv.Store(), last)
		assert.Equal(t, testutil.Dump(t, a.srv.Store()), testutil.Dump(t, c2.srv.Store()))
	})
}
