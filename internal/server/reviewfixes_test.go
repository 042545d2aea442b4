package server_test

// Reviewer's failing tests (attacker's eye review of the transactions,
// AccelByte and Hathora/Vast.ai work). Each test asserts the behaviour the
// product promises; each fails on fb391c4.

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An Idempotency-Key on AccelByte's PATCH client is bound to the body
// only (atomically's desc is the ABClientUpdate, not the path): the same
// key and body on another client answers 200 and changes nothing.
func TestAccelBytePatchClientKeyBindsThePath(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	a := c.must(http.StatusCreated, "POST", "/v1/namespaces/rv/clients", map[string]any{"clientName": "a"})["clientId"].(string)
	b := c.must(http.StatusCreated, "POST", "/v1/namespaces/rv/clients", map[string]any{"clientName": "b"})["clientId"].(string)
	body := map[string]any{"clientName": "renamed"}
	key := map[string]string{"Idempotency-Key": "k1"}
	c.mustWith(http.StatusOK, "PATCH", "/iam/v3/admin/namespaces/rv/clients/"+a, body, key)
	code, out := c.doWith("PATCH", "/iam/v3/admin/namespaces/rv/clients/"+b, body, key)
	t.Logf("second PATCH: %d %v", code, out)
	assert.Equal(t, http.StatusUnprocessableEntity, code, "the key was used for client a: another request")
	assert.Equal(t, "idempotencyKeyReused", out["errorCode"])
}

// Adding a namespace to (or removing one from) an existing time-bound
// assignment through AccelByte's v4/v3 user-role API drops its notAfter:
// a temporary grant becomes permanent.
func TestAccelByteNamespaceChangesKeepTheWindow(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "tmp", "roleName": "Tmp",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}})
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u1/roles", map[string]any{
		"roleId": "tmp", "assignedNamespaces": []string{"g1"}, "notAfter": until})
	c.must(http.StatusOK, "POST", "/iam/v4/admin/namespaces/g1/users/u1/roles", map[string]any{
		"roleId": "tmp", "assignedNamespaces": []string{"g2"}})
	roles := c.must(http.StatusOK, "GET", "/v1/namespaces/g1/users/u1/roles", nil)["data"].([]any)
	require.Len(t, roles, 1)
	assert.NotNil(t, roles[0].(map[string]any)["notAfter"], "the assignment's notAfter survives adding a namespace")

	// The same through DELETE (take g2 away again): the caller only meant to narrow.
	c.must(http.StatusCreated, "POST", "/v1/namespaces/g1/users/u2/roles", map[string]any{
		"roleId": "tmp", "assignedNamespaces": []string{"g1", "g2"}, "notAfter": until})
	code, _ := c.rawDo("DELETE", "/iam/v4/admin/namespaces/g1/users/u2/roles", map[string]any{
		"roleId": "tmp", "assignedNamespaces": []string{"g2"}})
	require.Equal(t, http.StatusNoContent, code)
	roles = c.must(http.StatusOK, "GET", "/v1/namespaces/g1/users/u2/roles", nil)["data"].([]any)
	require.Len(t, roles, 1)
	assert.NotNil(t, roles[0].(map[string]any)["notAfter"], "narrowing an assignment keeps its notAfter")
}

// A retried AdminCreateRoleV3 (same Idempotency-Key, same body) answers
// the stored transaction's revision but reads back a role id made anew
// for the retry: 404 instead of the created role.
func TestAccelByteCreateRoleV3Retry(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	body := map[string]any{"roleName": "Retried", "adminRole": false, "isWildcard": false, "managers": []any{},
		"members":     []map[string]any{{"userId": "u1", "namespace": "g1", "displayName": ""}},
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}}
	key := map[string]string{"Idempotency-Key": "create-1"}
	first := c.mustWith(http.StatusCreated, "POST", "/iam/v3/admin/roles", body, key)
	code, again := c.doWith("POST", "/iam/v3/admin/roles", body, key)
	assert.Equal(t, http.StatusCreated, code, "%v", again)
	assert.Equal(t, first["roleId"], again["roleId"])
}

// A transaction that assigns a role and later deletes it (then does
// something else) is stored whole, yet answers 409 roleDeleted: the
// caller is told it failed when it was applied.
func TestTransactionAssignThenDeleteAnswersOK(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	code, out := c.do("POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleId": "short", "roleName": "Short"}),
		step("assign", map[string]any{"namespace": "g1", "userId": "u1", "roleId": "short", "assignedNamespaces": []string{"g1"}}),
		step("role.delete", map[string]any{"roleId": "short"}),
		step("role.create", map[string]any{"roleId": "after", "roleName": "After"}),
	}})
	assert.Eventually(t, func() bool { st, _ := c.do("GET", "/v1/roles/after", nil); return st == http.StatusOK }, 5*time.Second, 20*time.Millisecond,
		"the transaction was stored")
	assert.Equal(t, http.StatusOK, code, "answer %v, while the transaction was stored", out)
}

// Deleting a role ends its assignments but leaves it in namespaces'
// defaultRoles (and clients' roles); since roleId became settable on
// create, a new role made with the deleted role's id silently becomes a
// default role of those namespaces: every user there holds it, with no
// namespace admin involved.
func TestDeletedRoleIDIsNeverReused(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "base", "roleName": "Base",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}})
	c.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "dg", "defaultRoles": []string{"base"}})
	require.True(t, c.allowed("anyone", "dg", "NAMESPACE:dg:STATS", 2))
	code, _ := c.rawDo("DELETE", "/v1/roles/base", nil)
	require.Less(t, code, 300)
	require.False(t, c.allowed("anyone", "dg", "NAMESPACE:dg:STATS", 2))
	// A different role, by someone who never touched namespace dg: the id
	// of a deleted role is refused.
	out := c.must(http.StatusConflict, "POST", "/v1/roles", map[string]any{"roleId": "base", "roleName": "Unrelated",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:WALLET", "action": 15}}})
	assert.Equal(t, "duplicateRoleId", out["errorCode"])
	assert.False(t, c.allowed("anyone", "dg", "NAMESPACE:dg:WALLET", 15), "a new role must not inherit a deleted role's default-role status")
}
