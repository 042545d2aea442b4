package client_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// TestHistory drives checks in the past and timelines through the SDK,
// over HTTP and NATS, and the follower's refusal.
func TestHistory(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)

	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "HistoryOrders",
		Permissions: []client.Permission{{Resource: orders, Action: perm.Read}}})
	require.NoError(t, err)
	assigned, err := c.AssignRole(ctx, "hsns", "h1", role.RoleID, []string{"hsns"})
	require.NoError(t, err)
	unassigned, err := c.UnassignRole(ctx, "hsns", "h1", role.RoleID)
	require.NoError(t, err)

	req := client.CheckRequest{Subject: client.Subject{Type: "user", ID: "h1"}, Namespace: "hsns",
		Resource: "NAMESPACE:hsns:USER:h1:ORDER", Action: perm.Read, AtRevision: assigned}
	nc := s.natsConn(t)
	waitNATSAPI(t, nc)
	for name, ck := range map[string]client.Checker{"http": c, "nats": client.NewNATS(nc, s.token)} {
		res, err := ck.Check(ctx, &req)
		require.NoError(t, err, name)
		assert.True(t, res.Allowed, name)
		assert.Equal(t, assigned, res.Revision, name)
		at := req
		at.AtRevision = unassigned
		res, err = ck.Check(ctx, &at)
		require.NoError(t, err, name)
		assert.False(t, res.Allowed, name)
		both := req
		future := time.Now().Add(time.Hour)
		both.AsOf = &future
		_, err = ck.Check(ctx, &both)
		require.ErrorIs(t, err, client.ErrInvalid, name)
	}

	var entries []client.TimelineEntry
	o := client.TimelineOptions{Limit: 1}
	for pages := 0; pages < 10; pages++ {
		p, err := c.Timeline(ctx, "hsns", client.LookupSubject{Type: "user", ID: "h1"}, o)
		require.NoError(t, err)
		entries = append(entries, p.Data...)
		if p.Paging.Next == 0 {
			break
		}
		o.After = p.Paging.Next
	}
	require.Len(t, entries, 2)
	assert.Equal(t, assigned, entries[0].Revision)
	assert.Equal(t, []perm.Permission{{Resource: "NAMESPACE:hsns:USER:h1:ORDER", Action: perm.Read}}, entries[0].Gained)
	assert.Equal(t, unassigned, entries[1].Revision)
	assert.Equal(t, entries[0].Gained, entries[1].Lost)

	// A follower keeps no past views: it says so.
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "follower"), MaxWait: 2 * time.Second, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, f.WaitFor(ctx, unassigned))
	_, err = f.Check(ctx, &req)
	require.ErrorIs(t, err, client.ErrNoHistory)
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "historyUnavailable", ae.Code)
}
