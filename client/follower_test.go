package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// seedModel creates a few roles and random assignments of users u0..u9 in
// namespaces n0..n3, and returns the last revision.
func seedModel(ctx context.Context, t *testing.T, c *client.Client, rnd *rand.Rand) uint64 {
	t.Helper()
	roles := []client.CreateRole{
		{RoleName: "Orders", Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: perm.Read | perm.Update}}},
		{RoleName: "Matches", Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:MATCH", Action: perm.Create | perm.Read}}},
		{RoleName: "Boards", IsWildcard: true, Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:LEADERBOARD", Action: perm.Read}}},
		{RoleName: "Stats", Permissions: []client.Permission{{Resource: "NAMESPACE:*:STATS", Action: perm.CRUD}}},
	}
	var ids []string
	for _, r := range roles {
		out, err := c.CreateRole(ctx, r)
		require.NoError(t, err)
		ids = append(ids, out.RoleID)
	}
	var rev uint64
	for u := range 10 {
		for _, i := range rnd.Perm(len(ids))[:1+rnd.IntN(2)] {
			ns := fmt.Sprintf("n%d", rnd.IntN(4))
			assigned := []string{ns}
			if rnd.IntN(2) == 0 {
				assigned = append(assigned, fmt.Sprintf("n%d", rnd.IntN(4)))
			}
			var err error
			rev, err = c.AssignRole(ctx, ns, fmt.Sprintf("u%d", u), ids[i], assigned)
			require.NoError(t, err)
		}
	}
	return rev
}

func randomCheck(rnd *rand.Rand) client.CheckRequest {
	kinds := []string{"USER:%s:ORDER", "MATCH", "LEADERBOARD", "STATS"}
	user := fmt.Sprintf("u%d", rnd.IntN(11)) // u10 holds nothing
	res := fmt.Sprintf("NAMESPACE:n%d:", rnd.IntN(4))
	switch kind := rnd.IntN(len(kinds)); {
	case kind > 0:
		res += kinds[kind]
	case rnd.IntN(2) == 0:
		res += fmt.Sprintf(kinds[0], user) // the user's own orders
	default:
		res += fmt.Sprintf(kinds[0], fmt.Sprintf("u%d", rnd.IntN(10)))
	}
	return client.CheckRequest{Subject: client.Subject{Type: "user", ID: user}, Namespace: fmt.Sprintf("n%d", rnd.IntN(4)),
		Resource: res, Action: perm.Action(1 + rnd.IntN(15))}
}

// TestFollower: an embedded follower, connected with the replica NATS
// credentials, answers as the server does at the same revision, sees new
// writes after WaitFor, and closes cleanly.
func TestFollower(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	rev := seedModel(ctx, t, c, rnd)

	dir := filepath.Join(t.TempDir(), "follower")
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: dir, MaxWait: 100 * time.Millisecond, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, f.WaitReady(ctx))
	require.True(t, f.Ready())
	require.NoError(t, f.WaitFor(ctx, rev))
	require.Equal(t, rev, f.Revision(), "no write since the seed")
	require.NoError(t, f.Err())

	var checks []client.CheckRequest
	allowed := 0
	for range 200 {
		req := randomCheck(rnd)
		checks = append(checks, req)
		want, err := c.Check(ctx, &req)
		require.NoError(t, err)
		got, err := f.Check(ctx, &req)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%+v", req)
		if got.Allowed {
			allowed++
		}
	}
	t.Logf("%d of 200 random checks allowed at revision %d", allowed, rev)
	assert.Positive(t, allowed)
	assert.Less(t, allowed, 200)
	want, err := c.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	got, err := f.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	ex, err := f.Explain(ctx, &checks[0])
	require.NoError(t, err)
	require.NotNil(t, ex.Explanation)

	t.Run("sees a new write after WaitFor", func(t *testing.T) {
		role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "Late",
			Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:LATE", Action: perm.Read}}})
		require.NoError(t, err)
		rev2, err := c.AssignRole(ctx, "n0", "u10", role.RoleID, []string{"n0"})
		require.NoError(t, err)
		require.NoError(t, f.WaitFor(ctx, rev2))
		res, err := f.Check(ctx, userCheck("u10", "n0", "NAMESPACE:n0:LATE", 2))
		require.NoError(t, err)
		assert.True(t, res.Allowed)
		assert.Equal(t, rev2, res.Revision)
		// AtLeastRevision waits as at a node.
		rev3, err := c.UnassignRole(ctx, "n0", "u10", role.RoleID)
		require.NoError(t, err)
		req := userCheck("u10", "n0", "NAMESPACE:n0:LATE", 2)
		req.AtLeastRevision = rev3
		res, err = f.Check(ctx, req)
		require.NoError(t, err)
		assert.False(t, res.Allowed)
		assert.GreaterOrEqual(t, res.Revision, rev3)
	})

	t.Run("typed errors", func(t *testing.T) {
		far := userCheck("u1", "n0", "X", 2)
		far.AtLeastRevision = f.Revision() + 1000
		_, err := f.Check(ctx, far)
		require.ErrorIs(t, err, client.ErrNotYet)
		var ae *client.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, f.Revision(), ae.Revision)
		_, err = f.Check(ctx, userCheck("u1", "n0", "X", 16))
		require.ErrorIs(t, err, client.ErrInvalid)
		_, err = f.CheckBatch(ctx, &client.BatchRequest{})
		require.ErrorIs(t, err, client.ErrInvalid)
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, f.WaitFor(wctx, f.Revision()+1000), context.DeadlineExceeded)
	})

	t.Run("close", func(t *testing.T) {
		// A check waiting for a revision is cut short by Close.
		waiting := make(chan error, 1)
		go func() {
			req := userCheck("u1", "n0", "X", 2)
			req.AtLeastRevision = f.Revision() + 1000
			_, err := f.Check(context.Background(), req)
			waiting <- err
		}()
		last := f.Revision()
		require.NoError(t, f.Close())
		require.NoError(t, f.Close(), "Close is idempotent")
		select {
		case err := <-waiting:
			// Either it had not started waiting yet, or Close cut it short.
			require.ErrorIs(t, err, client.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("a waiting check outlived Close")
		}
		_, err := f.Check(ctx, &checks[0])
		require.ErrorIs(t, err, client.ErrClosed)
		_, err = f.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
		require.ErrorIs(t, err, client.ErrClosed)
		require.ErrorIs(t, f.WaitFor(ctx, last+1), client.ErrClosed)
		require.ErrorIs(t, f.Err(), client.ErrClosed)
		require.ErrorIs(t, f.WaitReady(ctx), client.ErrClosed)
		assert.False(t, f.Ready())
		assert.Equal(t, last, f.Revision())

		// Reopened on the same directory, it resumes where it was.
		f2, err := client.NewFollower(ctx, client.FollowerConfig{NATS: s.followerConn(t), Dir: dir,
			CacheSize: 4 << 20, MemTableSize: 4 << 20})
		require.NoError(t, err)
		assert.Equal(t, last, f2.Revision())
		require.NoError(t, f2.WaitReady(ctx))
		res, err := f2.Check(ctx, &checks[0])
		require.NoError(t, err)
		assert.Equal(t, want.Results[0].Allowed, res.Allowed)
		require.NoError(t, f2.Close())
	})
}

// TestFollowerConfig: every problem of a configuration is reported at once.
func TestFollowerConfig(t *testing.T) {
	_, err := client.NewFollower(context.Background(), client.FollowerConfig{CredsFile: "x", User: "u"})
	require.Error(t, err)
	for _, want := range []string{"Dir is required", "needs NATS (a connection) or URL", "either CredsFile or User"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestFollowerStartsFromSnapshot: a follower on an empty directory restores
// the newest snapshot and replays only the events after it, answering as
// the server does; with NoSnapshot (or no snapshot at all) it replays from
// the start and answers the same.
func TestFollowerStartsFromSnapshot(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	rnd := rand.New(rand.NewPCG(3, 4))

	// No snapshot yet: a replay from the start.
	seedModel(ctx, t, c, rnd)
	noSnap, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "f0"), CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	require.NoError(t, noSnap.WaitReady(ctx))
	assert.Zero(t, noSnap.RestoredFrom())
	require.NoError(t, noSnap.Close())

	req, err := http.NewRequestWithContext(ctx, "POST", s.base+"/v1/admin/snapshots", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	var snap struct {
		Revision uint64 `json:"revision"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&snap))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Positive(t, snap.Revision)
	// The tail after the snapshot: a new role held by some users.
	tail, err := c.CreateRole(ctx, client.CreateRole{RoleName: "Tail",
		Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:MATCH", Action: perm.CRUD}}})
	require.NoError(t, err)
	var rev uint64
	for u := range 5 {
		rev, err = c.AssignRole(ctx, "n1", fmt.Sprintf("u%d", u), tail.RoleID, []string{"n1", "n2"})
		require.NoError(t, err)
	}
	require.Greater(t, rev, snap.Revision)

	for name, cfg := range map[string]client.FollowerConfig{
		"from snapshot": {},
		"NoSnapshot":    {NoSnapshot: true},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.URL, cfg.CredsFile, cfg.CacheSize, cfg.MemTableSize = s.srv.NATSURL(), s.followerCreds(), 4<<20, 4<<20
			cfg.Dir = filepath.Join(t.TempDir(), "follower")
			f, err := client.NewFollower(ctx, cfg)
			require.NoError(t, err)
			defer func() { require.NoError(t, f.Close()) }()
			if cfg.NoSnapshot {
				assert.Zero(t, f.RestoredFrom())
			} else {
				assert.Equal(t, snap.Revision, f.RestoredFrom())
			}
			require.NoError(t, f.WaitFor(ctx, rev))
			for range 200 {
				req := randomCheck(rnd)
				want, err := c.Check(ctx, &req)
				require.NoError(t, err)
				got, err := f.Check(ctx, &req)
				require.NoError(t, err)
				assert.Equal(t, want, got, "%+v", req)
			}
		})
	}
}
