package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one step of a POST /v1/transactions request.
func step(op string, req map[string]any) map[string]any {
	return map[string]any{"op": op, "request": req}
}

// TestTransactionAllOrNothing: a role created and assigned in one
// transaction lands at one revision; a transaction whose last step is
// refused changes nothing (and neither does one with a bad step).
func TestTransactionAllOrNothing(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	before := c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"]

	out := c.must(http.StatusOK, "POST", "/v1/transactions", map[string]any{"reason": "tx test", "steps": []any{
		step("namespace.create", map[string]any{"namespace": "txgame"}),
		step("role.create", map[string]any{"roleId": "tx-reader", "roleName": "TxReader",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}}),
		step("role.permissions.add", map[string]any{"roleId": "tx-reader",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:LEADERBOARD", "action": 2}}}),
		step("assign", map[string]any{"namespace": "txgame", "userId": "u1", "roleId": "tx-reader", "assignedNamespaces": []string{"txgame"}}),
		step("assign", map[string]any{"namespace": "txgame", "userId": "u2", "roleId": "tx-reader", "assignedNamespaces": []string{"txgame"}}),
	}})
	rev := out["revision"].(float64)
	assert.EqualValues(t, 5, out["steps"])
	assert.True(t, c.allowed("u1", "txgame", "NAMESPACE:txgame:STATS", 2))
	assert.True(t, c.allowed("u2", "txgame", "NAMESPACE:txgame:LEADERBOARD", 2), "a step sees the role as the steps before it left it")

	// The five events are at consecutive revisions ending at rev, one
	// transaction, and the audit chain of each namespace still verifies.
	page := c.must(http.StatusOK, "GET", fmt.Sprintf("/v1/audit?fromRevision=%d", int(rev)-4), nil)
	recs := page["data"].([]any)
	require.Len(t, recs, 5)
	for i, r := range recs {
		ev := r.(map[string]any)
		assert.Equal(t, int(rev)-4+i, int(ev["revision"].(float64)))
		assert.Equal(t, "tx test", ev["reason"])
	}

	// The last step refers to a role that does not exist: nothing of the
	// transaction is stored, and the error names the step.
	head := c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"]
	bad := c.must(http.StatusNotFound, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleName": "Doomed"}),
		step("assign", map[string]any{"namespace": "txgame", "userId": "u3", "roleId": "tx-reader", "assignedNamespaces": []string{"txgame"}}),
		step("assign", map[string]any{"namespace": "txgame", "userId": "u3", "roleId": "no-such-role", "assignedNamespaces": []string{"txgame"}}),
	}})
	assert.Contains(t, bad["errorMessage"], "steps[2]")
	assert.Contains(t, bad["errorMessage"], "nothing was changed")
	assert.Equal(t, head, c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"], "no event was appended")
	assert.False(t, c.allowed("u3", "txgame", "NAMESPACE:txgame:STATS", 2))
	c.must(http.StatusNotFound, "GET", "/v1/roles/Doomed", nil)

	// The last step is refused by authorization only the server knows: a
	// client that may create roles but not assign them in txgame.
	cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "role-maker",
		"permissions": []map[string]any{{"resource": "ADMIN:ROLE", "action": 15}}})
	maker := c.basic(cl["clientId"].(string), cl["clientSecret"].(string))
	head = c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"]
	out = maker.must(http.StatusForbidden, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleId": "forbidden-role", "roleName": "ForbiddenRole"}),
		step("assign", map[string]any{"namespace": "txgame", "userId": "u4", "roleId": "forbidden-role", "assignedNamespaces": []string{"txgame"}}),
	}})
	assert.Contains(t, out["errorMessage"], "steps[1]")
	assert.Equal(t, head, c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"], "no event was appended")
	c.must(http.StatusNotFound, "GET", "/v1/roles/forbidden-role", nil)

	// A step the transaction cannot hold, and a malformed step, are
	// refused before anything runs.
	out = c.must(http.StatusBadRequest, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleName": "AlsoDoomed"}),
		step("token.issue", map[string]any{"namespace": "txgame"}),
	}})
	assert.Equal(t, "invalidStep", out["errorCode"])
	out = c.must(http.StatusBadRequest, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleName": "AlsoDoomed", "bogus": 1}),
	}})
	assert.Contains(t, out["errorMessage"], "steps[0]")
	c.must(http.StatusBadRequest, "POST", "/v1/transactions", map[string]any{"steps": []any{}})
	assert.Equal(t, head, c.must(http.StatusOK, "GET", "/v1/status", nil)["revision"])
	assert.NotEqual(t, before, head)
}

// TestTransactionRetryAndConflicts: a retried transaction (same
// Idempotency-Key, same request) is stored once; the key with another
// request is a conflict; transactions racing single commands on the same
// namespaces all land, each whole.
func TestTransactionRetryAndConflicts(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	body := map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleId": "retry-role", "roleName": "RetryRole"}),
		step("assign", map[string]any{"namespace": "rgame", "userId": "u1", "roleId": "retry-role", "assignedNamespaces": []string{"rgame"}}),
	}}
	first := c.mustWith(http.StatusOK, "POST", "/v1/transactions", body, map[string]string{"Idempotency-Key": "tx-1"})
	again := c.mustWith(http.StatusOK, "POST", "/v1/transactions", body, map[string]string{"Idempotency-Key": "tx-1"})
	assert.Equal(t, first["revision"], again["revision"], "a retry answers the stored transaction")
	other := map[string]any{"steps": []any{step("role.create", map[string]any{"roleName": "Other"})}}
	out := c.mustWith(http.StatusUnprocessableEntity, "POST", "/v1/transactions", other, map[string]string{"Idempotency-Key": "tx-1"})
	assert.Equal(t, "idempotencyKeyReused", out["errorCode"])

	// Concurrent writers: transactions that each assign two roles in
	// namespace cgame, racing single assignments in the same namespace.
	const writers, each = 4, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := fmt.Sprintf("w%d-%d", w, i)
				if w%2 == 0 {
					c.must(http.StatusOK, "POST", "/v1/transactions", map[string]any{"steps": []any{
						step("assign", map[string]any{"namespace": "cgame", "userId": u, "roleId": "retry-role", "assignedNamespaces": []string{"cgame"}}),
						step("assign", map[string]any{"namespace": "cgame", "userId": u + "-b", "roleId": "retry-role", "assignedNamespaces": []string{"cgame"}}),
					}})
				} else {
					c.must(http.StatusCreated, "POST", "/v1/namespaces/cgame/users/"+u+"/roles", map[string]any{"roleId": "retry-role", "assignedNamespaces": []string{"cgame"}})
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for i := range each {
			u := fmt.Sprintf("w%d-%d", w, i)
			ur := c.must(http.StatusOK, "GET", "/v1/namespaces/cgame/users/"+u+"/roles", nil)
			assert.Len(t, ur["data"], 1, u)
			if w%2 == 0 {
				ur = c.must(http.StatusOK, "GET", "/v1/namespaces/cgame/users/"+u+"-b/roles", nil)
				assert.Len(t, ur["data"], 1, u+"-b")
			}
		}
	}
}

// TestTransactionGuardsTheRolesItAssigns: a transaction that assigns an
// existing role and writes nothing to the platform namespace ends with a
// transaction.committed.v1 event there, expecting the namespace's last
// revision: a role deleted between the steps' decisions and the append
// refuses (and re-runs) the whole transaction instead of storing an
// assignment the index would ignore.
func TestTransactionGuardsTheRolesItAssigns(t *testing.T) {
	_, c := startServer(t, t.TempDir())
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "guarded", "roleName": "Guarded",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 2}}})
	out := c.must(http.StatusOK, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("assign", map[string]any{"namespace": "ga", "userId": "u1", "roleId": "guarded", "assignedNamespaces": []string{"ga"}}),
		step("assign", map[string]any{"namespace": "gb", "userId": "u1", "roleId": "guarded", "assignedNamespaces": []string{"gb"}}),
	}})
	rev := int(out["revision"].(float64))
	page := c.must(http.StatusOK, "GET", fmt.Sprintf("/v1/audit?fromRevision=%d", rev-2), nil)
	recs := page["data"].([]any)
	require.Len(t, recs, 3)
	last := recs[2].(map[string]any)
	assert.Equal(t, "transaction.committed.v1", last["type"])
	assert.Equal(t, "_platform", last["namespace"])
	assert.True(t, c.allowed("u1", "gb", "NAMESPACE:gb:STATS", 2))

	// A transaction that writes the platform namespace needs no marker.
	out = c.must(http.StatusOK, "POST", "/v1/transactions", map[string]any{"steps": []any{
		step("role.create", map[string]any{"roleId": "own", "roleName": "Own"}),
		step("assign", map[string]any{"namespace": "ga", "userId": "u2", "roleId": "own", "assignedNamespaces": []string{"ga"}}),
	}})
	rev = int(out["revision"].(float64))
	page = c.must(http.StatusOK, "GET", fmt.Sprintf("/v1/audit?fromRevision=%d", rev-1), nil)
	recs = page["data"].([]any)
	require.Len(t, recs, 2)
	assert.Equal(t, "user.role_assigned.v1", recs[1].(map[string]any)["type"])
}
