package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRangeConstraintsAreNumeric (issue 10, item 6): params are typed and
// gte/lte compare numbers, in single and batch checks; a range bound that
// is not a number is refused when the token is issued or the role is
// registered.
func TestRangeConstraintsAreNumeric(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "InstanceReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:*", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/users/sam/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"acct"}})
	tmpl := []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 2,
		"constraints": map[string]any{"id": map[string]any{"gte": "$1", "lte": "$2"}}}}
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "logs-range", "owner": map[string]any{"type": "user", "id": "sam"}, "params": []any{"100", "200"}, "permissions": tmpl})
	tok := out["token"].(string)
	assert.Equal(t, map[string]any{"id": map[string]any{"gte": float64(100), "lte": float64(200)}},
		out["permissions"].([]any)[0].(map[string]any)["constraints"], "a param that reads as a number is a number")

	// A role with a literal string range behaves the same.
	strRole := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "RangeReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:REPORT", "action": 2,
			"constraints": map[string]any{"id": map[string]any{"gte": "100", "lte": "200"}}}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/users/rae/roles", map[string]any{"roleId": strRole["roleId"], "assignedNamespaces": []string{"acct"}})

	want := map[any]bool{float64(150): true, "150": true, float64(100): true, float64(200): true,
		"1500": false, "2": false, "1a": false, float64(1500): false, float64(2): false, "": false}
	tokenCheck := func(id any) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "token", "token": tok}, "namespace": "acct",
			"resource": "NAMESPACE:acct:USER:sam:INSTANCE:LOGS", "action": 2, "attributes": map[string]any{"id": id}}
	}
	roleCheck := func(id any) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "user", "id": "rae"}, "namespace": "acct",
			"resource": "NAMESPACE:acct:REPORT", "action": 2, "attributes": map[string]any{"id": id}}
	}
	var batch []map[string]any
	var wants []bool
	for id, allowed := range want {
		assert.Equal(t, allowed, root.check(tokenCheck(id)), "token, id %#v", id)
		assert.Equal(t, allowed, root.check(roleCheck(id)), "role, id %#v", id)
		batch = append(batch, tokenCheck(id), roleCheck(id))
		wants = append(wants, allowed, allowed)
	}
	res := root.must(http.StatusOK, "POST", "/v1/checks", map[string]any{"checks": batch})
	results := res["results"].([]any)
	require.Len(t, results, len(batch))
	for i, r := range results {
		assert.Equal(t, wants[i], r.(map[string]any)["allowed"], "batch item %d: %v", i, batch[i])
	}

	// Bounds that are not numbers are refused, with a clear 400.
	bad := root.must(http.StatusBadRequest, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "letters", "owner": map[string]any{"type": "user", "id": "sam"}, "params": []any{"a", "z"}, "permissions": tmpl})
	assert.Equal(t, "invalidPermission", bad["errorCode"])
	assert.Contains(t, bad["errorMessage"], "not a number")
	bad = root.must(http.StatusBadRequest, "POST", "/v1/roles", map[string]any{"roleName": "Letters",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:REPORT", "action": 2,
			"constraints": map[string]any{"id": map[string]any{"gte": "a", "lte": "z"}}}}})
	assert.Equal(t, "invalidPermission", bad["errorCode"])
	assert.Contains(t, bad["errorMessage"], "not a number")
}
