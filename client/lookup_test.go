package client_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// TestLookups drives SubjectPermissions and PermissionHolders over HTTP.
func TestLookups(t *testing.T) {
	s := startServer(t)
	c := s.client(t, s.token)
	ctx := testCtx(t)

	role, err := c.CreateRole(ctx, client.CreateRole{RoleName: "LookupOrders",
		Permissions: []client.Permission{{Resource: orders, Action: perm.Read | perm.Update}}})
	require.NoError(t, err)
	var rev uint64
	for _, u := range []string{"lk1", "lk2", "lk3"} {
		rev, err = c.AssignRole(ctx, "lkns", u, role.RoleID, []string{"lkns"})
		require.NoError(t, err)
	}

	p, err := c.SubjectPermissions(ctx, "lkns", client.LookupSubject{Type: "user", ID: "lk1"}, client.ListOptions{},
		client.WithAtLeastRevision(rev))
	require.NoError(t, err)
	require.Len(t, p.Data, 1)
	assert.Equal(t, "NAMESPACE:lkns:USER:lk1:ORDER", p.Data[0].Resource)
	assert.Equal(t, perm.Read|perm.Update, p.Data[0].Action)
	require.Len(t, p.Data[0].Sources, 1)
	assert.Equal(t, role.RoleID, p.Data[0].Sources[0].RoleID)
	assert.GreaterOrEqual(t, p.Revision, rev)
	assert.Empty(t, p.Next)

	var users []string
	after := ""
	for {
		h, err := c.PermissionHolders(ctx, "lkns", "NAMESPACE:lkns:USER:lk2:ORDER", perm.Read, client.ListOptions{Limit: 1, After: after})
		require.NoError(t, err)
		for _, x := range h.Data {
			users = append(users, x.Subject.Type+":"+x.Subject.ID)
		}
		if h.Next == "" {
			break
		}
		after = h.Next
	}
	assert.Contains(t, users, "user:lk2")
	assert.NotContains(t, users, "user:lk1", "{userId} binds to the holder")

	_, err = c.PermissionHolders(ctx, "lkns", "NAMESPACE:lkns:X", 0, client.ListOptions{})
	require.Error(t, err)
}
