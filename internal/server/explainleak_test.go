package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExplanationRevealsOnlyWhatTheCallerMayRead (issue 10, item 7): a
// Game Admin of g1 asking a check about a g2 resource with explain: true
// does not see the subject's g2 assignments, nor a Super Admin's grant
// made in a namespace it cannot read, though listing them is 403 to it;
// the allowed/denied answer itself does not change.
func TestExplanationRevealsOnlyWhatTheCallerMayRead(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	gameAdmin, superAdmin := roleID(t, root, "GameAdmin"), roleID(t, root, "SuperAdmin")
	doc := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Doc",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:DOC", "action": 2}}})["roleId"].(string)
	assign := func(ns, user, role string, assigned ...string) {
		body := map[string]any{"roleId": role}
		if assigned != nil {
			body["assignedNamespaces"] = assigned
		}
		root.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/users/"+user+"/roles", body)
	}
	assign("g1", "ga1", gameAdmin, "g1")
	assign("g2", "ga2", gameAdmin, "g2")
	assign("g1", "bob", doc, "g1")
	assign("g2", "bob", doc, "g2")
	assign("ops", "sue", superAdmin)
	admin := func(ns, user string) *client {
		out := root.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/tokens", map[string]any{
			"name": user, "owner": map[string]any{"type": "user", "id": user}, "permissions": []map[string]any{
				{"resource": "ADMIN:NAMESPACE:{namespace}:*", "action": 15}, {"resource": "NAMESPACE:{namespace}:*", "action": 15}}})
		return root.as(out["token"].(string))
	}
	ga1, ga2 := admin("g1", "ga1"), admin("g2", "ga2")
	ga1.must(http.StatusForbidden, "GET", "/v1/namespaces/g2/users/bob/roles", nil)
	ga1.must(http.StatusForbidden, "GET", "/v1/namespaces/ops/users/sue/roles", nil)

	check := func(user, ns, resource string) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "user", "id": user}, "namespace": ns,
			"resource": resource, "action": 2, "explain": true}
	}
	explain := func(c *client, body map[string]any) (bool, map[string]any, string) {
		t.Helper()
		out := c.must(http.StatusOK, "POST", "/v1/check", body)
		ex := out["explanation"].(map[string]any)
		raw, err := json.Marshal(ex["grants"])
		require.NoError(t, err)
		return out["allowed"].(bool), ex, string(raw) + " " + ex["summary"].(string)
	}

	// bob's g2 assignment allows a g2 resource: ga1 learns that it is
	// allowed, not by which assignment.
	bobG2 := check("bob", "g1", "NAMESPACE:g2:DOC")
	allowed, ex, text := explain(ga1, bobG2)
	assert.True(t, allowed)
	assert.NotContains(t, text, doc, "ga1 sees no g2 assignment")
	assert.NotContains(t, text, `"g2"`)
	assert.NotContains(t, text, "Doc")
	assert.InDelta(t, float64(1), ex["considered"], 0, "only bob's g1 assignment is counted for ga1")
	allowed, ex, text = explain(root, bobG2)
	assert.True(t, allowed)
	assert.Contains(t, text, doc, "the root sees everything")
	assert.InDelta(t, float64(2), ex["considered"], 0)
	bobG2ByGA2 := check("bob", "g2", "NAMESPACE:g2:DOC")
	allowed, _, text = explain(ga2, bobG2ByGA2)
	assert.True(t, allowed)
	assert.Contains(t, text, doc, "ga2 may read g2's assignments")

	// Denied answers do not count what ga1 may not read either.
	allowed, ex, _ = explain(ga1, check("bob", "g1", "NAMESPACE:g3:DOC"))
	assert.False(t, allowed)
	assert.InDelta(t, float64(1), ex["considered"], 0)

	// A Super Admin's grant, made in ops, stays hidden from ga1 even for a
	// g1 resource.
	sue := check("sue", "g1", "NAMESPACE:g1:DOC")
	allowed, _, text = explain(ga1, sue)
	assert.True(t, allowed)
	assert.NotContains(t, text, superAdmin)
	assert.NotContains(t, text, "SuperAdmin")
	assert.NotContains(t, text, "ops")
	_, _, text = explain(root, sue)
	assert.Contains(t, text, "SuperAdmin")

	// A g2 client's own permission stays hidden too.
	cl := root.must(http.StatusCreated, "POST", "/v1/namespaces/g2/clients", map[string]any{"clientName": "bot",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:SERVER", "action": 2}}})
	clientCheck := map[string]any{"subject": map[string]any{"type": "client", "id": cl["clientId"]}, "namespace": "g1",
		"resource": "NAMESPACE:g2:SERVER", "action": 2, "explain": true}
	allowed, _, text = explain(ga1, clientCheck)
	assert.True(t, allowed)
	assert.NotContains(t, text, "SERVER", "ga1 may not read g2's clients")
	clientCheck["namespace"] = "g2"
	_, _, text = explain(ga2, clientCheck)
	assert.Contains(t, text, "SERVER", "ga2 may")

	// The same in a batch.
	res := ga1.must(http.StatusOK, "POST", "/v1/checks", map[string]any{"checks": []map[string]any{bobG2, sue}})
	for i, r := range res["results"].([]any) {
		item := r.(map[string]any)
		assert.Equal(t, true, item["allowed"], "batch item %d", i)
		raw, err := json.Marshal(item["explanation"])
		require.NoError(t, err)
		for _, secret := range []string{doc, superAdmin, "SuperAdmin", `"g2"`, "ops", "Doc"} {
			assert.NotContains(t, string(raw), secret, "batch item %d", i)
		}
	}
}
