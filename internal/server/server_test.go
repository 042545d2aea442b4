package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// startServer runs a server on dir until test cleanup and returns a client
// authenticated with the bootstrap token.
func startServer(t *testing.T, dir string) (*server.Server, *client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	token, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	c := newClient(t, srv.HTTPAddr(), strings.TrimSpace(string(token)))
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	return srv, c
}

func TestBootstrapTokenFile(t *testing.T) {
	dir := t.TempDir()
	_, c := startServer(t, dir)
	fi, err := os.Stat(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s must be mode 0600", auth.BootstrapTokenFile)
	assert.NoFileExists(t, filepath.Join(dir, auth.BootstrapHashFile), "the token's hash is in the event log, not in a file")
	c.must(http.StatusOK, "GET", "/v1/roles", nil)
}

func TestHealthAndAuth(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	anon := newClient(t, strings.TrimPrefix(c.base, "http://"), "")
	out := anon.must(http.StatusOK, "GET", "/healthz", nil)
	assert.Equal(t, "ok", out["status"])
	out = anon.must(http.StatusOK, "GET", "/readyz", nil)
	assert.Equal(t, true, out["ready"])

	out = anon.must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	assert.Equal(t, "unauthorized", out["errorCode"])
	assert.NotEmpty(t, out["errorMessage"])
	bad := newClient(t, strings.TrimPrefix(c.base, "http://"), "glt_wrong")
	out = bad.must(http.StatusUnauthorized, "POST", "/v1/check", map[string]any{})
	assert.Equal(t, "unauthorized", out["errorCode"])
	out = c.must(http.StatusNotFound, "GET", "/v1/nothing-here", nil)
	assert.Equal(t, "notFound", out["errorCode"])
}

// TestWalkthrough is the README's five-minute walkthrough, end to end.
func TestWalkthrough(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	role := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{
		"roleName": "OrderManager", "description": "manages a player's orders",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userid}:ORDER", "action": 6}},
	})
	roleID, _ := role["roleId"].(string)
	require.NotEmpty(t, roleID)
	assert.Equal(t, "OrderManager", role["roleName"])
	assert.Equal(t, false, role["adminRole"])
	assert.Equal(t, false, role["isWildcard"])
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": float64(6)}}, role["permissions"])
	assert.Positive(t, role["revision"])

	out := c.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/888/roles", map[string]any{
		"roleId": roleID, "assignedNamespaces": []string{"foo", "baz"},
	})
	rev := out["revision"].(float64)
	assert.Greater(t, rev, role["revision"].(float64))

	assert.True(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 2))
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:baz:USER:888:ORDER", 4))
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:bar:USER:888:ORDER", 2), "not assigned in bar")
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:999:ORDER", 2), "another user's orders")
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 8), "delete not granted")
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:{namespace}:USER:{userId}:ORDER", 2), "placeholders in the required tag bind to the check")

	out = c.must(http.StatusOK, "POST", "/v1/check", map[string]any{
		"subject": map[string]any{"type": "user", "id": "888"}, "namespace": "foo",
		"resource": "NAMESPACE:baz:USER:888:ORDER", "action": 2, "explain": true, "atLeastRevision": rev,
	})
	assert.Equal(t, true, out["allowed"])
	assert.GreaterOrEqual(t, out["revision"].(float64), rev)
	ex := out["explanation"].(map[string]any)
	grant := ex["grants"].([]any)[0].(map[string]any)
	assert.Equal(t, roleID, grant["roleId"])
	assert.Equal(t, "foo", grant["assignmentNamespace"])
	assert.Equal(t, "NAMESPACE:{namespace}:USER:{userId}:ORDER", grant["permission"].(map[string]any)["resource"])

	// Reads.
	got := c.must(http.StatusOK, "GET", "/v1/roles/"+roleID, nil)
	assert.Equal(t, "OrderManager", got["roleName"])
	list := c.must(http.StatusOK, "GET", "/v1/roles", nil)
	names := []string{}
	for _, r := range list["data"].([]any) {
		names = append(names, r.(map[string]any)["roleName"].(string))
	}
	assert.Equal(t, []string{"GameAdmin", "OrderManager", "SuperAdmin", "User", "ViewOnly"}, names,
		"the four default roles and ours, sorted by name")
	ur := c.must(http.StatusOK, "GET", "/v1/namespaces/foo/users/888/roles", nil)
	require.Len(t, ur["data"], 1)
	assert.Equal(t, roleID, ur["data"].([]any)[0].(map[string]any)["roleId"])
	members := c.must(http.StatusOK, "GET", "/v1/roles/"+roleID+"/members", nil)
	assert.Equal(t, []any{map[string]any{"namespace": "foo", "userId": "888"}}, members["data"])

	// Permission changes.
	upd := c.must(http.StatusOK, "POST", "/v1/roles/"+roleID+"/permissions", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": 8}},
	})
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": float64(14)}}, upd["permissions"])
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 8))
	c.must(http.StatusOK, "DELETE", "/v1/roles/"+roleID+"/permissions", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:ORDER", "action": 8}},
	})
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 8))
	c.must(http.StatusOK, "PUT", "/v1/roles/"+roleID+"/permissions", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:*:USER:{userId}:FRIENDS", "action": 2}},
	})
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:foo:USER:888:ORDER", 2))
	assert.True(t, c.allowed("888", "foo", "NAMESPACE:anywhere:USER:888:FRIENDS", 2))

	// Update, unassign, delete.
	patched := c.must(http.StatusOK, "PATCH", "/v1/roles/"+roleID, map[string]any{"roleName": "FriendReader", "adminRole": true})
	assert.Equal(t, "FriendReader", patched["roleName"])
	assert.Equal(t, true, patched["adminRole"])
	c.must(http.StatusOK, "DELETE", "/v1/namespaces/foo/users/888/roles/"+roleID, nil)
	assert.False(t, c.allowed("888", "foo", "NAMESPACE:anywhere:USER:888:FRIENDS", 2))
	c.must(http.StatusOK, "DELETE", "/v1/roles/"+roleID, nil)
	c.must(http.StatusNotFound, "GET", "/v1/roles/"+roleID, nil)
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	srv, c := startServer(t, t.TempDir())
	role := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Base"})
	roleID := role["roleId"].(string)
	before := srv.Store().Applied()

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"malformed JSON", "POST", "/v1/roles", `{"roleName":`, 400, "malformedJson"},
		{"unknown field", "POST", "/v1/roles", `{"roleName":"A","bogus":1}`, 400, "malformedJson"},
		{"empty body", "POST", "/v1/roles", "", 400, "malformedJson"},
		{"trailing data", "POST", "/v1/roles", `{"roleName":"A"} {}`, 400, "malformedJson"},
		{"non-alphanumeric name", "POST", "/v1/roles", map[string]any{"roleName": "game-admin"}, 400, "invalidRoleName"},
		{"duplicate name", "POST", "/v1/roles", map[string]any{"roleName": "base"}, 409, "duplicateRoleName"},
		{"bad tag", "POST", "/v1/roles", map[string]any{"roleName": "A", "permissions": []map[string]any{{"resource": "NAMESPACE:{game}:X", "action": 1}}}, 400, "invalidPermission"},
		{"action 0", "POST", "/v1/roles/" + roleID + "/permissions", map[string]any{"permissions": []map[string]any{{"resource": "X", "action": 0}}}, 400, "invalidPermission"},
		{"action 16", "PUT", "/v1/roles/" + roleID + "/permissions", map[string]any{"permissions": []map[string]any{{"resource": "X", "action": 16}}}, 400, "invalidPermission"},
		{"action as string", "PUT", "/v1/roles/" + roleID + "/permissions", `{"permissions":[{"resource":"X","action":"15"}]}`, 400, "malformedJson"},
		{"no permissions field", "POST", "/v1/roles/" + roleID + "/permissions", `{}`, 400, "invalidPermission"},
		{"unknown role", "PATCH", "/v1/roles/nope", map[string]any{"description": "x"}, 404, "roleNotFound"},
		{"empty update", "PATCH", "/v1/roles/" + roleID, map[string]any{}, 400, "emptyUpdate"},
		{"unknown role delete", "DELETE", "/v1/roles/nope", nil, 404, "roleNotFound"},
		{"unknown role get", "GET", "/v1/roles/nope", nil, 404, "roleNotFound"},
		{"assign unknown role", "POST", "/v1/namespaces/foo/users/u1/roles", map[string]any{"roleId": "nope", "assignedNamespaces": []string{"foo"}}, 404, "roleNotFound"},
		{"assign without role", "POST", "/v1/namespaces/foo/users/u1/roles", map[string]any{"assignedNamespaces": []string{"foo"}}, 400, "invalidRoleId"},
		{"assign without namespaces", "POST", "/v1/namespaces/foo/users/u1/roles", map[string]any{"roleId": roleID}, 400, "invalidAssignedNamespaces"},
		{"assign bad namespace", "POST", "/v1/namespaces/foo/users/u1/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"a:b"}}, 400, "invalidAssignedNamespaces"},
		{"unassign missing", "DELETE", "/v1/namespaces/foo/users/u1/roles/" + roleID, nil, 404, "assignmentNotFound"},
		{"check bad tag", "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "user", "id": "u1"}, "namespace": "foo", "resource": "A::B", "action": 2}, 400, "invalidResource"},
		{"check action 0", "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "user", "id": "u1"}, "namespace": "foo", "resource": "A", "action": 0}, 400, "invalidAction"},
		{"check bad subject", "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "robot", "id": "u1"}, "namespace": "foo", "resource": "A", "action": 2}, 400, "invalidSubject"},
		{"check no namespace", "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "user", "id": "u1"}, "resource": "A", "action": 2}, 400, "invalidNamespace"},
		{"bad limit", "GET", "/v1/roles?limit=0", nil, 400, "invalidLimit"},
		{"bad revision", "GET", "/v1/roles?atLeastRevision=-1", nil, 400, "invalidRevision"},
		{"oversized", "POST", "/v1/roles", `{"roleName":"A","description":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "requestTooLarge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := c.must(tc.status, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.code, out["errorCode"])
			assert.NotEmpty(t, out["errorMessage"])
		})
	}
	assert.Equal(t, before, srv.Store().Applied(), "refused requests must append nothing")
}

func TestAtLeastRevisionNotYet(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		MaxWait: 200 * time.Millisecond, Logger: testutil.Quiet})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	token, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	c := newClient(t, srv.HTTPAddr(), strings.TrimSpace(string(token)))
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)

	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "A"})
	applied := float64(srv.Store().Applied())
	start := time.Now()
	out := c.must(http.StatusServiceUnavailable, "POST", "/v1/check", map[string]any{
		"subject": map[string]any{"type": "user", "id": "u1"}, "namespace": "foo", "resource": "A", "action": 2,
		"atLeastRevision": 1000,
	})
	assert.Equal(t, "revisionNotYetApplied", out["errorCode"])
	assert.InDelta(t, applied, out["revision"], 0, "the 503 carries the replica's revision")
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "waits for the bound before answering")
	out = c.must(http.StatusServiceUnavailable, "GET", "/v1/roles?atLeastRevision=500", nil)
	assert.Equal(t, "revisionNotYetApplied", out["errorCode"])
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	var roleID, token, clientID, clientSecret string
	var answers []bool
	var applied uint64
	checks := [][3]string{
		{"u1", "g1", "NAMESPACE:g1:ITEM"}, {"u1", "g2", "NAMESPACE:g2:ITEM"}, {"u2", "g1", "NAMESPACE:g1:ITEM"},
	}
	t.Run("first run", func(t *testing.T) {
		srv, c := startServer(t, dir)
		out := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Item",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:ITEM", "action": 15}}})
		roleID = out["roleId"].(string)
		c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u1/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"g1"}})
		for _, ck := range checks {
			answers = append(answers, c.allowed(ck[0], ck[1], ck[2], 2))
		}
		assert.Equal(t, []bool{true, false, false}, answers)
		// Every kind of object survives a restart: clients, tokens, scopes, endpoints.
		cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/clients", map[string]any{"clientName": "bot",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:ITEM", "action": 2}}})
		clientID, clientSecret = cl["clientId"].(string), cl["clientSecret"].(string)
		c.must(http.StatusOK, "PUT", "/v1/scopes/items:read", map[string]any{"description": "read items",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:ITEM", "action": 2}}})
		c.must(http.StatusOK, "PUT", "/v1/endpoints/shop/GetItem", map[string]any{"method": "GET", "path": "/items/{id}",
			"resource": "NAMESPACE:{namespace}:ITEM", "action": 2})
		tok := c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/tokens", map[string]any{"name": "u1-items",
			"owner": map[string]any{"type": "user", "id": "u1"}, "scopes": []string{"items:read"}})
		token = tok["token"].(string)
		applied = srv.Store().Applied()
	})
	t.Run("second run", func(t *testing.T) {
		srv, c := startServer(t, dir)
		assert.Equal(t, applied, srv.Store().Applied(), "nothing applied twice, nothing lost; no second bootstrap")
		tokenCheck := map[string]any{"subject": map[string]any{"type": "token", "token": token}, "namespace": "g1",
			"endpoint": map[string]any{"service": "shop", "name": "GetItem"}}
		assert.True(t, c.check(tokenCheck), "the token, the scope it was issued with and the endpoint survive")
		tokenCheck["endpoint"] = map[string]any{"service": "shop", "name": "GetItem", "params": map[string]any{"namespace": "g2"}}
		assert.False(t, c.check(tokenCheck), "endpoint params bind the template's {namespace}")
		c.basic(clientID, clientSecret).must(http.StatusForbidden, "GET", "/v1/roles", nil)
		assert.True(t, c.check(map[string]any{"subject": map[string]any{"type": "client", "id": clientID}, "namespace": "g1",
			"resource": "NAMESPACE:g1:ITEM", "action": 2}))
		for i, ck := range checks {
			assert.Equal(t, answers[i], c.allowed(ck[0], ck[1], ck[2], 2), "check %v after restart", ck)
		}
		c.must(http.StatusOK, "GET", "/v1/roles/"+roleID, nil)
		// The OCC state survived too: new commands append after the old head.
		out := c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u2/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"g1"}})
		assert.InDelta(t, applied+1, out["revision"], 0)
	})
}

func TestBatchCheckHTTP(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	role := c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Doc",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 2}}})
	out := c.must(http.StatusCreated, "POST", "/v1/namespaces/g/users/u/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"g"}})
	user := map[string]any{"type": "user", "id": "u"}
	res := c.must(http.StatusOK, "POST", "/v1/checks", map[string]any{"atLeastRevision": out["revision"], "checks": []map[string]any{
		{"subject": user, "namespace": "g", "resource": "NAMESPACE:g:DOC", "action": 2},
		{"subject": user, "namespace": "g", "resource": "NAMESPACE:h:DOC", "action": 2},
		{"subject": user, "namespace": "g", "resource": "A::B", "action": 2},
	}})
	results := res["results"].([]any)
	require.Len(t, results, 3)
	assert.Equal(t, true, results[0].(map[string]any)["allowed"])
	assert.Equal(t, false, results[1].(map[string]any)["allowed"])
	assert.Equal(t, "invalidResource", results[2].(map[string]any)["errorCode"], "a bad check is refused in place")
	for _, r := range results[:2] {
		assert.Equal(t, res["revision"], r.(map[string]any)["revision"], "one revision for the whole batch")
	}
}
