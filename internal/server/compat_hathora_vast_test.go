package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawDo sends body as JSON and returns the status and the answer as is
// (Hathora's revoke answers a bare true).
func (c *client) rawDo(method, path string, body any) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(out)
}

func tokenAllowed(c *client, secret, ns, resource string, action int, attrs map[string]any) bool {
	c.t.Helper()
	req := map[string]any{"subject": map[string]any{"type": "token", "token": secret}, "namespace": ns,
		"resource": resource, "action": action}
	if attrs != nil {
		req["attributes"] = attrs
	}
	status, out := c.do("POST", "/v1/check", req)
	if status != http.StatusOK {
		return false
	}
	allowed, _ := out["allowed"].(bool)
	return allowed
}

// TestHathoraTokenAPI: Hathora's own token calls, answered by Grantlog with
// Hathora's JSON: create (the plaintext once) -> list (no secret) -> the
// token allowed exactly its scopes -> revoke -> refused; a creator never
// gives more than it holds; a caller without the rights changes nothing.
func TestHathoraTokenAPI(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	const org = "org-6f706e83"
	// Before Hathora's scope catalog is loaded, the error says how to load it.
	st, out := root.do("POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "early", "scopes": []string{"builds:read"}})
	assert.Equal(t, http.StatusBadRequest, st, "%v", out)
	assert.Equal(t, "unknownScope", out["errorCode"])
	assert.Contains(t, out["errorMessage"], "POST /v1/catalogs/scopes/hathora")
	root.must(http.StatusOK, "POST", "/v1/catalogs/scopes/hathora", nil)

	// dev may read builds and manage its own tokens; viewer only reads builds.
	role := root.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "OrgDev", "permissions": []obj{
		{"resource": "NAMESPACE:{namespace}:BUILD", "action": 2},
		{"resource": "NAMESPACE:{namespace}:USER:{userId}:TOKEN", "action": 15},
	}})
	viewerRole := root.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "OrgViewer", "permissions": []obj{
		{"resource": "NAMESPACE:{namespace}:BUILD", "action": 2},
	}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/"+org+"/users/dev/roles", obj{"roleId": role["roleId"], "assignedNamespaces": []string{org}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/"+org+"/users/viewer/roles", obj{"roleId": viewerRole["roleId"], "assignedNamespaces": []string{org}})
	devTok := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+org+"/tokens", obj{"name": "dev-login", "owner": obj{"type": "user", "id": "dev"},
		"permissions": role["permissions"]})
	viewerTok := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+org+"/tokens", obj{"name": "viewer-login", "owner": obj{"type": "user", "id": "viewer"},
		"permissions": viewerRole["permissions"]})
	dev, viewer := root.as(devTok["token"].(string)), root.as(viewerTok["token"].(string))

	// Create, as Hathora's SDK sends it.
	created := dev.must(http.StatusCreated, "POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "ci-token", "scopes": []string{"builds:read"}})
	plain, _ := created["plainTextToken"].(string)
	require.True(t, strings.HasPrefix(plain, "gltk_"), "plainTextToken: %v", created)
	ot := created["orgToken"].(map[string]any)
	assert.Equal(t, org, ot["orgId"])
	assert.Equal(t, "ci-token", ot["name"])
	assert.Equal(t, "active", ot["status"])
	assert.Equal(t, []any{"builds:read"}, ot["scopes"])
	assert.Equal(t, plain[len(plain)-4:], ot["lastFourCharsOfKey"])
	assert.Equal(t, "dev", ot["createdBy"], "the user the creating token acts for")
	assert.NotEmpty(t, ot["createdAt"])
	id := ot["orgTokenId"].(string)

	// List: Hathora's ListOrgTokens, with no secret anywhere.
	status, raw := dev.rawDo("GET", "/tokens/v1/orgs/"+org, nil)
	require.Equal(t, http.StatusOK, status, raw)
	assert.NotContains(t, raw, plain)
	assert.NotContains(t, raw, plain[5:])
	assert.NotContains(t, raw, "gltk_")
	assert.NotContains(t, strings.ToLower(raw), "secret")
	var list struct {
		Tokens []map[string]any `json:"tokens"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &list))
	var found map[string]any
	for _, tk := range list.Tokens {
		if tk["orgTokenId"] == id {
			found = tk
		}
	}
	require.NotNil(t, found, "the new token is listed: %s", raw)
	for _, k := range []string{"orgTokenId", "orgId", "name", "status", "createdBy", "createdAt", "lastFourCharsOfKey", "scopes"} {
		assert.Contains(t, found, k)
	}
	assert.Equal(t, []any{"builds:read"}, found["scopes"])

	// Check with the token: the scope it has, not one it lacks.
	assert.True(t, tokenAllowed(root, plain, org, "NAMESPACE:"+org+":BUILD", 2, nil))
	assert.False(t, tokenAllowed(root, plain, org, "NAMESPACE:"+org+":BUILD", 1, nil), "builds:read does not create")
	assert.False(t, tokenAllowed(root, plain, org, "NAMESPACE:"+org+":DEPLOYMENT", 2, nil))
	assert.False(t, tokenAllowed(root, plain, "org-other", "NAMESPACE:org-other:BUILD", 2, nil), "scoped to its org")

	// A token never holds more than its creator: refused, nothing changed.
	for _, body := range []obj{
		{"name": "too-much", "scopes": []string{"builds:read-write"}},
		{"name": "admin", "scopes": "admin"},
		{"name": "admin-by-default"},
	} {
		st, out := dev.do("POST", "/tokens/v1/orgs/"+org+"/create", body)
		assert.Equal(t, http.StatusForbidden, st, "%v: %v", body, out)
	}
	// Bad input: clear 400s.
	for _, tc := range []struct {
		body obj
		code string
	}{
		{obj{"name": "x", "scopes": []string{"tickets:read"}}, "unknownScope"},
		{obj{"name": "x", "scopes": "root"}, ""},
		{obj{"name": "", "scopes": []string{"builds:read"}}, "invalidName"},
		{obj{"name": "x", "scopes": []string{}}, "invalidScope"},
	} {
		st, out := dev.do("POST", "/tokens/v1/orgs/"+org+"/create", tc.body)
		assert.Equal(t, http.StatusBadRequest, st, "%v: %v", tc.body, out)
		if tc.code != "" {
			assert.Equal(t, tc.code, out["errorCode"], "%v", tc.body)
		}
	}

	// expiresAt: kept and shown; one in the past is refused.
	exp := dev.must(http.StatusCreated, "POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "short", "scopes": []string{"builds:read"},
		"expiresAt": "2099-01-01T00:00:00Z"})
	assert.Equal(t, "2099-01-01T00:00:00Z", exp["orgToken"].(map[string]any)["expiresAt"])
	st, out = dev.do("POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "past", "scopes": []string{"builds:read"}, "expiresAt": "2001-01-01T00:00:00Z"})
	assert.Equal(t, http.StatusBadRequest, st, "%v", out)
	assert.Equal(t, "invalidExpiry", out["errorCode"])
	st, _ = dev.rawDo("POST", "/tokens/v1/orgs/"+org+"/tokens/"+exp["orgToken"].(map[string]any)["orgTokenId"].(string)+"/revoke", nil)
	require.Equal(t, http.StatusOK, st)

	// A caller without the rights: refused, nothing changed.
	st, out = viewer.do("POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "v", "scopes": []string{"builds:read"}})
	assert.Equal(t, http.StatusForbidden, st, "%v", out)
	st, rawRevoke := viewer.rawDo("POST", "/tokens/v1/orgs/"+org+"/tokens/"+id+"/revoke", nil)
	assert.Equal(t, http.StatusForbidden, st, rawRevoke)
	assert.True(t, tokenAllowed(root, plain, org, "NAMESPACE:"+org+":BUILD", 2, nil), "the viewer's revoke changed nothing")
	viewerList := viewer.must(http.StatusOK, "GET", "/tokens/v1/orgs/"+org, nil)
	assert.NotContains(t, mustJSON(t, viewerList), id, "the viewer may not see dev's tokens")
	after := dev.must(http.StatusOK, "GET", "/tokens/v1/orgs/"+org, nil)
	assert.Len(t, after["tokens"], len(list.Tokens), "refused creates changed nothing")

	// Revoke: Hathora answers true; the token is refused from then on.
	st, rawRevoke = dev.rawDo("POST", "/tokens/v1/orgs/"+org+"/tokens/"+id+"/revoke", nil)
	require.Equal(t, http.StatusOK, st, rawRevoke)
	assert.JSONEq(t, "true", rawRevoke)
	assert.False(t, tokenAllowed(root, plain, org, "NAMESPACE:"+org+":BUILD", 2, nil))
	st, out = root.as(plain).do("GET", "/tokens/v1/orgs/"+org, nil)
	assert.Equal(t, http.StatusUnauthorized, st, "a revoked token authenticates nothing: %v", out)
	st, rawRevoke = dev.rawDo("POST", "/tokens/v1/orgs/"+org+"/tokens/"+id+"/revoke", nil)
	assert.Equal(t, http.StatusNotFound, st, rawRevoke)

	// The OpenAPI document lists Hathora's paths.
	st, doc := root.rawDo("GET", "/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, st)
	for _, p := range []string{"/tokens/v1/orgs/{orgId}/create", "/tokens/v1/orgs/{orgId}", "/tokens/v1/orgs/{orgId}/tokens/{orgTokenId}/revoke"} {
		assert.Contains(t, doc, `"`+p+`"`)
	}

	// The org's admin (here the bootstrap credential) may create an admin token.
	adm := root.must(http.StatusCreated, "POST", "/tokens/v1/orgs/"+org+"/create", obj{"name": "admin-token"})
	assert.Equal(t, "admin", adm["orgToken"].(map[string]any)["scopes"])
	admPlain := adm["plainTextToken"].(string)
	assert.True(t, tokenAllowed(root, admPlain, org, "NAMESPACE:"+org+":DEPLOYMENT", 3, nil))
	assert.True(t, tokenAllowed(root, admPlain, org, "NAMESPACE:"+org+":BILLING", 6, nil))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestVastPermissionFile: a token issued with Vast.ai's permission document
// and params 100, 200 allows instance ids 100..200 (numbers and numeric
// strings) and nothing else; unknown categories, endpoints, operators and
// unbound params are refused and change nothing.
func TestVastPermissionFile(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	const ns = "vast"
	role := root.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "VastUser", "permissions": []obj{
		{"resource": "NAMESPACE:{namespace}:*", "action": 15},
	}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/users/alice/roles", obj{"roleId": role["roleId"], "assignedNamespaces": []string{ns}})
	doc := json.RawMessage(`{"api": {"misc": {}, "billing_read": {}, "instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}`)
	issued := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/tokens", obj{"name": "logs", "owner": obj{"type": "user", "id": "alice"},
		"vastPermissions": doc, "params": []any{"100", 200}})
	secret := issued["token"].(string)
	logs := "NAMESPACE:vast:USER:alice:INSTANCE:LOGS"
	for _, id := range []any{100, 150, 200, "100", "150", "200", 150.5} {
		assert.True(t, tokenAllowed(root, secret, ns, logs, 2, map[string]any{"id": id}), "id %v", id)
	}
	for _, id := range []any{99, 201, "99", "201", "abc", "", -150, 1e9} {
		assert.False(t, tokenAllowed(root, secret, ns, logs, 2, map[string]any{"id": id}), "id %v", id)
	}
	assert.False(t, tokenAllowed(root, secret, ns, logs, 2, nil), "no id: denied")
	assert.False(t, tokenAllowed(root, secret, ns, logs, 4, map[string]any{"id": 150}), "read only")
	assert.False(t, tokenAllowed(root, secret, ns, "NAMESPACE:vast:USER:alice:INSTANCE", 2, map[string]any{"id": 150}),
		"only the request_logs endpoint of instance_read")
	assert.True(t, tokenAllowed(root, secret, ns, "NAMESPACE:vast:USER:alice:BILLING", 2, nil), "billing_read: {}")
	assert.True(t, tokenAllowed(root, secret, ns, "NAMESPACE:vast:OFFER", 2, nil), "misc: {}")
	assert.False(t, tokenAllowed(root, secret, ns, "NAMESPACE:vast:USER:alice:BILLING", 4, nil), "no billing_write")

	// Refusals: clear errors, nothing issued.
	before := root.must(http.StatusOK, "GET", "/v1/namespaces/"+ns+"/tokens", nil)
	for _, tc := range []struct {
		name   string
		doc    string
		params []any
		code   string
		says   string
	}{
		{"unknown category", `{"api": {"gpu_read": {}}}`, nil, "invalidVastPermissions", "unknown category"},
		{"unknown endpoint", `{"api": {"instance_read": {"api.instance.nope": {}}}}`, nil, "invalidVastPermissions", "api.instance.request_logs"},
		{"endpoint of another category", `{"api": {"billing_read": {"api.instance.request_logs": {}}}}`, nil, "invalidVastPermissions", "instance_read"},
		{"unknown operator", `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"between": [1, 2]}}}}}}`, nil, "invalidVastPermissions", "unknown operator"},
		{"not under api", `{"instance_read": {}}`, nil, "invalidVastPermissions", `"api"`},
		{"unbound param", string(doc), []any{"100"}, "invalidPermission", "$2"},
		{"param not a number", string(doc), []any{"100", "two hundred"}, "invalidPermission", "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := obj{"name": "bad", "owner": obj{"type": "user", "id": "alice"}, "vastPermissions": json.RawMessage(tc.doc)}
			if tc.params != nil {
				body["params"] = tc.params
			}
			st, out := root.do("POST", "/v1/namespaces/"+ns+"/tokens", body)
			assert.Equal(t, http.StatusBadRequest, st, "%v", out)
			assert.Equal(t, tc.code, out["errorCode"])
			assert.Contains(t, out["errorMessage"], tc.says)
		})
	}
	after := root.must(http.StatusOK, "GET", "/v1/namespaces/"+ns+"/tokens", nil)
	assert.Len(t, after["data"], len(before["data"].([]any)))

	// A caller without the rights is refused: alice's own token may not
	// issue (it holds no TOKEN permission of alice's... it does, through
	// NAMESPACE:{namespace}:*; so use a narrower caller).
	low := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/tokens", obj{"name": "low", "owner": obj{"type": "user", "id": "alice"},
		"permissions": []obj{{"resource": "NAMESPACE:{namespace}:OFFER", "action": 2}}})
	st, out := root.as(low["token"].(string)).do("POST", "/v1/namespaces/"+ns+"/tokens", obj{"name": "x", "vastPermissions": doc, "params": []any{100, 200}})
	assert.Equal(t, http.StatusForbidden, st, "%v", out)
}
