package client_test

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// TestFollowerRefusesForgedSnapshot: an index archive put into the
// snapshot bucket by someone other than the command side (here with the
// node's own full-permission connection, the only one that can write
// there) is refused by a follower, which says why in its log and restores
// the genuine snapshot instead. The follower reads the bucket from the
// readers' account, through the two JetStream API subjects the command
// account exports.
func TestFollowerRefusesForgedSnapshot(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	seedModel(ctx, t, c, rand.New(rand.NewPCG(5, 6)))
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+"/v1/admin/snapshots", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	orig, err := eventlog.LatestSnapshot(ctx, s.srv.AccountJetStream(), "")
	require.NoError(t, err)

	// A newer, unsigned snapshot that claims to be far ahead.
	obs, err := s.srv.AccountJetStream().ObjectStore(ctx, eventlog.DefaultSnapshotBucket)
	require.NoError(t, err)
	forged := orig.Revision + 1000
	_, err = obs.Put(ctx, jetstream.ObjectMeta{Name: eventlog.SnapshotObjectName(forged), Metadata: map[string]string{
		eventlog.SnapshotMetaRevision: strconv.FormatUint(forged, 10), eventlog.SnapshotMetaLayout: orig.Layout,
		eventlog.SnapshotMetaPebbleFormat: strconv.FormatUint(orig.PebbleFormat, 10), eventlog.SnapshotMetaCreatedAt: time.Now().UTC().Format(time.RFC3339Nano),
	}}, bytes.NewReader([]byte("not an index")))
	require.NoError(t, err)

	// (Wait for the readers' mirror to hold the snapshot's revision: a
	// follower on a mirror that is still empty replays from the start.)
	rjs, err := jetstream.NewWithAPIPrefix(s.followerConn(t), eventlog.MirrorAPIPrefix)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := rjs.Stream(ctx, eventlog.ReaderStream)
		return err == nil && st.CachedInfo().State.LastSeq >= orig.Revision
	}, 10*time.Second, 10*time.Millisecond)

	var logs bytes.Buffer
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "f"), CacheSize: 4 << 20, MemTableSize: 4 << 20,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	assert.Equal(t, orig.Revision, f.RestoredFrom(), "the genuine snapshot is restored")
	assert.Contains(t, logs.String(), "snapshot refused")
	assert.Contains(t, logs.String(), "not signed")
	assert.Contains(t, logs.String(), eventlog.SnapshotObjectName(forged))
	require.NoError(t, f.WaitReady(ctx))
}
