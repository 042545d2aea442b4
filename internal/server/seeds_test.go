package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// as returns a client of the same server using another credential.
func (c *client) as(token string) *client {
	return newClient(c.t, strings.TrimPrefix(c.base, "http://"), token)
}

// basic returns a client authenticating as an IAM client.
func (c *client) basic(id, secret string) *client {
	cl := c.as("")
	cl.basicAuth = base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
	return cl
}

func (c *client) check(body map[string]any) bool {
	c.t.Helper()
	out := c.must(http.StatusOK, "POST", "/v1/check", body)
	return out["allowed"].(bool)
}

func tokenCheck(token, ns string, endpoint string) map[string]any {
	return map[string]any{"subject": map[string]any{"type": "token", "token": token}, "namespace": ns,
		"endpoint": map[string]any{"service": "hathora", "name": endpoint}}
}

// secrets collects every secret the API returned, to scan the stream for.
type secrets []string

func (s *secrets) add(v any) string {
	str, _ := v.(string)
	*s = append(*s, str)
	return str
}

func roleID(t *testing.T, c *client, name string) string {
	t.Helper()
	list := c.must(http.StatusOK, "GET", "/v1/roles?limit=1000", nil)
	for _, r := range list["data"].([]any) {
		if m := r.(map[string]any); m["roleName"] == name {
			return m["roleId"].(string)
		}
	}
	t.Fatalf("no role %s", name)
	return ""
}

// TestSeedHathora: Hathora's scoped tokens and team roles, in the words of seed 000.
func TestSeedHathora(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	var sec secrets
	sec.add(root.token)
	root.must(http.StatusOK, "POST", "/v1/presets/hathora", nil)
	root.must(http.StatusOK, "POST", "/v1/catalogs/scopes/hathora", nil)
	root.must(http.StatusOK, "POST", "/v1/catalogs/endpoints/hathora", nil)
	viewer := roleID(t, root, "HathoraViewer")
	root.must(http.StatusCreated, "POST", "/v1/namespaces/team1/users/vera/roles", map[string]any{"roleId": viewer, "assignedNamespaces": []string{"team1"}})

	// A session token for Vera, issued by the platform on her behalf.
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/team1/tokens", map[string]any{
		"name": "vera-console", "owner": map[string]any{"type": "user", "id": "vera"},
		"scopes": []string{"builds:read", "processes:read", "tokens:read-write"},
	})
	vera := root.as(sec.add(out["token"]))

	// "A user can only create a token with the permissions they have (i.e.
	// viewer can only create read tokens)."
	refused := vera.must(http.StatusForbidden, "POST", "/v1/namespaces/team1/tokens", map[string]any{
		"name": "ci", "scopes": []string{"builds:read-write"}})
	assert.Equal(t, "exceedsCallerPermissions", refused["errorCode"])
	assert.Contains(t, refused["errorMessage"], "NAMESPACE:{namespace}:BUILD")
	out = vera.must(http.StatusCreated, "POST", "/v1/namespaces/team1/tokens", map[string]any{
		"name": "ci", "scopes": []string{"builds:read"}})
	ci := sec.add(out["token"])
	ciID := out["tokenId"].(string)
	assert.Equal(t, "vera", out["owner"].(map[string]any)["id"], "the owner defaults to the caller")

	assert.True(t, root.check(tokenCheck(ci, "team1", "GetBuilds")))
	assert.True(t, root.check(tokenCheck(ci, "team1", "GetBuild")))
	assert.False(t, root.check(tokenCheck(ci, "team1", "CreateBuild")), "builds:read does not create builds")
	assert.False(t, root.check(tokenCheck(ci, "team2", "GetBuilds")), "all tokens are scoped to a team")
	assert.False(t, root.check(tokenCheck(ci, "team1", "GetBalance")))
	assert.True(t, root.check(tokenCheck(vera.token, "team1", "GetLogsForProcess")), "a Viewer can view process logs")
	assert.True(t, root.check(tokenCheck(vera.token, "team1", "GetMetrics")), "and metrics")

	// "Scopes for a token can be set when creating a token but can not be updated."
	for _, method := range []string{"PATCH", "PUT"} {
		code, body := root.do(method, "/v1/namespaces/team1/tokens/"+ciID, map[string]any{"scopes": []string{"builds:read-write"}})
		assert.Equal(t, http.StatusMethodNotAllowed, code, "%s of a token", method)
		assert.Equal(t, "methodNotAllowed", body["errorCode"])
	}

	// A revoked token is denied, as a subject and as a credential.
	ciClient := root.as(ci)
	ciClient.must(http.StatusOK, "GET", "/v1/namespaces/team1/tokens", nil)
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/team1/tokens/"+ciID, nil)
	assert.False(t, root.check(tokenCheck(ci, "team1", "GetBuilds")))
	ciClient.must(http.StatusUnauthorized, "GET", "/v1/namespaces/team1/tokens", nil)

	// Effective = issued ∩ owner's current permissions: taking Vera's role
	// shrinks her tokens at once.
	assert.True(t, root.check(tokenCheck(vera.token, "team1", "GetBuilds")))
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/team1/users/vera/roles/"+viewer, nil)
	assert.False(t, root.check(tokenCheck(vera.token, "team1", "GetBuilds")))

	// Members and Admins: Member manages builds but not members or billing.
	member := roleID(t, root, "HathoraMember")
	root.must(http.StatusCreated, "POST", "/v1/namespaces/team1/users/mo/roles", map[string]any{"roleId": member, "assignedNamespaces": []string{"team1"}})
	endpointCheck := func(user, name string) bool {
		return root.check(map[string]any{"subject": map[string]any{"type": "user", "id": user}, "namespace": "team1",
			"endpoint": map[string]any{"service": "hathora", "name": name}})
	}
	assert.True(t, endpointCheck("mo", "CreateBuild"))
	assert.True(t, endpointCheck("mo", "StopProcess"))
	assert.False(t, endpointCheck("mo", "InviteUser"), "Members cannot add team members")
	assert.False(t, endpointCheck("mo", "GetBalance"), "Members cannot view billing")
	admin := roleID(t, root, "HathoraAdmin")
	root.must(http.StatusCreated, "POST", "/v1/namespaces/team1/users/ada/roles", map[string]any{"roleId": admin, "assignedNamespaces": []string{"team1"}})
	assert.True(t, endpointCheck("ada", "InviteUser"))
	assert.True(t, endpointCheck("ada", "GetBalance"))

	assertNoSecretInStream(t, srv, sec)
}

// TestSeedVastAI: API keys with constraints and params (seed 003).
func TestSeedVastAI(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	var sec secrets
	out := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "InstanceReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:*", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/users/sam/roles", map[string]any{"roleId": out["roleId"], "assignedNamespaces": []string{"acct"}})

	logs := func(token string, attrs map[string]any) bool {
		body := map[string]any{"subject": map[string]any{"type": "token", "token": token}, "namespace": "acct",
			"resource": "NAMESPACE:acct:USER:sam:INSTANCE:LOGS", "action": 2}
		if attrs != nil {
			body["attributes"] = attrs
		}
		return root.check(body)
	}
	// "read the instance logs of instance id 1227 only"
	out = root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "logs-1227", "owner": map[string]any{"type": "user", "id": "sam"},
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 2,
			"constraints": map[string]any{"id": map[string]any{"eq": 1227}}}}})
	one := sec.add(out["token"])
	assert.True(t, logs(one, map[string]any{"id": 1227}))
	assert.False(t, logs(one, map[string]any{"id": 1228}))
	assert.False(t, logs(one, nil), "a missing attribute denies")

	// "read the instance logs of instance id from $1 to $2"
	out = root.must(http.StatusCreated, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "logs-range", "owner": map[string]any{"type": "user", "id": "sam"}, "params": []any{100, 200},
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 2,
			"constraints": map[string]any{"id": map[string]any{"gte": "$1", "lte": "$2"}}}}})
	rng := sec.add(out["token"])
	assert.Equal(t, map[string]any{"id": map[string]any{"gte": float64(100), "lte": float64(200)}},
		out["permissions"].([]any)[0].(map[string]any)["constraints"], "params are filled at issue")
	assert.True(t, logs(rng, map[string]any{"id": 150}))
	assert.True(t, logs(rng, map[string]any{"id": 200}))
	assert.False(t, logs(rng, map[string]any{"id": 201}))

	bad := root.must(http.StatusBadRequest, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "no-params", "owner": map[string]any{"type": "user", "id": "sam"},
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 2,
			"constraints": map[string]any{"id": map[string]any{"gte": "$1", "lte": "$2"}}}}})
	assert.Equal(t, "invalidPermission", bad["errorCode"])
	assert.Contains(t, bad["errorMessage"], "$1")

	// A key never exceeds its owner: Sam cannot hold instance writes.
	refused := root.must(http.StatusForbidden, "POST", "/v1/namespaces/acct/tokens", map[string]any{
		"name": "write", "owner": map[string]any{"type": "user", "id": "sam"},
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", "action": 4}}})
	assert.Equal(t, "exceedsCallerPermissions", refused["errorCode"])
	assertNoSecretInStream(t, srv, sec)
}

// TestSeedAccelByte: the four default roles behave as seed 001's table
// says; a Game Admin is refused in another namespace and cannot create roles.
func TestSeedAccelByte(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	var sec secrets
	sec.add(root.token)
	user, viewOnly, gameAdmin := roleID(t, root, "User"), roleID(t, root, "ViewOnly"), roleID(t, root, "GameAdmin")
	roleID(t, root, "SuperAdmin")

	// User: the default role of every explicitly created namespace.
	ns := root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "game1"})
	assert.Equal(t, []any{user}, ns["defaultRoles"])
	userCheck := func(id, ns, res string, act int) bool {
		return root.check(map[string]any{"subject": map[string]any{"type": "user", "id": id}, "namespace": ns, "resource": res, "action": act})
	}
	assert.True(t, userCheck("pat", "game1", "NAMESPACE:game1:USER:pat:PROFILE", 4), "a player manages their own profile with no assignment")
	assert.False(t, userCheck("pat", "game1", "NAMESPACE:game1:USER:kim:PROFILE", 4), "not another player's")
	assert.False(t, userCheck("pat", "game2", "NAMESPACE:game2:USER:pat:PROFILE", 4), "game2 was not created with default roles")

	root.must(http.StatusCreated, "POST", "/v1/namespaces/publisher/users/val/roles", map[string]any{"roleId": viewOnly})
	assert.True(t, userCheck("val", "game7", "ADMIN:NAMESPACE:game7:USER:1:ENTITLEMENT", 2), "View Only reads every namespace")
	assert.False(t, userCheck("val", "game7", "ADMIN:NAMESPACE:game7:USER:1:ENTITLEMENT", 4), "but changes nothing")

	root.must(http.StatusCreated, "POST", "/v1/namespaces/publisher/users/gus/roles", map[string]any{"roleId": gameAdmin, "assignedNamespaces": []string{"game1"}})
	assert.True(t, userCheck("gus", "game1", "ADMIN:NAMESPACE:game1:CLIENT", 15))
	assert.False(t, userCheck("gus", "game1", "ADMIN:NAMESPACE:game2:CLIENT", 1))

	assert.Equal(t, "exceedsCallerPermissions", root.must(http.StatusForbidden, "POST", "/v1/namespaces/publisher/tokens", map[string]any{
		"name": "gus-console", "owner": map[string]any{"type": "user", "id": "gus"},
		"permissions": []map[string]any{{"resource": "*", "action": 15}}})["errorCode"], "a token never exceeds its owner")
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/tokens", map[string]any{
		"name": "gus-console", "owner": map[string]any{"type": "user", "id": "gus"},
		"permissions": []map[string]any{{"resource": "ADMIN:NAMESPACE:{namespace}:*", "action": 15}, {"resource": "ADMIN:ROLE", "action": 2},
			{"resource": "NAMESPACE:{namespace}:*", "action": 15}}})
	gus := root.as(sec.add(out["token"]))

	// A Game Admin of one namespace is refused in another.
	c1 := gus.must(http.StatusCreated, "POST", "/v1/namespaces/game1/clients", map[string]any{"clientName": "matchmaker",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 15}}})
	sec.add(c1["clientSecret"])
	refused := gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game2/clients", map[string]any{"clientName": "matchmaker"})
	assert.Equal(t, "forbidden", refused["errorCode"])
	assert.Contains(t, refused["errorMessage"], "ADMIN:NAMESPACE:game2:CLIENT")
	// An admin without ADMIN:ROLE Create gets 403.
	refused = gus.must(http.StatusForbidden, "POST", "/v1/roles", map[string]any{"roleName": "Mine"})
	assert.Contains(t, refused["errorMessage"], "ADMIN:ROLE")
	gus.must(http.StatusOK, "GET", "/v1/roles", nil)

	// The client authenticates with its secret and is checked as a client.
	mm := root.basic(c1["clientId"].(string), c1["clientSecret"].(string))
	mm.must(http.StatusForbidden, "GET", "/v1/roles", nil)
	assert.True(t, root.check(map[string]any{"subject": map[string]any{"type": "client", "id": c1["clientId"]}, "namespace": "game1",
		"resource": "NAMESPACE:game1:MATCH", "action": 1}))
	assert.False(t, root.check(map[string]any{"subject": map[string]any{"type": "client", "id": c1["clientId"]}, "namespace": "game1",
		"resource": "NAMESPACE:game2:MATCH", "action": 1}))
	root.basic(c1["clientId"].(string), "glc_wrong").must(http.StatusUnauthorized, "GET", "/v1/roles", nil)
	assertNoSecretInStream(t, srv, sec)
}

// TestEscalationRefused tries every path to grant more than one holds.
func TestEscalationRefused(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	var sec secrets
	gameAdmin, superAdmin, user := roleID(t, root, "GameAdmin"), roleID(t, root, "SuperAdmin"), roleID(t, root, "User")
	// A role manager who holds ADMIN:ROLE CRUD and game1 only.
	mgr := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "RoleManager", "permissions": []map[string]any{
		{"resource": "ADMIN:ROLE", "action": 15}, {"resource": "NAMESPACE:game1:*", "action": 15}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/rita/roles", map[string]any{"roleId": mgr["roleId"], "assignedNamespaces": []string{"game1"}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/gus/roles", map[string]any{"roleId": gameAdmin, "assignedNamespaces": []string{"game1"}})
	issue := func(owner string, perms []map[string]any) *client {
		out := root.must(http.StatusCreated, "POST", "/v1/namespaces/game1/tokens", map[string]any{
			"name": owner, "owner": map[string]any{"type": "user", "id": owner}, "permissions": perms})
		return root.as(sec.add(out["token"]))
	}
	rita := issue("rita", []map[string]any{{"resource": "ADMIN:ROLE", "action": 15}, {"resource": "NAMESPACE:game1:*", "action": 15}})
	gus := issue("gus", []map[string]any{{"resource": "ADMIN:NAMESPACE:{namespace}:*", "action": 15}, {"resource": "NAMESPACE:{namespace}:*", "action": 15}})

	// Role edits: Rita manages roles but cannot put what she lacks into one.
	for _, body := range []map[string]any{
		{"roleName": "Everything", "permissions": []map[string]any{{"resource": "*", "action": 15}}},
		{"roleName": "OtherGame", "permissions": []map[string]any{{"resource": "NAMESPACE:game2:*", "action": 2}}},
		{"roleName": "AnyNamespace", "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:*", "action": 2}}},
	} {
		out := rita.must(http.StatusForbidden, "POST", "/v1/roles", body)
		assert.Equal(t, "exceedsCallerPermissions", out["errorCode"], "%v", body)
	}
	own := rita.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Game1Reader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:game1:*", "action": 2}}})
	assert.Equal(t, "exceedsCallerPermissions", rita.must(http.StatusForbidden, "POST", "/v1/roles/"+own["roleId"].(string)+"/permissions",
		map[string]any{"permissions": []map[string]any{{"resource": "ADMIN:*", "action": 15}}})["errorCode"])
	assert.Equal(t, "exceedsCallerPermissions", rita.must(http.StatusForbidden, "PUT", "/v1/roles/"+own["roleId"].(string)+"/permissions",
		map[string]any{"permissions": []map[string]any{{"resource": "*", "action": 2}}})["errorCode"])

	// Assignments: the Game Admin of game1 may give the User role there, not Super Admin.
	gus.must(http.StatusCreated, "POST", "/v1/namespaces/game1/users/newbie/roles", map[string]any{"roleId": user, "assignedNamespaces": []string{"game1"}})
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/users/newbie/roles",
		map[string]any{"roleId": superAdmin})["errorCode"])
	assert.Equal(t, "forbidden", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game2/users/newbie/roles",
		map[string]any{"roleId": user, "assignedNamespaces": []string{"game2"}})["errorCode"])
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/users/newbie/roles",
		map[string]any{"roleId": user, "assignedNamespaces": []string{"game1", "game2"}})["errorCode"], "not even through another assigned namespace")

	// Clients: no more than the creator holds, directly or through roles.
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/clients", map[string]any{
		"clientName": "god", "permissions": []map[string]any{{"resource": "*", "action": 15}}})["errorCode"])
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/clients", map[string]any{
		"clientName": "god", "roles": []string{superAdmin}})["errorCode"])
	cl := gus.must(http.StatusCreated, "POST", "/v1/namespaces/game1/clients", map[string]any{
		"clientName": "stats", "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:STATS", "action": 15}}})
	sec.add(cl["clientSecret"])
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/clients/"+cl["clientId"].(string)+"/permissions",
		map[string]any{"permissions": []map[string]any{{"resource": "ADMIN:ROLE", "action": 1}}})["errorCode"])

	// Tokens: no more than the issuing token holds.
	assert.Equal(t, "exceedsCallerPermissions", gus.must(http.StatusForbidden, "POST", "/v1/namespaces/game1/tokens", map[string]any{
		"name": "more", "permissions": []map[string]any{{"resource": "ADMIN:ROLE", "action": 1}}})["errorCode"])
	// And a token never acts beyond its own permissions: Gus's token lacks ADMIN:ROLE.
	gus.must(http.StatusForbidden, "GET", "/v1/roles", nil)
	assertNoSecretInStream(t, srv, sec)
}

// TestTimeBound: a time-bound assignment and a time-bound permission take
// effect with no command, and explanations say when the answer changes.
func TestTimeBound(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	now := time.Now().UTC()
	soon := now.Add(time.Hour).Truncate(time.Second)
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Event", "permissions": []map[string]any{
		{"resource": "NAMESPACE:{namespace}:EVENT", "action": 2},
		{"resource": "NAMESPACE:{namespace}:SHOP", "action": 2, "notBefore": soon.Format(time.RFC3339)},
	}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/g/users/ann/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"g"},
		"notAfter": soon.Format(time.RFC3339)})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/g/users/bob/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"g"},
		"notBefore": soon.Format(time.RFC3339)})
	q := func(user, res string) map[string]any {
		return root.must(http.StatusOK, "POST", "/v1/check", map[string]any{"subject": map[string]any{"type": "user", "id": user},
			"namespace": "g", "resource": res, "action": 2, "explain": true})
	}
	out := q("ann", "NAMESPACE:g:EVENT")
	assert.Equal(t, true, out["allowed"])
	assert.Equal(t, soon.Format(time.RFC3339), out["explanation"].(map[string]any)["changesAt"], "ann's assignment ends then")
	assert.Equal(t, false, q("bob", "NAMESPACE:g:EVENT")["allowed"], "bob's assignment has not started")
	shop := q("ann", "NAMESPACE:g:SHOP")
	assert.Equal(t, false, shop["allowed"], "the shop permission is not yet valid")
	assert.Equal(t, soon.Format(time.RFC3339), shop["explanation"].(map[string]any)["changesAt"])
	bad := root.must(http.StatusBadRequest, "POST", "/v1/namespaces/g/users/cy/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"g"},
		"notBefore": soon.Format(time.RFC3339), "notAfter": now.Format(time.RFC3339)})
	assert.Equal(t, "invalidTimeWindow", bad["errorCode"])
}

// TestNamespaces: explicit namespaces, studio parents, deletion ends assignments, clients and tokens.
func TestNamespaces(t *testing.T) {
	_, root := startServer(t, t.TempDir())
	root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "studio1", "defaultRoles": []string{}})
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces", map[string]any{"namespace": "racer", "parent": "studio1", "defaultRoles": []string{}})
	assert.Equal(t, "studio1", out["parent"])
	assert.Equal(t, []any{}, out["defaultRoles"])
	assert.Equal(t, "namespaceExists", root.must(http.StatusConflict, "POST", "/v1/namespaces", map[string]any{"namespace": "racer"})["errorCode"])

	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "StudioOps",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:SERVER", "action": 15}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/studio1/users/ops/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"studio1"}})
	chk := func(ns string) bool {
		return root.check(map[string]any{"subject": map[string]any{"type": "user", "id": "ops"}, "namespace": ns,
			"resource": "NAMESPACE:" + ns + ":SERVER", "action": 4})
	}
	assert.True(t, chk("studio1"))
	assert.True(t, chk("racer"), "a grant on a studio covers its games")
	assert.False(t, chk("shooter"))

	cl := root.must(http.StatusCreated, "POST", "/v1/namespaces/racer/clients", map[string]any{"clientName": "bot",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:SERVER", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/racer/users/rex/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"racer"}})
	list := root.must(http.StatusOK, "GET", "/v1/namespaces", nil)
	assert.NotEmpty(t, list["data"])
	root.must(http.StatusOK, "DELETE", "/v1/namespaces/racer", nil)
	root.must(http.StatusNotFound, "GET", "/v1/namespaces/racer/clients/"+cl["clientId"].(string), nil)
	assert.Empty(t, root.must(http.StatusOK, "GET", "/v1/namespaces/racer/users/rex/roles", nil)["data"])
	assert.Equal(t, "namespaceNotFound", root.must(http.StatusNotFound, "DELETE", "/v1/namespaces/nowhere", nil)["errorCode"])
}

// assertNoSecretInStream reads every event and requires that none of the
// secrets appears in clear.
func assertNoSecretInStream(t *testing.T, srv *server.Server, sec secrets) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := srv.JetStream().Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, sec)
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			require.ErrorIs(t, err, jetstream.ErrMsgNotFound)
			continue
		}
		for _, s := range sec {
			require.NotEmpty(t, s)
			assert.NotContains(t, string(msg.Data), s, "event %d holds a secret in clear", seq)
			// The secret's body without its prefix must not appear either.
			_, body, _ := strings.Cut(s, "_")
			assert.NotContains(t, string(msg.Data), body, "event %d holds a secret in clear", seq)
		}
	}
}
