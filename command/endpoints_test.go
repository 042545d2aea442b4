package command_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/testutil"
)

func endpointNode(t *testing.T) *testutil.Node {
	dir := t.TempDir()
	return testutil.StartNode(t, testutil.StartLog(t, dir), dir)
}

func applied(n *testutil.Node) uint64 {
	v := n.Store.Acquire()
	defer v.Release()
	return v.Revision()
}

func TestRegisterEndpointPathParameters(t *testing.T) {
	n := endpointNode(t)
	ctx := context.Background()
	for i, c := range []command.RegisterEndpoint{
		{Method: "DELETE", Path: "/iam/namespaces/{namespace}/clients/{clientId}", Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", Action: 8},
		{Method: "get", Path: "/iam/v3/admin/namespaces/{namespace}/platforms/{platformId}/clients", Resource: "ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformid}:CLIENT", Action: 2},
		{Method: "POST", Path: "/iam/v3/admin/namespaces/{namespace}/platforms/{platformId}/sso", Resource: "ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:SSO", Action: 1},
		{Method: "PUT", Path: "/group/v1/admin/namespaces/{namespace}/groups/{groupId}", Resource: "ADMIN:NAMESPACE:{namespace}:GROUP:{groupId}", Action: 4},
	} {
		_, err := n.Commands.RegisterEndpoint(ctx, testutil.Root(), "iam", fmt.Sprintf("E%d", i), c)
		require.NoError(t, err, c.Resource)
	}
	v := n.Store.Acquire()
	e := v.Endpoint("iam", "E1")
	require.NotNil(t, e)
	assert.Equal(t, "GET", e.Method, "methods are kept in upper case")
	assert.Equal(t, "ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:CLIENT", e.Resource, "placeholders take the path's spelling")
	v.Release()

	before := applied(n)
	for _, c := range []struct {
		in   command.RegisterEndpoint
		code string
	}{
		{command.RegisterEndpoint{Method: "GET", Path: "/iam/v3/admin/namespaces/{namespace}/clients", Resource: "ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", Action: 2}, "invalidPermission"},
		{command.RegisterEndpoint{Resource: "ADMIN:CLIENT:{clientId}", Action: 2}, "invalidPermission"},
		{command.RegisterEndpoint{Method: "GET", Path: "/a/{id", Resource: "X", Action: 2}, "invalidEndpoint"},
		{command.RegisterEndpoint{Method: "GET", Path: "a", Resource: "X", Action: 2}, "invalidEndpoint"},
		{command.RegisterEndpoint{Method: "G T", Path: "/a", Resource: "X", Action: 2}, "invalidEndpoint"},
		{command.RegisterEndpoint{Method: "GET", Path: "/a/{x-y}", Resource: "X", Action: 2}, "invalidEndpoint"},
		{command.RegisterEndpoint{Method: "GET", Path: "/a", Resource: "X:{a-b}", Action: 2}, "invalidPermission"},
	} {
		_, err := n.Commands.RegisterEndpoint(ctx, testutil.Root(), "iam", "Bad", c.in)
		require.ErrorIs(t, err, command.ErrInvalid, "%+v", c.in)
		var ce *command.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, c.code, ce.Code, "%+v: %v", c.in, err)
	}
	assert.Equal(t, before, applied(n), "refused registrations change nothing")
}

func TestRegisterEndpointsBatch(t *testing.T) {
	n := endpointNode(t)
	ctx := context.Background()
	ep := func(name, path string) command.CatalogEndpoint {
		return command.CatalogEndpoint{Service: "s", Name: name, RegisterEndpoint: command.RegisterEndpoint{Method: "GET", Path: path, Resource: "ADMIN:X", Action: 2}}
	}
	before := applied(n)
	for _, in := range [][]command.CatalogEndpoint{
		nil,
		{ep("a", "/a"), ep("a", "/b")},
		{ep("a", "/a"), ep("b", "no-slash")},
		{ep("a", "/a"), ep("b c", "/b")},
		make([]command.CatalogEndpoint, command.MaxEndpointBatch+1),
	} {
		_, err := n.Commands.RegisterEndpoints(ctx, testutil.Root(), in)
		require.ErrorIs(t, err, command.ErrInvalid)
	}
	mallory := command.Meta{Caller: events.Caller{Actor: events.Actor{Type: "user", ID: "mallory"}}}
	_, err := n.Commands.RegisterEndpoints(ctx, mallory, []command.CatalogEndpoint{ep("a", "/a")})
	require.ErrorIs(t, err, auth.ErrForbidden)
	_, err = n.Commands.LoadEndpointCatalog(ctx, mallory, "accelbyte")
	require.ErrorIs(t, err, auth.ErrForbidden)
	assert.Equal(t, before, applied(n), "refused batches change nothing")

	rev, err := n.Commands.RegisterEndpoints(ctx, testutil.Root(), []command.CatalogEndpoint{ep("a", "/a"), ep("b", "/b/{id}")})
	require.NoError(t, err)
	assert.Equal(t, before+1, rev, "one event")
	v := n.Store.Acquire()
	assert.NotNil(t, v.Endpoint("s", "a"))
	assert.Equal(t, []string{"id"}, v.Endpoint("s", "b").PathParams())
	v.Release()
}

// TestLoadEndpointCatalogResumes: a load after part of the catalog is
// registered registers only the rest; a second load appends nothing.
func TestLoadEndpointCatalogResumes(t *testing.T) {
	n := endpointNode(t)
	ctx := context.Background()
	_, err := n.Commands.RegisterEndpoint(ctx, testutil.Root(), "achievement", "AdminDeleteAchievement", command.RegisterEndpoint{
		Method: "DELETE", Path: "/achievement/v1/admin/namespaces/{namespace}/achievements/{achievementCode}", Resource: "ADMIN:NAMESPACE:{namespace}:ACHIEVEMENT", Action: 8})
	require.NoError(t, err)
	before := applied(n)
	out, err := n.Commands.LoadEndpointCatalog(ctx, testutil.Root(), "accelbyte")
	require.NoError(t, err)
	assert.Equal(t, 1840, out.Endpoints)
	assert.Equal(t, before+4, out.Revision, "1,839 endpoints in 4 events")
	again, err := n.Commands.LoadEndpointCatalog(ctx, testutil.Root(), "accelbyte")
	require.NoError(t, err)
	assert.Equal(t, out.Revision, again.Revision)
	assert.Equal(t, out.Revision, applied(n), "a second load appends nothing")
	v := n.Store.Acquire()
	assert.Len(t, v.Endpoints(), 1840)
	v.Release()
}
