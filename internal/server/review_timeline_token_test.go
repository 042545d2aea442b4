package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
)

// TestTimelineRedactsTokensAsSubjectPermissions (security review): a
// token's permissions are shown by subject.permissions only to who may
// read the token (NAMESPACE:{ns}:USER:{owner}:TOKEN Read). A caller with
// the check, audit and assignment-read rights of wgame, but not that one,
// is shown nothing of the token by subject.permissions; its timeline must
// not show the token's permissions either (the timeline counts an entry
// seen when any source is readable, the owner's assignment included).
func TestTimelineRedactsTokensAsSubjectPermissions(t *testing.T) {
	n := startNode(t, server.Config{DataDir: t.TempDir()}, "")
	c := n.c
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "rt-editor", "roleName": "RtEditor",
		"permissions": perms("NAMESPACE:{namespace}:DOC", 6)})
	c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/users/u/roles", map[string]any{"roleId": "rt-editor", "assignedNamespaces": []string{"wgame"}})
	tok := c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/tokens", map[string]any{
		"name": "u-private", "owner": map[string]any{"type": "user", "id": "u"},
		"permissions": perms("NAMESPACE:wgame:DOC", 2)})
	tokID, _ := tok["tokenId"].(string)
	if tokID == "" {
		tokID, _ = tok["id"].(string)
	}
	require.NotEmpty(t, tokID, "%v", tok)

	cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "rt-auditor",
		"permissions": []map[string]any{
			{"resource": "ADMIN:NAMESPACE:wgame:PERMISSION:CHECK", "action": 2},
			{"resource": "ADMIN:NAMESPACE:wgame:AUDIT", "action": 2},
			{"resource": "ADMIN:NAMESPACE:wgame:ROLE:USER:*", "action": 2},
		}})
	auditor := c.basic(cl["clientId"].(string), cl["clientSecret"].(string))

	sp := auditor.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/token/"+tokID+"/permissions", nil)
	require.Empty(t, sp["data"], "subject.permissions withholds the token: %v", sp)

	tl := auditor.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/token/"+tokID+"/timeline", nil)
	for _, e := range tl["data"].([]any) {
		en := e.(map[string]any)
		assert.Empty(t, en["gained"], "the timeline shows the token's permissions subject.permissions withholds: %v", en)
		assert.Empty(t, en["lost"], "%v", en)
	}
}
