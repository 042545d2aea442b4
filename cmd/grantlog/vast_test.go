package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenIssueVastPermissionFile: grantlog token issue
// --vast-permission-file perms.json --param 100 --param 200 behaves as
// `vastai create api-key --permission_file perms.json` documents: the key
// reads the logs of instances 100..200 and nothing else.
func TestTokenIssueVastPermissionFile(t *testing.T) {
	url, tokenFile := startNode(t)
	tok, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	post := func(path string, body any) map[string]any {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Less(t, resp.StatusCode, 300, "%s: %v", path, out)
		return out
	}
	role := post("/v1/roles", map[string]any{"roleName": "VastUser", "permissions": []any{map[string]any{"resource": "NAMESPACE:{namespace}:*", "action": 15}}})
	post("/v1/namespaces/vast/users/alice/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"vast"}})

	e := newCLIEnv(t)
	e.ok("context", "add", "local", "--url", url, "--token-file", tokenFile)
	perms := filepath.Join(t.TempDir(), "perms.json")
	require.NoError(t, os.WriteFile(perms, []byte(`{"api": {"misc": {}, "billing_read": {},
  "instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}`), 0o600))

	out := e.ok("token", "issue", "--namespace", "vast", "--json", `{"name": "logs", "owner": {"type": "user", "id": "alice"}}`,
		"--vast-permission-file", perms, "--param", "100", "--param", "200", "-o", "json")
	var issued struct {
		Token       string `json:"token"`
		Permissions []struct {
			Resource    string         `json:"resource"`
			Constraints map[string]any `json:"constraints"`
		} `json:"permissions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &issued))
	require.NotEmpty(t, issued.Token)
	var logs map[string]any
	for _, p := range issued.Permissions {
		if strings.HasSuffix(p.Resource, ":INSTANCE:LOGS") {
			logs = p.Constraints
		}
	}
	assert.Equal(t, map[string]any{"id": map[string]any{"gte": 100.0, "lte": 200.0}}, logs, "params filled as numbers")

	check := func(id string) int {
		code, _, _ := e.run(nil, "check", "--namespace", "vast", "--token", issued.Token,
			"--attr", "id="+id, "NAMESPACE:vast:USER:alice:INSTANCE:LOGS", "R")
		return code
	}
	for _, id := range []string{"100", "150", "200"} {
		assert.Equal(t, 0, check(id), "id %s allowed", id)
	}
	for _, id := range []string{"99", "201", "abc"} {
		assert.Equal(t, 1, check(id), "id %s denied", id)
	}

	// Refusals say what is wrong.
	code, _, errOut := e.run(nil, "token", "issue", "--namespace", "vast", "--json", `{"name": "x"}`,
		"--vast-permission-file", perms, "--param", "100")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "$2")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"api": {"gpu_read": {}}}`), 0o600))
	code, _, errOut = e.run(nil, "token", "issue", "--namespace", "vast", "--json", `{"name": "x"}`, "--vast-permission-file", bad)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `unknown category "gpu_read"`)
	require.NoError(t, os.WriteFile(bad, []byte(`{"api": `), 0o600))
	code, _, errOut = e.run(nil, "token", "issue", "--namespace", "vast", "--json", `{"name": "x"}`, "--vast-permission-file", bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "not JSON")
}
