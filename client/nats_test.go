package client_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// TestNATSCheckAgreesWithHTTP: checks, explanations and batches over NATS
// answer as over HTTP, with the same typed errors.
func TestNATSCheckAgreesWithHTTP(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)
	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "Matchmaker",
		Permissions: []client.Permission{{Resource: "NAMESPACE:{namespace}:MATCH", Action: perm.Create | perm.Read}}})
	require.NoError(t, err)
	rev, err := c.AssignRole(ctx, "arena", "p1", role.RoleID, []string{"arena"})
	require.NoError(t, err)

	nc := s.natsConn(t)
	waitNATSAPI(t, nc)
	nt := client.NewNATS(nc, s.token)
	var checks []client.CheckRequest
	for _, user := range []string{"p1", "p2"} {
		for _, action := range []uint8{1, 2, 4} {
			req := userCheck(user, "arena", "NAMESPACE:arena:MATCH", action)
			req.AtLeastRevision = rev
			checks = append(checks, *req)
			viaHTTP, err := c.Check(ctx, req)
			require.NoError(t, err)
			viaNATS, err := nt.Check(ctx, req)
			require.NoError(t, err)
			assert.Equal(t, viaHTTP, viaNATS, "%s %d", user, action)
			exHTTP, err := c.Explain(ctx, req)
			require.NoError(t, err)
			exNATS, err := nt.Explain(ctx, req)
			require.NoError(t, err)
			require.NotNil(t, exNATS.Explanation)
			assert.Equal(t, exHTTP.Allowed, exNATS.Allowed)
			assert.Equal(t, exHTTP.Explanation.Grants, exNATS.Explanation.Grants)
			assert.Equal(t, exHTTP.Explanation.Summary, exNATS.Explanation.Summary)
		}
	}
	bHTTP, err := c.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	bNATS, err := nt.CheckBatch(ctx, &client.BatchRequest{Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, bHTTP, bNATS)
	assert.True(t, bNATS.Results[0].Allowed)
	assert.False(t, bNATS.Results[3].Allowed)

	t.Run("typed errors", func(t *testing.T) {
		_, err := client.NewNATS(nc, "gltk_bad").Check(ctx, userCheck("p1", "arena", "X", 2))
		require.ErrorIs(t, err, client.ErrUnauthorized)
		var ae *client.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusUnauthorized, ae.Status)
		assert.Equal(t, "unauthorized", ae.Code)

		_, err = nt.Check(ctx, userCheck("p1", "arena", "X", 0))
		require.ErrorIs(t, err, client.ErrInvalid)
		_, err = nt.CheckBatch(ctx, &client.BatchRequest{})
		require.ErrorIs(t, err, client.ErrInvalid)

		applied := s.srv.Store().Applied()
		far := userCheck("p1", "arena", "X", 2)
		far.AtLeastRevision = applied + 1000
		_, err = nt.Check(ctx, far)
		require.ErrorIs(t, err, client.ErrNotYet)
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
		assert.Equal(t, applied, ae.Revision)
		_, err = nt.CheckBatch(ctx, &client.BatchRequest{Checks: checks, AtLeastRevision: applied + 1000})
		require.ErrorIs(t, err, client.ErrNotYet)
	})

}
