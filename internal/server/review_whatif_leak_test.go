package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
)

// TestWhatIfRedactsAsSubjectPermissions (security review): a what-if
// change reveals what a subject holds, so it may reveal no more than
// subject.permissions shows the same caller. A caller holding the check
// right in wgame and the right to unassign there, but neither
// ADMIN:NAMESPACE:wgame:ROLE:USER:* Read (assignments) nor the user's
// token right (NAMESPACE:wgame:USER:u:TOKEN Read), sees u's permissions
// and token withheld by subject.permissions; a what-if of an unassign
// must not list the token (its id and permissions) nor the assignment-
// sourced permissions subject.permissions withholds.
func TestWhatIfRedactsAsSubjectPermissions(t *testing.T) {
	n := startNode(t, server.Config{DataDir: t.TempDir()}, "")
	c := n.c
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "rv-editor", "roleName": "RvEditor",
		"permissions": perms("NAMESPACE:{namespace}:DOC", 6)})
	c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/users/u/roles", map[string]any{"roleId": "rv-editor", "assignedNamespaces": []string{"wgame"}})
	tok := c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/tokens", map[string]any{
		"name": "u-secret-tool", "owner": map[string]any{"type": "user", "id": "u"},
		"permissions": perms("NAMESPACE:wgame:DOC", 2)})
	tokID, _ := tok["tokenId"].(string)
	if tokID == "" {
		tokID, _ = tok["id"].(string)
	}
	require.NotEmpty(t, tokID, "%v", tok)

	cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "rv-checker",
		"permissions": []map[string]any{
			{"resource": "ADMIN:NAMESPACE:wgame:PERMISSION:CHECK", "action": 2},
			{"resource": "ADMIN:NAMESPACE:wgame:ROLE:USER:*", "action": 4 | 8},
		}})
	checker := c.basic(cl["clientId"].(string), cl["clientSecret"].(string))

	// What subject.permissions shows this caller: nothing of u's, nothing
	// of the token's (withheld).
	sp := checker.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/user/u/permissions", nil)
	require.Empty(t, sp["data"], "%v", sp)
	require.Equal(t, true, sp["withheld"], "%v", sp)
	st := checker.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/token/"+tokID+"/permissions", nil)
	require.Empty(t, st["data"], "%v", st)

	out := checker.must(http.StatusOK, "POST", "/v1/whatif", map[string]any{"commands": []any{
		proposed("unassign", map[string]any{"namespace": "wgame", "userId": "u", "roleId": "rv-editor"}),
	}})
	require.Empty(t, out["errors"], "the caller may unassign: %v", out)
	for _, ch := range out["changes"].([]any) {
		m := ch.(map[string]any)
		subj := m["subject"].(map[string]any)
		assert.NotEqual(t, "token", subj["type"], "what-if lists a token subject.permissions withholds (id %v): %s", subj["id"], describeChange(m))
		if subj["type"] == "user" && subj["id"] == "u" {
			assert.Empty(t, m["lost"], "what-if shows permissions subject.permissions withholds: %s", describeChange(m))
		}
	}
}
