package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/audit"
)

// readEffects reads the permission-change feed until it has delivered an
// effect of revision upTo or later.
func readEffects(t *testing.T, c *client, query string, upTo float64) []audit.Effect {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/audit/effects?"+query, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out []audit.Effect
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e audit.Effect
		require.NoError(t, json.Unmarshal([]byte(data), &e))
		out = append(out, e)
		if float64(e.Revision) >= upTo {
			return out
		}
	}
	t.Fatalf("the feed ended before revision %v: %v", upTo, sc.Err())
	return nil
}

// effectsAt returns the effects of one revision.
func effectsAt(all []audit.Effect, rev float64) []audit.Effect {
	var out []audit.Effect
	for _, e := range all {
		if float64(e.Revision) == rev {
			out = append(out, e)
		}
	}
	return out
}

// TestPermissionChangeFeed: the feed's gains and losses match what checks
// answer before and after each change, and a role edit is one effect
// naming the role (expandable to its members), never one per member.
func TestPermissionChangeFeed(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	doc := func(user string) bool {
		return root.allowed(user, "g1", "NAMESPACE:g1:DOC", 2)
	}
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Reader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 2}}})
	roleID := role["roleId"].(string)
	assert.False(t, doc("alice"))
	assigned := root.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/alice/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"g1"}})["revision"].(float64)
	assert.True(t, doc("alice"))
	root.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/bob/roles", map[string]any{"roleId": roleID, "assignedNamespaces": []string{"g1"}})
	removed := root.must(http.StatusOK, "DELETE", "/v1/roles/"+roleID+"/permissions", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 0}}})["revision"].(float64)
	assert.False(t, doc("alice"))
	assert.False(t, doc("bob"))
	added := root.must(http.StatusOK, "POST", "/v1/roles/"+roleID+"/permissions", map[string]any{
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 6}}})["revision"].(float64)
	assert.True(t, doc("bob"))
	tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/g1/tokens", map[string]any{"name": "t",
		"owner": map[string]any{"type": "user", "id": "alice"}, "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 2}}})
	revoked := root.must(http.StatusOK, "DELETE", "/v1/namespaces/g1/tokens/"+tok["tokenId"].(string), nil)["revision"].(float64)
	unassigned := root.must(http.StatusOK, "DELETE", "/v1/namespaces/g1/users/alice/roles/"+roleID, nil)["revision"].(float64)
	assert.False(t, doc("alice"))

	all := readEffects(t, root, "expand=members", unassigned)

	a := effectsAt(all, assigned)
	require.Len(t, a, 1)
	assert.Equal(t, audit.Gained, a[0].Change)
	assert.Equal(t, "alice", a[0].Subject.ID)
	assert.Equal(t, roleID, a[0].Role.RoleID)
	assert.Equal(t, []string{"g1"}, a[0].Namespaces)
	assert.Equal(t, "NAMESPACE:{namespace}:DOC", a[0].Permission.Resource)

	r := effectsAt(all, removed)
	require.Len(t, r, 1, "a role edit is one effect, not one per member")
	assert.Equal(t, audit.Lost, r[0].Change)
	assert.Nil(t, r[0].Subject)
	assert.Equal(t, "Reader", r[0].Role.RoleName)
	assert.EqualValues(t, 2, r[0].Permission.Action)
	require.Len(t, r[0].Members, 1, "expanded on request to the role's members (as of now: alice has been unassigned)")
	assert.Equal(t, "bob", r[0].Members[0].UserID)

	ad := effectsAt(all, added)
	require.Len(t, ad, 1)
	assert.Equal(t, audit.Gained, ad[0].Change)
	assert.EqualValues(t, 6, ad[0].Permission.Action)

	tk := effectsAt(all, revoked)
	require.Len(t, tk, 1)
	assert.Equal(t, audit.Lost, tk[0].Change)
	assert.Equal(t, "token", tk[0].Subject.Type)

	u := effectsAt(all, unassigned)
	require.Len(t, u, 1)
	assert.Equal(t, audit.Lost, u[0].Change)
	assert.Equal(t, "alice", u[0].Subject.ID)
	assert.EqualValues(t, 6, u[0].Permission.Action, "alice loses what the role held when she was unassigned")

	// Subscribing from a later revision still knows the role (folded from before).
	late := readEffects(t, root, "fromRevision="+strings.TrimSuffix(strings.TrimSuffix(jsonNum(unassigned), ".0"), "."), unassigned)
	require.Len(t, late, 1)
	assert.Equal(t, "Reader", late[0].Role.RoleName)
}

func jsonNum(f float64) string {
	raw, _ := json.Marshal(f)
	return string(raw)
}
