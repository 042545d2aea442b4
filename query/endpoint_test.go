package query_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// TestCheckByEndpointBinding: how a check by endpoint binds the required
// template, by name and by raw path, and that a check by raw path
// allocates nothing.
func TestCheckByEndpointBinding(t *testing.T) {
	dir := t.TempDir()
	n := testutil.StartNode(t, testutil.StartLog(t, dir), dir)
	ctx := context.Background()
	reg := func(name, method, path, resource string, a perm.Action) {
		_, err := n.Commands.RegisterEndpoint(ctx, testutil.Root(), "svc", name, command.RegisterEndpoint{Method: method, Path: path, Resource: resource, Action: a})
		require.NoError(t, err)
	}
	reg("Own", "GET", "/v1/users/{userId}/orders/{orderId}", "NAMESPACE:{namespace}:USER:{userId}:ORDER:{orderId}", perm.Read)
	reg("NoUser", "GET", "/v1/namespaces/{namespace}/orders", "NAMESPACE:{namespace}:USER:{userId}:ORDER", perm.Read)
	role, _, err := n.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleName: "Orders", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER:*", Action: perm.Read},
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: perm.Read},
	}})
	require.NoError(t, err)
	rev, err := n.Commands.AssignRole(ctx, testutil.Root(), "g", "u1", role.RoleID, []string{"g"})
	require.NoError(t, err)
	testutil.WaitApplied(t, n.Store, rev)

	check := func(ep query.EndpointRef) (bool, string) {
		res, err := n.Query.Check(ctx, &query.CheckRequest{Subject: query.Subject{Type: "user", ID: "u1"}, Namespace: "g", Endpoint: &ep, Explain: true})
		require.NoError(t, err, "%+v", ep)
		return res.Allowed, res.Explanation.Required.Resource
	}
	for _, c := range []struct {
		ep       query.EndpointRef
		allowed  bool
		required string
	}{
		// {userId} from the path (the user the request is about), {namespace} from the check.
		{query.EndpointRef{Method: "GET", Path: "/v1/users/u1/orders/o7"}, true, "NAMESPACE:g:USER:u1:ORDER:o7"},
		{query.EndpointRef{Method: "GET", Path: "/v1/users/u2/orders/o7"}, false, "NAMESPACE:g:USER:u2:ORDER:o7"},
		{query.EndpointRef{Service: "svc", Name: "Own", Params: map[string]string{"userId": "u1", "orderId": "o7"}}, true, "NAMESPACE:g:USER:u1:ORDER:o7"},
		// A path without {userId}: the subject's.
		{query.EndpointRef{Method: "GET", Path: "/v1/namespaces/g/orders"}, true, "NAMESPACE:g:USER:u1:ORDER"},
		{query.EndpointRef{Method: "GET", Path: "/v1/namespaces/h/orders"}, false, "NAMESPACE:h:USER:u1:ORDER"},
	} {
		allowed, required := check(c.ep)
		assert.Equal(t, c.allowed, allowed, "%+v", c.ep)
		assert.Equal(t, c.required, required, "%+v", c.ep)
	}
	// A parameter the template needs but the check does not give.
	_, err = n.Query.Check(ctx, &query.CheckRequest{Subject: query.Subject{Type: "user", ID: "u1"}, Namespace: "g",
		Endpoint: &query.EndpointRef{Service: "svc", Name: "Own", Params: map[string]string{"userId": "u1"}}})
	require.ErrorIs(t, err, query.ErrInvalid)
	assert.ErrorContains(t, err, "{orderId}")

	req := &query.CheckRequest{Subject: query.Subject{Type: "user", ID: "u1"}, Namespace: "g",
		Endpoint: &query.EndpointRef{Method: "GET", Path: "/v1/users/u1/orders/o7"}}
	allocs := testing.AllocsPerRun(200, func() {
		if res, err := n.Query.Check(ctx, req); err != nil || !res.Allowed {
			t.Fatal(res, err)
		}
	})
	assert.Zero(t, allocs, "a check by raw path allocates nothing")
}
