package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
)

// TestHistoryOverHTTP: the story of issue 17 over HTTP: a role that lets
// alice delete builds is assigned and later removed; a check asOf an
// instant between answers allowed at that revision, one after answers
// denied; her timeline says when she gained and lost it, who did it and
// why. And the guards: reading history is reading the audit.
func TestHistoryOverHTTP(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, MaxWait: 300 * time.Millisecond}, "")
	root := n.c
	role := root.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "BuildAdmin",
		"permissions": []obj{{"resource": "NAMESPACE:{namespace}:BUILD", "action": 8}}})
	roleID := role["roleId"].(string)
	assigned := root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/alice/roles",
		obj{"roleId": roleID, "assignedNamespaces": []string{"game1"}, "reason": "release duty"})
	time.Sleep(20 * time.Millisecond) // event times are the node's clock: leave an instant between them
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	unassigned := root.must(http.StatusOK, "DELETE", "/v1/namespaces/game1/users/alice/roles/"+roleID+"?reason=rotation", nil)
	// A change to another user is not in alice's timeline.
	root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/bob/roles", obj{"roleId": roleID, "assignedNamespaces": []string{"game1"}})

	check := func(c *client, extra obj) (int, map[string]any) {
		body := obj{"subject": obj{"type": "user", "id": "alice"}, "namespace": "game1", "resource": "NAMESPACE:game1:BUILD", "action": 8}
		for k, v := range extra {
			body[k] = v
		}
		return c.do("POST", "/v1/check", body)
	}
	st, out := check(root, obj{"asOf": between.Format(time.RFC3339Nano), "explain": true})
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Equal(t, true, out["allowed"], "%v", out)
	assert.Equal(t, num(assigned["revision"]), num(out["revision"]))
	st, out = check(root, obj{"atRevision": num(unassigned["revision"])})
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Equal(t, false, out["allowed"])
	st, out = check(root, obj{"atRevision": num(assigned["revision"])})
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Equal(t, true, out["allowed"])

	tl := root.must(http.StatusOK, "GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	data := tl["data"].([]any)
	require.Len(t, data, 2, "%v", tl)
	gained, lost := data[0].(map[string]any), data[1].(map[string]any)
	assert.Equal(t, num(assigned["revision"]), num(gained["revision"]))
	assert.Equal(t, "user.role_assigned.v1", gained["eventType"])
	assert.Equal(t, "release duty", gained["reason"])
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:game1:BUILD", "action": float64(8)}}, gained["gained"])
	assert.Equal(t, []any{}, gained["lost"])
	assert.Equal(t, "user.role_unassigned.v1", lost["eventType"])
	assert.Equal(t, "rotation", lost["reason"])
	assert.Equal(t, gained["gained"], lost["lost"])
	assert.NotEmpty(t, gained["actor"])
	// Paged by one.
	p1 := root.must(http.StatusOK, "GET", "/v1/namespaces/game1/subjects/user/alice/timeline?limit=1", nil)
	require.Len(t, p1["data"], 1)
	next := p1["paging"].(map[string]any)["next"].(string)
	p2 := root.must(http.StatusOK, "GET", "/v1/namespaces/game1/subjects/user/alice/timeline?limit=1&after="+next, nil)
	require.Len(t, p2["data"], 1)
	assert.Equal(t, lost["revision"], p2["data"].([]any)[0].(map[string]any)["revision"])

	// Guards. A token that may check in game1 but not read its audit.
	tok := func(perms ...obj) *client {
		out := root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/tokens", obj{"name": fmt.Sprint("t", len(perms)), "permissions": perms})
		return newClient(t, n.srv.HTTPAddr(), out["token"].(string))
	}
	checkOnly := tok(obj{"resource": "ADMIN:NAMESPACE:game1:PERMISSION:CHECK", "action": 2})
	st, out = check(checkOnly, nil)
	require.Equal(t, http.StatusOK, st, "the current state: the check right suffices (%v)", out)
	for _, extra := range []obj{{"atRevision": 1}, {"asOf": between.Format(time.RFC3339)}} {
		st, out = check(checkOnly, extra)
		assert.Equal(t, http.StatusForbidden, st, "%v: %v", extra, out)
		assert.Nil(t, out["allowed"])
	}
	st, out = checkOnly.do("POST", "/v1/checks", obj{"checks": []obj{{"subject": obj{"type": "user", "id": "alice"}, "namespace": "game1",
		"resource": "NAMESPACE:game1:BUILD", "action": 8, "atRevision": 1}}})
	assert.Equal(t, http.StatusForbidden, st, "%v", out)
	st, out = checkOnly.do("GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	assert.Equal(t, http.StatusForbidden, st, "%v", out)

	// Both rights in game1: history there, not in game2.
	auditor := tok(obj{"resource": "ADMIN:NAMESPACE:game1:PERMISSION:CHECK", "action": 2},
		obj{"resource": "ADMIN:NAMESPACE:game1:AUDIT", "action": 2})
	st, out = check(auditor, obj{"atRevision": num(assigned["revision"])})
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Equal(t, true, out["allowed"])
	st, out = auditor.do("GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Empty(t, out["data"], "assignments are shown only to who may list them (as subject.permissions shows them)")
	assert.Equal(t, true, out["withheld"])
	reader := tok(obj{"resource": "ADMIN:NAMESPACE:game1:PERMISSION:CHECK", "action": 2},
		obj{"resource": "ADMIN:NAMESPACE:game1:AUDIT", "action": 2}, obj{"resource": "ADMIN:NAMESPACE:game1:ROLE:USER:*", "action": 2})
	st, out = reader.do("GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	require.Equal(t, http.StatusOK, st, "%v", out)
	assert.Len(t, out["data"], 2)
	assert.Nil(t, out["withheld"])
	// A role's edit is recorded in the platform's audit: without
	// ADMIN:AUDIT the reader sees the change, not who made it or why.
	root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/alice/roles", obj{"roleId": roleID, "assignedNamespaces": []string{"game1"}})
	root.must(http.StatusOK, "POST", "/v1/roles/"+roleID+"/permissions",
		obj{"permissions": []obj{{"resource": "NAMESPACE:{namespace}:BUILD", "action": 2}}, "reason": "secret plan"})
	st, out = reader.do("GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	require.Equal(t, http.StatusOK, st, "%v", out)
	require.Len(t, out["data"], 4, "%v", out)
	edit := out["data"].([]any)[3].(map[string]any)
	assert.Equal(t, "role.permissions_added.v1", edit["eventType"])
	assert.Equal(t, []any{map[string]any{"resource": "NAMESPACE:game1:BUILD", "action": float64(2)}}, edit["gained"])
	assert.Empty(t, edit["reason"])
	assert.Equal(t, map[string]any{"type": "", "id": ""}, edit["actor"])
	assert.Equal(t, true, out["withheld"])
	tl = root.must(http.StatusOK, "GET", "/v1/namespaces/game1/subjects/user/alice/timeline", nil)
	assert.Equal(t, "secret plan", tl["data"].([]any)[3].(map[string]any)["reason"], "who may read the platform's audit sees it")
	st, out = auditor.do("GET", "/v1/namespaces/game2/subjects/user/alice/timeline", nil)
	assert.Equal(t, http.StatusForbidden, st, "another namespace's timeline: %v", out)
	assert.Nil(t, out["data"])
	st, out = auditor.do("POST", "/v1/check", obj{"subject": obj{"type": "user", "id": "alice"}, "namespace": "game2",
		"resource": "NAMESPACE:game2:BUILD", "action": 8, "atRevision": 1})
	assert.Equal(t, http.StatusForbidden, st, "another namespace's past: %v", out)
}
