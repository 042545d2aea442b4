package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// abDo sends body (a string as is, anything else as JSON) and returns the
// status, the answer's headers and its raw body.
func abDo(t *testing.T, c *client, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(t, err)
	switch {
	case c.basicAuth != "":
		req.Header.Set("Authorization", "Basic "+c.basicAuth)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// abMust sends and requires status want; it returns the decoded answer
// (nil for 204, whose body must be empty).
func abMust(t *testing.T, c *client, want int, method, path string, body any) map[string]any {
	t.Helper()
	status, _, data := abDo(t, c, method, path, body)
	require.Equal(t, want, status, "%s %s answered %s", method, path, data)
	if status == http.StatusNoContent {
		require.Empty(t, data, "204 carries no body")
		return nil
	}
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(data, &out), "%s", data)
	return out
}

func namespacesOf(t *testing.T, list map[string]any, roleID string) []any {
	t.Helper()
	for _, r := range list["data"].([]any) {
		if m := r.(map[string]any); m["roleId"] == roleID {
			return m["assignedNamespaces"].([]any)
		}
	}
	return nil
}

// TestAccelByteRoleAPI: the calls an AccelByte user's scripts make, with
// their effect on checks.
func TestAccelByteRoleAPI(t *testing.T) {
	srv, c := startServer(t, t.TempDir())

	role := abMust(t, c, http.StatusCreated, "POST", "/iam/v4/admin/roles", map[string]any{
		"roleName": "OrderManager", "adminRole": false, "isWildcard": false, "deletable": true,
	})
	id := role["roleId"].(string)
	assert.Equal(t, map[string]any{"roleId": id, "roleName": "OrderManager", "adminRole": false, "isWildcard": false, "permissions": []any{}}, role)

	role = abMust(t, c, http.StatusOK, "POST", "/iam/v4/admin/roles/"+id+"/permissions", map[string]any{
		"permissions": []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": 6}},
	})
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": float64(6),
		"schedAction": float64(0), "schedCron": "", "schedRange": []any{}}}, role["permissions"])

	// Users' roles (v4): add appends namespaces, remove takes some away.
	ur := abMust(t, c, http.StatusOK, "POST", "/iam/v4/admin/namespaces/foo/users/888/roles", map[string]any{
		"roleId": id, "assignedNamespaces": []string{"foo", "baz"},
	})
	assert.Equal(t, []any{"baz", "foo"}, namespacesOf(t, ur, id))
	assert.Equal(t, map[string]any{"first": "", "last": "", "next": "", "previous": ""}, ur["paging"])
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:baz:USER:888:ORDER", 2))
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:bar:USER:888:ORDER", 2))
	ur = abMust(t, c, http.StatusOK, "POST", "/iam/v4/admin/namespaces/foo/users/888/roles", map[string]any{
		"roleId": id, "assignedNamespaces": []string{"bar"},
	})
	assert.Equal(t, []any{"bar", "baz", "foo"}, namespacesOf(t, ur, id))
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:bar:USER:888:ORDER", 2))
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v4/admin/namespaces/foo/users/888/roles", map[string]any{
		"roleId": id, "assignedNamespaces": []string{"bar"},
	})
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:bar:USER:888:ORDER", 2))
	ur = abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/namespaces/foo/users/888/roles", nil)
	assert.Equal(t, []any{"baz", "foo"}, namespacesOf(t, ur, id))

	// A role's users and members.
	users := abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/roles/"+id+"/users", nil)
	assert.Equal(t, []any{map[string]any{"roleId": id, "userId": "888", "namespace": "foo", "assignedNamespaces": []any{"baz", "foo"},
		"displayName": "", "email": ""}}, users["data"])
	members := abMust(t, c, http.StatusOK, "GET", "/iam/v3/admin/roles/"+id+"/members", nil)
	assert.Equal(t, []any{map[string]any{"userId": "888", "namespace": "foo", "displayName": ""}}, members["data"])
	abMust(t, c, http.StatusNoContent, "POST", "/iam/v3/admin/roles/"+id+"/members", map[string]any{
		"members": []any{map[string]any{"userId": "999", "namespace": "bar", "displayName": "ignored"}},
	})
	assert.True(t, c.allowed("999", "bar", "NAMESPACE:bar:USER:999:ORDER", 4))
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v3/admin/roles/"+id+"/members", map[string]any{
		"members": []any{map[string]any{"userId": "999", "namespace": "bar", "displayName": ""}},
	})
	assert.False(t, c.allowed("999", "bar", "NAMESPACE:bar:USER:999:ORDER", 4))

	// Admin status is the role's admin flag.
	abMust(t, c, http.StatusNoContent, "POST", "/iam/v3/admin/roles/"+id+"/admin", nil)
	assert.Equal(t, map[string]any{"adminRole": true}, abMust(t, c, http.StatusOK, "GET", "/iam/v3/admin/roles/"+id+"/admin", nil))
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v3/admin/roles/"+id+"/admin", nil)
	assert.Equal(t, false, abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/roles/"+id, nil)["adminRole"])

	// Schedules are honoured and answered.
	role = abMust(t, c, http.StatusOK, "PUT", "/iam/v4/admin/roles/"+id+"/permissions", map[string]any{
		"permissions": []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": 2,
			"schedAction": 6, "schedCron": "", "schedRange": []string{"2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"}}},
	})
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": float64(2),
		"schedAction": float64(6), "schedCron": "", "schedRange": []any{"2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"}}}, role["permissions"])
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 4), "schedAction applies within schedRange")

	// v3: one permission removed by its path (the resource escaped).
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v3/admin/roles/"+id+"/permissions/"+
		url.PathEscape("NAMESPACE:{namespace}:USER:{userId}:ORDER")+"/2", nil)
	assert.Equal(t, []any{}, abMust(t, c, http.StatusOK, "GET", "/iam/v3/admin/roles/"+id, nil)["permissions"])

	// v3: a user's roles replaced by the list.
	other := abMust(t, c, http.StatusCreated, "POST", "/iam/v3/admin/roles", map[string]any{
		"roleName": "Reader", "adminRole": false, "isWildcard": false, "managers": []any{}, "members": []any{},
		"permissions": []any{map[string]any{"resource": "NAMESPACE:{namespace}:NEWS", "action": 2}},
	})
	assert.Equal(t, []any{}, other["managers"])
	assert.Equal(t, []any{}, other["members"])
	otherID := other["roleId"].(string)
	abMust(t, c, http.StatusNoContent, "PATCH", "/iam/v3/admin/namespaces/foo/users/888/roles",
		[]any{map[string]any{"namespace": "foo", "roleId": otherID}})
	ur = abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/namespaces/foo/users/888/roles", nil)
	require.Len(t, ur["data"], 1, "the list replaced the user's roles: %v", ur)
	assert.Equal(t, otherID, ur["data"].([]any)[0].(map[string]any)["roleId"])
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:foo:NEWS", 2))
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v3/admin/namespaces/foo/users/888/roles", []any{otherID})
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:foo:NEWS", 2))

	// Lists page with AccelByte's links.
	page := abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/roles?limit=2", nil)
	require.Len(t, page["data"], 2)
	next := page["paging"].(map[string]any)["next"].(string)
	assert.Equal(t, "/iam/v4/admin/roles?limit=2&offset=2", next)
	page2 := abMust(t, c, http.StatusOK, "GET", next, nil)
	assert.NotEqual(t, page["data"], page2["data"])
	assert.Equal(t, "/iam/v4/admin/roles?limit=2&offset=0", page2["paging"].(map[string]any)["previous"])
	admins := abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/roles?adminRole=true&isWildcard=true", nil)
	for _, r := range admins["data"].([]any) {
		assert.Equal(t, true, r.(map[string]any)["adminRole"])
		assert.Equal(t, true, r.(map[string]any)["isWildcard"])
	}
	assert.NotEmpty(t, admins["data"], "SuperAdmin and ViewOnly are admin wildcard roles")

	// IAM clients: Grantlog makes the id and the secret, shown once.
	status, h, data := abDo(t, c, "POST", "/iam/v3/admin/namespaces/foo/clients", map[string]any{
		"clientId": "", "clientName": "matchmaker", "namespace": "foo", "secret": "", "oauthClientType": "Confidential",
		"audiences": []string{}, "baseUri": "", "clientPlatform": "", "description": "", "redirectUri": "", "skipLoginQueue": false,
		"clientPermissions": []any{map[string]any{"resource": "ADMIN:NAMESPACE:foo:CLIENT", "action": 2}},
	})
	require.Equal(t, http.StatusCreated, status, "%s", data)
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	var cl map[string]any
	require.NoError(t, json.Unmarshal(data, &cl))
	mm := c.basic(cl["clientId"].(string), cl["clientSecret"].(string))
	got := abMust(t, mm, http.StatusOK, "GET", "/iam/v3/admin/namespaces/foo/clients/"+cl["clientId"].(string), nil)
	assert.Equal(t, "matchmaker", got["clientName"])
	assert.NotContains(t, got, "clientSecret")
	abMust(t, mm, http.StatusForbidden, "DELETE", "/iam/v3/admin/namespaces/foo/clients/"+cl["clientId"].(string), nil)

	// Deletes answer 204 with no body; the role is gone.
	abMust(t, c, http.StatusNoContent, "DELETE", "/iam/v4/admin/roles/"+id, nil)
	abMust(t, c, http.StatusNotFound, "GET", "/iam/v4/admin/roles/"+id, nil)
	_ = srv
}

// TestAccelByteBadInputChangesNothing: bad requests get a clear JSON
// error and append nothing.
func TestAccelByteBadInputChangesNothing(t *testing.T) {
	srv, c := startServer(t, t.TempDir())
	id := abMust(t, c, http.StatusCreated, "POST", "/iam/v4/admin/roles", map[string]any{"roleName": "Base", "adminRole": false, "isWildcard": false})["roleId"].(string)
	before := srv.Store().Applied()
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"missing flags", "POST", "/iam/v4/admin/roles", map[string]any{"roleName": "A"}, 400, "missingField"},
		{"unknown field", "POST", "/iam/v4/admin/roles", `{"roleName":"A","adminRole":false,"isWildcard":false,"bogus":1}`, 400, "malformedJson"},
		{"action 16", "POST", "/iam/v4/admin/roles/" + id + "/permissions", map[string]any{"permissions": []any{map[string]any{"resource": "X", "action": 16}}}, 400, "invalidPermission"},
		{"action 256 does not wrap", "PUT", "/iam/v4/admin/roles/" + id + "/permissions", map[string]any{"permissions": []any{map[string]any{"resource": "X", "action": 258}}}, 400, "invalidPermission"},
		{"bad schedRange", "POST", "/iam/v4/admin/roles/" + id + "/permissions", map[string]any{"permissions": []any{map[string]any{"resource": "X", "action": 2, "schedAction": 4, "schedRange": []string{"yesterday"}}}}, 400, "invalidPermission"},
		{"path action not a number", "DELETE", "/iam/v3/admin/roles/" + id + "/permissions/X/two", nil, 400, "invalidPermission"},
		{"resources not a list", "DELETE", "/iam/v4/admin/roles/" + id + "/permissions", `{"resource":"X"}`, 400, "malformedJson"},
		{"role ids not a list", "DELETE", "/iam/v3/admin/namespaces/foo/users/888/roles", `"` + id + `"`, 400, "malformedJson"},
		{"too many role ids", "DELETE", "/iam/v3/admin/namespaces/foo/users/888/roles", `["` + strings.Repeat(`r","`, 100) + `r"]`, 400, "tooManyItems"},
		{"bad user id", "POST", "/iam/v3/admin/namespaces/foo/users/a:b/roles/" + id, nil, 400, "invalidUserId"},
		{"bad namespace", "GET", "/iam/v4/admin/namespaces/f:o/users/888/roles", nil, 400, "invalidNamespace"},
		{"managers", "POST", "/iam/v3/admin/roles/" + id + "/managers", map[string]any{"managers": []any{map[string]any{"userId": "1", "namespace": "foo", "displayName": ""}}}, 501, "managersNotSupported"},
		{"create with managers", "POST", "/iam/v3/admin/roles", map[string]any{"roleName": "M", "adminRole": false, "isWildcard": false, "managers": []any{map[string]any{"userId": "1", "namespace": "foo", "displayName": ""}}, "members": []any{}, "permissions": []any{}}, 501, "managersNotSupported"},
		{"member without namespace", "POST", "/iam/v3/admin/roles/" + id + "/members", map[string]any{"members": []any{map[string]any{"userId": "1", "displayName": ""}}}, 400, "invalidMember"},
		{"client secret", "POST", "/iam/v3/admin/namespaces/foo/clients", map[string]any{"clientName": "x", "secret": "hunter2"}, 400, "secretNotAccepted"},
		{"client namespace mismatch", "POST", "/iam/v3/admin/namespaces/foo/clients", map[string]any{"clientName": "x", "namespace": "bar"}, 400, "namespaceMismatch"},
		{"before", "GET", "/iam/v3/admin/roles?before=x", nil, 400, "invalidParameter"},
		{"bad flag", "GET", "/iam/v4/admin/roles?adminRole=maybe", nil, 400, "invalidParameter"},
		{"bad limit", "GET", "/iam/v4/admin/roles?limit=0", nil, 400, "invalidLimit"},
		{"unknown role", "GET", "/iam/v4/admin/roles/nope", nil, 404, "roleNotFound"},
		{"unassign missing", "DELETE", "/iam/v3/admin/namespaces/foo/users/888/roles/" + id, nil, 404, "assignmentNotFound"},
		{"wrong method", "PUT", "/iam/v4/admin/roles/" + id, map[string]any{}, 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, data := abDo(t, c, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, status, "%s", data)
			if tc.code == "" {
				return
			}
			var e map[string]any
			require.NoError(t, json.Unmarshal(data, &e), "%s", data)
			assert.Equal(t, tc.code, e["errorCode"], "%s", data)
			assert.NotEmpty(t, e["errorMessage"])
		})
	}
	assert.Equal(t, before, srv.Store().Applied(), "refused requests append nothing")
}

// TestAssignmentPerUser: assigning needs
// ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId} Update (AccelByte's v3
// user-role permission), which a ROLE:USER:* grant covers for every user;
// a grant for one user assigns to that user only.
func TestAssignmentPerUser(t *testing.T) {
	srv, c := startServer(t, t.TempDir())
	id := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Plain"})["roleId"].(string)
	one := abCaller(t, c, "one", []map[string]any{{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:888", "action": 4}})

	abMust(t, one, http.StatusNoContent, "POST", "/iam/v3/admin/namespaces/foo/users/888/roles/"+id, nil)
	abMust(t, one, http.StatusCreated, "POST", "/v1/namespaces/foo/users/888/roles", map[string]any{"roleId": id, "assignedNamespaces": []string{"foo", "bar"}})
	abMust(t, one, http.StatusOK, "DELETE", "/v1/namespaces/foo/users/888/roles/"+id, nil)

	before := srv.Store().Applied()
	abMust(t, one, http.StatusForbidden, "POST", "/iam/v3/admin/namespaces/foo/users/999/roles/"+id, nil)
	abMust(t, one, http.StatusForbidden, "POST", "/v1/namespaces/foo/users/999/roles", map[string]any{"roleId": id, "assignedNamespaces": []string{"foo"}})
	abMust(t, one, http.StatusForbidden, "POST", "/v1/namespaces/bar/users/888/roles", map[string]any{"roleId": id, "assignedNamespaces": []string{"bar"}})
	abMust(t, one, http.StatusForbidden, "POST", "/v1/namespaces/foo/assignments:batch", map[string]any{
		"assignments": []any{map[string]any{"userId": "888", "roleId": id, "assignedNamespaces": []string{"foo"}}},
	})
	assert.Equal(t, before, srv.Store().Applied(), "refused assignments append nothing")

	all := abCaller(t, c, "all", []map[string]any{{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}})
	abMust(t, all, http.StatusCreated, "POST", "/v1/namespaces/foo/users/999/roles", map[string]any{"roleId": id, "assignedNamespaces": []string{"foo"}})
}

// TestAccelByteListsAreAtomic: an AccelByte request that makes several
// changes (members, a user's roles) stores all of them or none.
func TestAccelByteListsAreAtomic(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	role := abMust(t, c, http.StatusCreated, "POST", "/iam/v4/admin/roles", map[string]any{"roleName": "Squad", "adminRole": false, "isWildcard": false})
	id := role["roleId"].(string)
	head := func() any { return c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"] }

	// Members: the second is already gone from the role's namespace list
	// (never assigned), so removing both must remove neither.
	abMust(t, c, http.StatusNoContent, "POST", "/iam/v3/admin/roles/"+id+"/members", map[string]any{
		"members": []any{map[string]any{"userId": "m1", "namespace": "foo"}, map[string]any{"userId": "m2", "namespace": "foo"}},
	})
	before := head()
	abMust(t, c, http.StatusNotFound, "DELETE", "/iam/v3/admin/roles/"+id+"/members", map[string]any{
		"members": []any{map[string]any{"userId": "m1", "namespace": "foo"}, map[string]any{"userId": "m3", "namespace": "foo"}},
	})
	assert.Equal(t, before, head(), "nothing was stored")
	ur := abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/namespaces/foo/users/m1/roles", nil)
	assert.Len(t, ur["data"], 1, "m1 keeps the role: the request failed as a whole")

	// A user's roles (v3 DELETE with a list): one of them not held.
	abMust(t, c, http.StatusNotFound, "DELETE", "/iam/v3/admin/namespaces/foo/users/m2/roles", []string{id, "no-such-role"})
	assert.Equal(t, before, head(), "nothing was stored")
	ur = abMust(t, c, http.StatusOK, "GET", "/iam/v4/admin/namespaces/foo/users/m2/roles", nil)
	assert.Len(t, ur["data"], 1)
}
