package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWhatIfCLI: grantlog whatif -f commands.json prints the server's
// what-if answer (the diff and the refused commands) and changes nothing.
func TestWhatIfCLI(t *testing.T) {
	url, tokenFile := startNode(t)
	e := newCLIEnv(t)
	e.ok("context", "add", "local", "--url", url, "--token-file", tokenFile)
	e.ok("context", "use", "local")
	e.ok("role", "create", "CliWi", "--permission", "NAMESPACE:{namespace}:DOC=6")
	e.ok("assign", "--namespace", "g1", "--user", "u1", "--role", "CliWi", "--in", "g1")
	before := e.ok("export")
	var role struct {
		RoleID string `json:"roleId"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.ok("role", "get", "CliWi", "-o", "json")), &role))
	roleID := role.RoleID
	file := writeFile(t, "commands.json", `{"commands": [
  {"name": "role.permissions.remove", "request": {"roleId": "ROLE", "permissions": [{"resource": "NAMESPACE:{namespace}:DOC", "action": 4}]}},
  {"name": "assign", "request": {"namespace": "g1", "userId": "u2", "roleId": "nope", "assignedNamespaces": ["g1"]}}
]}`)
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(raw), "ROLE", roleID, 1)), 0o600))
	out := e.ok("whatif", "-f", file)
	for _, want := range []string{`"NAMESPACE:g1:DOC"`, `"lost"`, `"u1"`, `"roleNotFound"`, `"index":1`} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, before, e.ok("export"), "a what-if changes nothing")
}
