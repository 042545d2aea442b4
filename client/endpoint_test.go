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

// TestCheckByRawPathEverywhere: a check naming an AGS endpoint by its raw
// request path answers the same over HTTP, NATS and an embedded follower.
func TestCheckByRawPathEverywhere(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	var loaded struct {
		Endpoints int    `json:"endpoints"`
		Revision  uint64 `json:"revision"`
	}
	require.NoError(t, c.Do(ctx, "catalog.endpoints.load", map[string]any{"name": "accelbyte"}, &loaded))
	assert.Equal(t, 1840, loaded.Endpoints)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "ClientReader",
		Permissions: []client.Permission{{Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT", Action: perm.Read}}})
	require.NoError(t, err)
	rev, err := c.AssignRole(ctx, "foo", "p1", role.RoleID, []string{"foo"})
	require.NoError(t, err)

	req := func(user, method, path string) client.CheckRequest {
		return client.CheckRequest{Subject: client.Subject{Type: "user", ID: user}, Namespace: "foo", AtLeastRevision: rev,
			Endpoint: &client.EndpointRef{Method: method, Path: path}}
	}
	checks := []client.CheckRequest{
		req("p1", "GET", "/iam/v3/admin/namespaces/foo/clients/abc"),         // AdminGetClientsbyNamespacebyIDV3: Read
		req("p1", "DELETE", "/iam/v3/admin/namespaces/foo/clients/abc"),      // Delete
		req("p1", "GET", "/iam/v3/admin/namespaces/bar/clients/abc"),         // another namespace
		req("p2", "GET", "/iam/v3/admin/namespaces/foo/clients/abc"),         // another user
		req("p1", "GET", "/iam/v3/admin/namespaces/foo/clients?limit=10"),    // the list: Read
		req("p1", "GET", "/iam/v3/admin/namespaces/foo/clients/abc/extra/x"), // no such route: an error item
	}
	want := []bool{true, false, false, false, true, false}

	nc := s.natsConn(t)
	waitNATSAPI(t, nc)
	nt := client.NewNATS(nc, s.token)
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: s.srv.NATSURL(), CredsFile: s.followerCreds(),
		Dir: filepath.Join(t.TempDir(), "follower"), MaxWait: 2 * time.Second, CacheSize: 4 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, f.WaitFor(ctx, rev))

	for i := range checks {
		if i == len(checks)-1 {
			_, err := c.Check(ctx, &checks[i])
			require.ErrorIs(t, err, client.ErrNotFound)
			_, err = nt.Check(ctx, &checks[i])
			require.ErrorIs(t, err, client.ErrNotFound)
			_, err = f.Check(ctx, &checks[i])
			require.ErrorIs(t, err, client.ErrNotFound)
			continue
		}
		viaHTTP, err := c.Check(ctx, &checks[i])
		require.NoError(t, err)
		assert.Equal(t, want[i], viaHTTP.Allowed, "%+v", checks[i].Endpoint)
		viaNATS, err := nt.Check(ctx, &checks[i])
		require.NoError(t, err)
		assert.Equal(t, viaHTTP, viaNATS)
		local, err := f.Check(ctx, &checks[i])
		require.NoError(t, err)
		assert.Equal(t, viaHTTP.Allowed, local.Allowed)
	}
	bHTTP, err := c.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	bNATS, err := nt.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, bHTTP, bNATS)
	bLocal, err := f.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	for i, r := range bHTTP.Results {
		assert.Equal(t, want[i], r.Allowed, "batch %d", i)
		assert.Equal(t, r.Allowed, bLocal.Results[i].Allowed)
		assert.Equal(t, r.ErrorCode, bLocal.Results[i].ErrorCode)
	}
	assert.Equal(t, "endpointNotFound", bHTTP.Results[len(checks)-1].ErrorCode)
}
