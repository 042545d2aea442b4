package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyed sends a request with an Idempotency-Key header and returns the
// status and decoded JSON answer.
func (c *client) keyed(key, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&out), "answer of %s %s is not JSON", method, path)
	return resp.StatusCode, out
}

// TestIdempotencyKeyIsScopedToTheCaller: an Idempotency-Key belongs to its
// caller. Mallory, who may revoke only her own token, sends a command with
// key K first; the admin's revocation of bob's (leaked) token with the same
// key K must still be stored and answered with its own revision, and bob's
// token must stop working. A caller's key retried with the same request is
// answered with its one event; with another request, 422
// idempotencyKeyReused and nothing is stored.
func TestIdempotencyKeyIsScopedToTheCaller(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	ownTokens := []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:TOKEN", "action": 15}}
	self := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Self", "permissions": ownTokens})
	issue := func(user string) (id, secret string) {
		root.must(http.StatusCreated, "POST", "/v1/namespaces/g/users/"+user+"/roles",
			map[string]any{"roleId": self["roleId"], "assignedNamespaces": []string{"g"}})
		tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/g/tokens", map[string]any{"name": user,
			"owner": map[string]any{"type": "user", "id": user}, "permissions": ownTokens})
		return tok["tokenId"].(string), tok["token"].(string)
	}
	malloryTok, mallorySecret := issue("mallory")
	bobTok, bobSecret := issue("bob")
	mallory, bob := root.as(mallorySecret), root.as(bobSecret)
	require.NotEqual(t, http.StatusUnauthorized, func() int { s, _ := bob.do("GET", "/v1/namespaces/g/tokens", nil); return s }())
	status, _ := mallory.keyed("other", "DELETE", "/v1/namespaces/g/tokens/"+bobTok, nil)
	require.Equal(t, http.StatusForbidden, status, "mallory may not revoke bob's token")

	const key = "shared-key"
	status, out := mallory.keyed(key, "DELETE", "/v1/namespaces/g/tokens/"+malloryTok, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	malloryRev := out["revision"].(float64)

	status, out = root.keyed(key, "DELETE", "/v1/namespaces/g/tokens/"+bobTok, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	adminRev := out["revision"].(float64)
	assert.NotEqual(t, malloryRev, adminRev, "the admin's revocation was answered with mallory's revision")
	assert.Equal(t, uint64(adminRev), streamHead(t, srv), "the admin's revocation is the stream's last event")
	status, _ = bob.do("GET", "/v1/namespaces/g/tokens", nil)
	assert.Equal(t, http.StatusUnauthorized, status, "bob's revoked token still works")

	// Same caller, same key, same request: one event, the same revision.
	assign := map[string]any{"roleId": self["roleId"], "assignedNamespaces": []string{"g"}}
	status, out = root.keyed("assign-carol", "POST", "/v1/namespaces/g/users/carol/roles", assign)
	require.Equal(t, http.StatusCreated, status, "%v", out)
	carolRev := out["revision"].(float64)
	head := streamHead(t, srv)
	status, out = root.keyed("assign-carol", "POST", "/v1/namespaces/g/users/carol/roles", assign)
	require.Equal(t, http.StatusCreated, status, "%v", out)
	assert.InDelta(t, carolRev, out["revision"], 0, "a retry is answered with the revision of its one event")
	assert.Equal(t, head, streamHead(t, srv), "a retry appends nothing")

	// Same caller, same key, another request: refused, nothing appended.
	for _, tc := range []struct{ key, path string }{
		{"assign-carol", "/v1/namespaces/g/users/dave/roles"},
		{"assign-carol", "/v1/namespaces/h/users/carol/roles"},
		{key, "/v1/namespaces/g/users/erin/roles"},
	} {
		status, out = root.keyed(tc.key, "POST", tc.path, assign)
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%s with key %s: %v", tc.path, tc.key, out)
		assert.Equal(t, "idempotencyKeyReused", out["errorCode"], "%s with key %s", tc.path, tc.key)
		assert.Contains(t, out["errorMessage"], tc.key)
	}
	assert.Equal(t, head, streamHead(t, srv), "a reused key appends nothing")
}
