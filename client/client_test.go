package client_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

const orders = "NAMESPACE:{namespace}:USER:{userId}:ORDER"

// TestHTTPCommandsAndChecks drives every SDK command against a real node,
// and checks, explanations and batches over HTTP.
func TestHTTPCommandsAndChecks(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)

	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "OrderManager", Description: "own orders",
		Permissions: []client.Permission{{Resource: orders, Action: perm.Read | perm.Update}}},
		client.WithReason("JIRA-1"), client.WithRequestID("req-create"))
	require.NoError(t, err)
	require.NotEmpty(t, role.RoleID)
	assert.Equal(t, "OrderManager", role.RoleName)
	assert.Positive(t, role.Revision)

	got, err := c.GetRole(ctx, role.RoleID, client.WithAtLeastRevision(role.Revision))
	require.NoError(t, err)
	assert.Equal(t, role.Permissions, got.Permissions)
	page, err := c.ListRoles(ctx, client.ListOptions{Limit: 1000})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, page.Revision, role.Revision)
	names := []string{}
	for _, r := range page.Data {
		names = append(names, r.RoleName)
	}
	assert.Contains(t, names, "OrderManager")
	first, err := c.ListRoles(ctx, client.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, first.Data, 1)
	require.NotEmpty(t, first.Next)
	second, err := c.ListRoles(ctx, client.ListOptions{Limit: 1, After: first.Next})
	require.NoError(t, err)
	require.Len(t, second.Data, 1)
	assert.NotEqual(t, first.Data[0].RoleID, second.Data[0].RoleID)

	desc := "manages the player's own orders"
	updated, err := c.UpdateRole(ctx, role.RoleID, client.UpdateRole{Description: &desc})
	require.NoError(t, err)
	assert.Equal(t, desc, updated.Description)
	assert.Greater(t, updated.Revision, role.Revision)

	added, err := c.AddPermissions(ctx, role.RoleID, []client.Permission{{Resource: orders, Action: perm.Delete}})
	require.NoError(t, err)
	assert.Equal(t, []client.Permission{{Resource: orders, Action: perm.Read | perm.Update | perm.Delete}}, added.Permissions)
	replaced, err := c.ReplacePermissions(ctx, role.RoleID, []client.Permission{
		{Resource: orders, Action: perm.CRUD}, {Resource: "NAMESPACE:{namespace}:MATCH", Action: perm.Read}})
	require.NoError(t, err)
	assert.Len(t, replaced.Permissions, 2)
	removed, err := c.RemovePermissions(ctx, role.RoleID, []client.Permission{
		{Resource: orders, Action: perm.Create}, {Resource: "NAMESPACE:{namespace}:MATCH", Action: 0}})
	require.NoError(t, err)
	assert.Equal(t, []client.Permission{{Resource: orders, Action: perm.Read | perm.Update | perm.Delete}}, removed.Permissions)

	ns, err := c.CreateNamespace(ctx, client.CreateNamespace{Namespace: "foo"})
	require.NoError(t, err)
	assert.Equal(t, "foo", ns.Namespace)
	assert.Greater(t, ns.Revision, removed.Revision)

	rev, err := c.AssignRole(ctx, "foo", "888", role.RoleID, []string{"foo", "baz"}, client.WithIdempotencyKey("assign-888"))
	require.NoError(t, err)
	again, err := c.AssignRole(ctx, "foo", "888", role.RoleID, []string{"foo", "baz"}, client.WithIdempotencyKey("assign-888"))
	require.NoError(t, err)
	assert.Equal(t, rev, again, "a retried command with the same key is stored once")
	ur, err := c.UserRoles(ctx, "foo", "888")
	require.NoError(t, err)
	require.Len(t, ur.Data, 1)
	assert.Equal(t, []string{"baz", "foo"}, ur.Data[0].AssignedNamespaces)

	allowed := userCheck("888", "foo", "NAMESPACE:baz:USER:888:ORDER", 2)
	allowed.AtLeastRevision = rev
	res, err := c.Check(ctx, allowed)
	require.NoError(t, err)
	assert.True(t, res.Allowed)
	assert.GreaterOrEqual(t, res.Revision, rev)
	assert.Nil(t, res.Explanation)
	res, err = c.Check(ctx, userCheck("888", "foo", "NAMESPACE:bar:USER:888:ORDER", 2))
	require.NoError(t, err)
	assert.False(t, res.Allowed, "not assigned in bar")

	ex, err := c.Explain(ctx, allowed)
	require.NoError(t, err)
	assert.True(t, ex.Allowed)
	require.NotNil(t, ex.Explanation)
	require.Len(t, ex.Explanation.Grants, 1)
	assert.Equal(t, "OrderManager", ex.Explanation.Grants[0].RoleName)
	assert.Equal(t, rev, ex.Explanation.Grants[0].AssignedAtRevision)
	assert.False(t, allowed.Explain, "Explain does not change the caller's request")

	// A window in the future: not in force yet.
	from := time.Now().Add(time.Hour)
	windowRev, err := c.AssignRole(ctx, "foo", "999", role.RoleID, []string{"foo"}, client.WithWindow(from, time.Time{}))
	require.NoError(t, err)
	batchRev, err := c.AssignBatch(ctx, "foo", []client.BatchAssignment{
		{UserID: "b1", RoleID: role.RoleID, AssignedNamespaces: []string{"foo"}},
		{UserID: "b2", RoleID: role.RoleID, AssignedNamespaces: []string{"foo"}},
	})
	require.NoError(t, err)
	assert.Greater(t, batchRev, windowRev)

	batch, err := c.CheckBatch(ctx, &client.BatchRequest{AtLeastRevision: batchRev, Checks: []client.CheckRequest{
		*userCheck("b1", "foo", "NAMESPACE:foo:USER:b1:ORDER", 8),
		*userCheck("b2", "foo", "NAMESPACE:foo:USER:b1:ORDER", 8),   // another user's orders
		*userCheck("999", "foo", "NAMESPACE:foo:USER:999:ORDER", 4), // User (the default role) only reads
		{Subject: client.Subject{Type: "robot", ID: "x"}, Namespace: "foo", Resource: "X", Action: 2},
	}})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, batch.Revision, batchRev)
	require.Len(t, batch.Results, 4)
	assert.True(t, batch.Results[0].Allowed)
	assert.False(t, batch.Results[1].Allowed)
	assert.False(t, batch.Results[2].Allowed, "the window has not started")
	assert.Equal(t, "invalidSubject", batch.Results[3].ErrorCode)

	cl, err := c.CreateClient(ctx, "foo", client.CreateClient{ClientName: "matchmaker",
		Permissions: []client.Permission{{Resource: "NAMESPACE:foo:MATCH", Action: perm.Read}}})
	require.NoError(t, err)
	assert.NotEmpty(t, cl.ClientID)
	assert.NotEmpty(t, cl.ClientSecret)
	assert.Greater(t, cl.Revision, batchRev)
	cres, err := c.Check(ctx, &client.CheckRequest{Subject: client.Subject{Type: "client", ID: cl.ClientID},
		Namespace: "foo", Resource: "NAMESPACE:foo:MATCH", Action: perm.Read, AtLeastRevision: cl.Revision})
	require.NoError(t, err)
	assert.True(t, cres.Allowed)

	tok, err := c.IssueToken(ctx, "foo", client.IssueToken{Name: "reader",
		Permissions: []client.Permission{{Resource: "NAMESPACE:foo:USER:888:ORDER", Action: perm.Read}}})
	require.NoError(t, err)
	require.NotEmpty(t, tok.Token)
	tokCheck := &client.CheckRequest{Subject: client.Subject{Type: "token", Token: tok.Token}, Namespace: "foo",
		Resource: "NAMESPACE:foo:USER:888:ORDER", Action: perm.Read, AtLeastRevision: tok.Revision}
	res, err = c.Check(ctx, tokCheck)
	require.NoError(t, err)
	assert.True(t, res.Allowed)
	revoked, err := c.RevokeToken(ctx, "foo", tok.TokenID, client.WithReason("leaked"))
	require.NoError(t, err)
	assert.Greater(t, revoked, tok.Revision)
	tokCheck.AtLeastRevision = revoked
	res, err = c.Check(ctx, tokCheck)
	require.NoError(t, err)
	assert.False(t, res.Allowed, "a revoked token holds nothing")

	unRev, err := c.UnassignRole(ctx, "foo", "888", role.RoleID)
	require.NoError(t, err)
	allowed.AtLeastRevision = unRev
	res, err = c.Check(ctx, allowed)
	require.NoError(t, err)
	assert.False(t, res.Allowed)

	delRev, err := c.DeleteRole(ctx, role.RoleID, client.WithReason("cleanup"))
	require.NoError(t, err)
	assert.Greater(t, delRev, unRev)
	_, err = c.GetRole(ctx, role.RoleID, client.WithAtLeastRevision(delRev))
	require.ErrorIs(t, err, client.ErrNotFound)
}

// TestTypedErrors: every refusal is an *APIError matching its sentinel.
func TestTypedErrors(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)

	_, err := c.GetRole(ctx, "no-such-role")
	require.ErrorIs(t, err, client.ErrNotFound)
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusNotFound, ae.Status)
	assert.Equal(t, "roleNotFound", ae.Code)
	assert.NotEmpty(t, ae.Message)
	assert.NotEmpty(t, ae.RequestID)
	assert.NotErrorIs(t, err, client.ErrConflict)

	_, err = c.CreateRole(ctx, client.CreateRole{RoleName: "Dup"})
	require.NoError(t, err)
	_, err = c.CreateRole(ctx, client.CreateRole{RoleName: "Dup"})
	require.ErrorIs(t, err, client.ErrConflict)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusConflict, ae.Status)

	_, err = c.CreateRole(ctx, client.CreateRole{RoleName: "BadTag",
		Permissions: []client.Permission{{Resource: "NAMESPACE::ORDER", Action: 2}}})
	require.ErrorIs(t, err, client.ErrInvalid)
	_, err = c.Check(ctx, userCheck("u1", "foo", "X", 99))
	require.ErrorIs(t, err, client.ErrInvalid)

	_, err = s.client(t, "gltk_not-a-token").ListRoles(ctx, client.ListOptions{})
	require.ErrorIs(t, err, client.ErrUnauthorized)
	_, err = s.client(t, "").Check(ctx, userCheck("u1", "foo", "X", 2))
	require.ErrorIs(t, err, client.ErrUnauthorized)

	// A token that may only read its owner's orders may not manage roles.
	tok, err := c.IssueToken(ctx, "foo", client.IssueToken{Name: "narrow",
		Permissions: []client.Permission{{Resource: "NAMESPACE:foo:USER:888:ORDER", Action: perm.Read}}})
	require.NoError(t, err)
	_, err = s.client(t, tok.Token).CreateRole(ctx, client.CreateRole{RoleName: "Nope"}, client.WithAtLeastRevision(tok.Revision))
	require.ErrorIs(t, err, client.ErrForbidden)

	applied := s.srv.Store().Applied()
	far := userCheck("u1", "foo", "X", 2)
	far.AtLeastRevision = applied + 1000
	_, err = c.Check(ctx, far)
	require.ErrorIs(t, err, client.ErrNotYet)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
	assert.Equal(t, "revisionNotYetApplied", ae.Code)
	assert.Equal(t, applied, ae.Revision, "the 503 says where the node is")
	_, err = c.GetRole(ctx, "x", client.WithAtLeastRevision(applied+1000))
	require.ErrorIs(t, err, client.ErrNotYet)

	// The sentinels are distinct.
	for _, sentinel := range []error{client.ErrInvalid, client.ErrUnauthorized, client.ErrForbidden,
		client.ErrNotFound, client.ErrConflict, client.ErrWrongNode, client.ErrClosed} {
		assert.False(t, errors.Is(err, sentinel), "%v is not %v", err, sentinel) //nolint:testifylint // names both
	}
	wrong := &client.APIError{Status: http.StatusNotFound, Code: "notACommandNode"}
	require.ErrorIs(t, wrong, client.ErrWrongNode)
	require.NotErrorIs(t, wrong, client.ErrNotFound)
}
