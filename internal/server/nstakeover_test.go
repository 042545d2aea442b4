package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNamespaceTakeoverRefused (issue 10, item 5): a user holding
// ADMIN:NAMESPACE Create and Game Admin in "mine" cannot create namespace
// "victim", which already exists implicitly, with parent "mine" and so
// administer it through the studio; setting a parent needs rights in the
// parent too.
func TestNamespaceTakeoverRefused(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	gameAdmin, user := roleID(t, root, "GameAdmin"), roleID(t, root, "User")
	creator := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "NamespaceCreator",
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE", "action": 1}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/users/mal/roles", map[string]any{"roleId": gameAdmin, "assignedNamespaces": []string{"mine"}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/users/mal/roles", map[string]any{"roleId": creator["roleId"], "assignedNamespaces": []string{"mine"}})
	tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/tokens", map[string]any{
		"name": "mal", "owner": map[string]any{"type": "user", "id": "mal"}, "permissions": []map[string]any{
			{"resource": "ADMIN:NAMESPACE", "action": 1},
			{"resource": "ADMIN:NAMESPACE:{namespace}:*", "action": 15},
			{"resource": "NAMESPACE:{namespace}:*", "action": 15}}})
	mal := root.as(tok["token"].(string))

	// victim exists implicitly: it has an assignment and a client.
	root.must(http.StatusCreated, "POST", "/v1/namespaces/victim/users/vic/roles", map[string]any{"roleId": user, "assignedNamespaces": []string{"victim"}})
	cl := root.must(http.StatusCreated, "POST", "/v1/namespaces/victim/clients", map[string]any{"clientName": "bot",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:SERVER", "action": 2}}})
	mal.must(http.StatusForbidden, "GET", "/v1/namespaces/victim/clients", nil)

	out := mal.must(http.StatusForbidden, "POST", "/v1/namespaces", map[string]any{"namespace": "victim", "parent": "mine"})
	assert.Equal(t, "forbidden", out["errorCode"])
	assert.Contains(t, out["errorMessage"], "victim")
	out = mal.must(http.StatusForbidden, "POST", "/v1/namespaces", map[string]any{"namespace": "victim"})
	assert.Equal(t, "forbidden", out["errorCode"], "taking over the default roles of an existing namespace is refused too")
	mal.must(http.StatusForbidden, "GET", "/v1/namespaces/victim/clients", nil)
	mal.must(http.StatusForbidden, "DELETE", "/v1/namespaces/victim/clients/"+cl["clientId"].(string), nil)
	assert.Equal(t, false, root.must(http.StatusOK, "GET", "/v1/namespaces/victim", nil)["explicit"], "victim was not created")

	// A new namespace under one's own studio is fine; under another's, not.
	mal.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "newgame", "parent": "mine"})
	mal.must(http.StatusOK, "GET", "/v1/namespaces/newgame/clients", nil)
	root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "theirs"})
	out = mal.must(http.StatusForbidden, "POST", "/v1/namespaces", map[string]any{"namespace": "spy", "parent": "theirs"})
	assert.Contains(t, out["errorMessage"], "theirs")
	root.must(http.StatusNotFound, "GET", "/v1/namespaces/spy", nil)

	// Whoever holds rights in both may still do it.
	root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "victim", "parent": "mine"})
}

// TestNamespaceTakeoverRefusedWhenReferenced: a namespace without events of
// its own that something else names (an assignment's assignedNamespaces,
// another namespace's parent, a literal NAMESPACE:{name} segment of a role,
// client, token or scope) exists too: creating it needs rights in it, so a
// user with ADMIN:NAMESPACE Create and rights in "mine" cannot attach it to
// "mine" and administer what others were given there. A studio prefix grant
// (NAMESPACE:pre-:*) names no namespace; a reference that ends frees the
// name.
func TestNamespaceTakeoverRefusedWhenReferenced(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	gameAdmin, user := roleID(t, root, "GameAdmin"), roleID(t, root, "User")
	creator := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "NamespaceCreator",
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE", "action": 1}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/users/mal/roles", map[string]any{"roleId": gameAdmin, "assignedNamespaces": []string{"mine"}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/users/mal/roles", map[string]any{"roleId": creator["roleId"], "assignedNamespaces": []string{"mine"}})
	tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/mine/tokens", map[string]any{
		"name": "mal", "owner": map[string]any{"type": "user", "id": "mal"}, "permissions": []map[string]any{
			{"resource": "ADMIN:NAMESPACE", "action": 1},
			{"resource": "ADMIN:NAMESPACE:{namespace}:*", "action": 15},
			{"resource": "NAMESPACE:{namespace}:*", "action": 15}}})
	mal := root.as(tok["token"].(string))

	// Each named only from elsewhere: no events of their own.
	root.must(http.StatusCreated, "POST", "/v1/namespaces/home/users/vic/roles", map[string]any{"roleId": user, "assignedNamespaces": []string{"quiet"}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "g9", "parent": "acme"})
	root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "LitReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:litrole:SERVER", "action": 2}, {"resource": "NAMESPACE:pre-:*", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "bot",
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE:litclient:CLIENT", "action": 2}}})
	anyServer := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "AnyServer",
		"permissions": []map[string]any{{"resource": "NAMESPACE:*:SERVER", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/ops/users/srv/roles", map[string]any{"roleId": anyServer["roleId"], "assignedNamespaces": []string{"ops"}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/ops/tokens", map[string]any{
		"name": "srv", "owner": map[string]any{"type": "user", "id": "srv"}, "permissions": []map[string]any{
			{"resource": "NAMESPACE:littoken:SERVER", "action": 2}}})
	for _, ns := range []string{"quiet", "acme", "litrole", "litclient", "littoken"} {
		root.must(http.StatusNotFound, "GET", "/v1/namespaces/"+ns, nil)
		out := mal.must(http.StatusForbidden, "POST", "/v1/namespaces", map[string]any{"namespace": ns, "parent": "mine"})
		assert.Equal(t, "forbidden", out["errorCode"], ns)
		assert.Contains(t, out["errorMessage"], ns)
		mal.must(http.StatusForbidden, "POST", "/v1/namespaces", map[string]any{"namespace": ns})
		root.must(http.StatusNotFound, "GET", "/v1/namespaces/"+ns, nil)
	}

	// A studio prefix names no namespace; a name nobody uses is free.
	mal.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "pre-x", "parent": "mine"})
	mal.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "fresh", "parent": "mine"})

	// Once the only reference ends, the name is free again.
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/home/users/vic/roles/"+user, nil)
	mal.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "quiet", "parent": "mine"})

	// Whoever holds rights in it may still create it.
	root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "acme", "parent": "mine"})
}
