package index

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

func TestParseRoute(t *testing.T) {
	params, err := ParseRoute("/iam/v3/admin/namespaces/{namespace}/clients/{clientId}")
	require.NoError(t, err)
	assert.Equal(t, []string{"namespace", "clientId"}, params)
	params, err = ParseRoute("/")
	require.NoError(t, err)
	assert.Empty(t, params)
	for _, bad := range []string{
		"", "iam/v3", "/a//b", "/a/", "/a/{b", "/a/x{b}", "/a/{b-c}", "/a/{}", "/a/{b}/{B}", "/a?x=1",
		"/" + strings.Repeat("a/", MaxRouteSegments) + "a",
	} {
		_, err := ParseRoute(bad)
		require.ErrorIs(t, err, ErrInvalidRoute, bad)
	}
}

func TestMatchRoute(t *testing.T) {
	ts := newMemStore(t)
	var l log
	reg := func(service, name, method, path string) events.Event {
		return l.next(events.PlatformNamespace, events.EndpointRegistered{Service: service, Name: name, Method: method, Path: path, Resource: "X", Action: 2})
	}
	ts.apply(t,
		reg("iam", "GetClient", "GET", "/iam/v3/admin/namespaces/{namespace}/clients/{clientId}"),
		reg("iam", "GetClientPerms", "GET", "/iam/v3/admin/namespaces/{namespace}/clients/{clientId}/permissions"),
		reg("iam", "GetMe", "GET", "/iam/v3/admin/namespaces/{namespace}/clients/me"),
		reg("iam", "GetRoot", "GET", "/"),
		reg("iam", "ListUsers", "GET", "/iam/v3/admin/namespaces/{namespace}/users"),
		// literal "me" branch is a dead end for .../me/permissions: backtrack to {clientId}.
		reg("zz", "Other", "GET", "/iam/v3/admin/namespaces/{namespace}/clients/{id}"),
		reg("iam", "Broken", "GET", "no-slash"),
		reg("iam", "DeleteClient", "DELETE", "/iam/v3/admin/namespaces/{namespace}/clients/{clientId}"),
	)
	v := ts.Acquire()
	defer v.Release()
	var m RouteMatch
	buf := make([]perm.Param, 0, MaxRouteParams)
	for _, c := range []struct {
		method, path, service, name string
		params                      []perm.Param
	}{
		{"GET", "/iam/v3/admin/namespaces/foo/clients/abc", "", "GetClient", []perm.Param{{Name: "namespace", Value: "foo"}, {Name: "clientId", Value: "abc"}}},
		{"get", "/iam/v3/admin/namespaces/foo/clients/abc?x=1#f", "", "GetClient", nil},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/abc/", "", "GetClient", nil},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/me", "", "GetMe", []perm.Param{{Name: "namespace", Value: "foo"}}},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/me/permissions", "", "GetClientPerms", []perm.Param{{Name: "namespace", Value: "foo"}, {Name: "clientId", Value: "me"}}},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/abc", "zz", "Other", []perm.Param{{Name: "namespace", Value: "foo"}, {Name: "id", Value: "abc"}}},
		{"DELETE", "/iam/v3/admin/namespaces/foo/clients/abc", "", "DeleteClient", nil},
		{"GET", "/", "", "GetRoot", nil},
	} {
		require.True(t, v.MatchRoute(c.method, c.path, c.service, &m), c.path)
		assert.Equal(t, c.name, m.Endpoint.Name, c.path)
		if c.params != nil {
			assert.Equal(t, c.params, m.Params(buf), c.path)
		}
	}
	for _, c := range [][3]string{
		{"POST", "/iam/v3/admin/namespaces/foo/clients/abc", ""},
		{"GET", "/iam/v3/admin/namespaces/foo/clients", ""},
		{"GET", "/iam/v3/admin/namespaces//clients/abc", ""},
		{"GET", "iam/v3/admin/namespaces/foo/clients/abc", ""},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/abc/x", ""},
		{"GET", "/iam/v3/admin/namespaces/foo/clients/abc", "nope"},
		{"GET", "no-slash", ""},
		{"GET", "/" + strings.Repeat("a/", 40), ""},
	} {
		assert.False(t, v.MatchRoute(c[0], c[1], c[2], &m), c[1])
	}
	allocs := testing.AllocsPerRun(100, func() {
		v.MatchRoute("GET", "/iam/v3/admin/namespaces/foo/clients/me/permissions", "", &m)
		buf = m.Params(buf)
	})
	assert.Zero(t, allocs)
}

func TestMatchRouteFollowsChangesAndReopen(t *testing.T) {
	ts := newDiskStore(t)
	var l log
	ts.apply(t,
		l.next(events.PlatformNamespace, events.EndpointRegistered{Service: "s", Name: "A", Method: "GET", Path: "/a/{x}", Resource: "X", Action: 2}),
		l.next(events.PlatformNamespace, events.EndpointRegistered{Service: "s", Name: "B", Method: "GET", Path: "/b/{x}", Resource: "X", Action: 2}),
		// A moves to another path: the old route goes.
		l.next(events.PlatformNamespace, events.EndpointRegistered{Service: "s", Name: "A", Method: "GET", Path: "/c/{y}", Resource: "X", Action: 2}),
		l.next(events.PlatformNamespace, events.EndpointDeleted{Service: "s", Name: "B"}),
	)
	check := func(ts *testStore) {
		v := ts.Acquire()
		defer v.Release()
		var m RouteMatch
		assert.False(t, v.MatchRoute("GET", "/a/1", "", &m))
		assert.False(t, v.MatchRoute("GET", "/b/1", "", &m))
		require.True(t, v.MatchRoute("GET", "/c/1", "", &m))
		assert.Equal(t, "A", m.Endpoint.Name)
		assert.Equal(t, "1", m.Param("Y"))
	}
	check(ts)
	check(ts.reopen(t))
}
