package server_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// Credentials a parity case sends.
const (
	asAdmin      = "admin"      // the bootstrap Super Admin token
	asLow        = "low"        // a token that may only read NAMESPACE:parlow:MATCH
	asNone       = ""           // no Authorization
	asSuper      = "super"      // an IAM client (Basic) holding ADMIN:BOOTSTRAP [Read]
	asBogus      = "bogus"      // a token nobody issued
	asBogusBasic = "bogusBasic" // an IAM client that does not exist
)

// parityEnv holds the credentials of the cases.
type parityEnv struct {
	admin string
	low   string
	super string // base64 of id:secret
}

func (e *parityEnv) auth(cred string) string {
	switch cred {
	case asAdmin:
		return "Bearer " + e.admin
	case asLow:
		return "Bearer " + e.low
	case asSuper:
		return "Basic " + e.super
	case asBogus:
		return "Bearer glt_notatoken"
	case asBogusBasic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("no-such-client:secret"))
	}
	return ""
}

// parityFixture is one transport's own entities, equivalent to the other
// transport's: names carry the transport's suffix (normalized away).
type parityFixture struct {
	sfx  string
	vals map[string]string // placeholder -> value
	repl *strings.Replacer
}

// parityCase is one request of the table, sent over every transport.
type parityCase struct {
	op   string
	name string
	cred string
	// req is every field of the request, path ones included, with the
	// fixture placeholders <sfx>, <ns>, <nsv>, <role>, <victim>, <client>,
	// <clientv>, <token>.
	req map[string]any
	// raw, when set, is the body (HTTP) and payload (NATS) as is.
	raw *string
	// status and code are the expected answer (code "" for a success; a
	// success's status is the operation's).
	status int
	code   string
}

type obj = map[string]any

func ptr(s string) *string { return &s }

func okCase(op, name string, req obj) parityCase {
	return parityCase{op: op, name: name, cred: asAdmin, req: req}
}

func failCase(op, name, cred string, req obj, status int, code string) parityCase {
	return parityCase{op: op, name: name, cred: cred, req: req, status: status, code: code}
}

func rawCase(op, name, raw string, req obj, status int, code string) parityCase {
	return parityCase{op: op, name: name, cred: asAdmin, req: req, raw: ptr(raw), status: status, code: code}
}

// match is the permission the fixtures use, with action.
func match(action int) []obj {
	return []obj{{"resource": "NAMESPACE:{namespace}:MATCH", "action": action}}
}

// parityHTTPOnly are the operations served over HTTP only: the
// server-sent event streams, the public status and OpenAPI document, and
// the bootstrap credential's rotation and revocation (their answers hold
// everything).
var parityHTTPOnly = []string{"audit.stream", "audit.effects", "status", "openapi", "bootstrap.rotate", "bootstrap.revoke"}

// parityCases is the table. Cases run in order, each over HTTP then NATS,
// each transport on its own fixture.
func parityCases() []parityCase {
	far := 1_000_000_000
	// Vast.ai's permission document, as `vastai create api-key --permission_file` takes it.
	vastDoc := obj{"api": obj{"misc": obj{}, "billing_read": obj{}, "instance_read": obj{"api.instance.request_logs": obj{
		"constraints": obj{"id": obj{"gte": "$1", "lte": "$2"}}}}}}
	userCheck := func(action int) obj {
		return obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": action}
	}
	withRev := func(m obj, rev int) obj { m["atLeastRevision"] = rev; return m }
	return []parityCase{
		// Roles.
		okCase("role.create", "created", obj{"roleName": "New<sfx>", "description": "d", "permissions": match(2), "reason": "parity"}),
		failCase("role.create", "duplicate role name", asAdmin, obj{"roleName": "Base<sfx>"}, 409, "duplicateRoleName"),
		failCase("role.create", "invalid role name", asAdmin, obj{"roleName": "bad name"}, 400, "invalidRoleName"),
		failCase("role.create", "unknown field", asAdmin, obj{"roleName": "X<sfx>", "bogus": 1}, 400, "malformedJson"),
		rawCase("role.create", "malformed JSON", `{"roleName": `, nil, 400, "malformedJson"),
		rawCase("role.create", "trailing data", `{"roleName": "T<sfx>"} {}`, nil, 400, "malformedJson"),
		rawCase("role.create", "empty body", ``, nil, 400, "malformedJson"),
		rawCase("role.create", "invalid UTF-8", "{\"roleName\": \"A\xff\"}", nil, 400, "invalidUtf8"),
		rawCase("role.create", "wrong JSON type", `{"roleName": 7}`, nil, 400, "malformedJson"),
		rawCase("role.create", "null", `null`, nil, 400, "invalidRoleName"),
		rawCase("role.create", "too large", `{"roleName": "Big<sfx>", "description": "`+strings.Repeat("x", api.MaxRequestBytes)+`"}`, nil, 413, "requestTooLarge"),
		rawCase("role.create", "an array", `[]`, nil, 400, "malformedJson"),
		{op: "role.create", name: "no credential before malformed JSON", cred: asNone, raw: ptr(`{"roleName": `), status: 401, code: "unauthorized"},
		failCase("role.create", "no credential", asNone, obj{"roleName": "Y<sfx>"}, 401, "unauthorized"),
		failCase("role.create", "forbidden", asLow, obj{"roleName": "Y<sfx>"}, 403, "forbidden"),
		failCase("role.create", "bad credential", asBogus, obj{"roleName": "Y<sfx>"}, 401, "unauthorized"),
		failCase("role.get", "bad credential", asBogus, obj{"roleId": "<role>"}, 401, "unauthorized"),
		okCase("role.list", "page", obj{"limit": 1000}),
		okCase("role.list", "first page of one", obj{"limit": 1}),
		{op: "role.list", name: "empty payload", cred: asAdmin, raw: ptr(``)},
		// A bad value answers the parameter's errorCode, as over HTTP
		// (api.Op.BindHTTP), whatever the transport.
		failCase("role.list", "negative revision", asAdmin, obj{"atLeastRevision": -1}, 400, "invalidRevision"),
		failCase("role.list", "limit zero", asAdmin, obj{"limit": 0}, 400, "invalidLimit"),
		failCase("role.list", "limit too large", asAdmin, obj{"limit": 1001}, 400, "invalidLimit"),
		failCase("role.list", "limit negative", asAdmin, obj{"limit": -1}, 400, "invalidLimit"),
		failCase("role.list", "forbidden", asLow, obj{}, 403, "forbidden"),
		failCase("role.list", "no credential", asNone, obj{}, 401, "unauthorized"),
		okCase("role.get", "found", obj{"roleId": "<role>"}),
		okCase("role.get", "at an applied revision", obj{"roleId": "<role>", "atLeastRevision": 1}),
		failCase("role.get", "role not found", asAdmin, obj{"roleId": "no-such-role"}, 404, "roleNotFound"),
		failCase("role.get", "role id to escape", asAdmin, obj{"roleId": "no/such role?"}, 404, "roleNotFound"),
		failCase("role.get", "revision not yet applied", asAdmin, obj{"roleId": "<role>", "atLeastRevision": far}, 503, "revisionNotYetApplied"),
		okCase("role.update", "description", obj{"roleId": "<role>", "description": "updated"}),
		failCase("role.update", "role not found", asAdmin, obj{"roleId": "no-such-role", "description": "x"}, 404, "roleNotFound"),
		failCase("role.update", "invalid role name", asAdmin, obj{"roleId": "<role>", "roleName": "bad name"}, 400, "invalidRoleName"),
		failCase("role.update", "duplicate role name", asAdmin, obj{"roleId": "<role>", "roleName": "Victim<sfx>"}, 409, "duplicateRoleName"),
		okCase("role.delete", "deleted", obj{"roleId": "<victim>", "reason": "parity"}),
		failCase("role.delete", "role not found", asAdmin, obj{"roleId": "<victim>"}, 404, "roleNotFound"),
		okCase("role.permissions.add", "added", obj{"roleId": "<role>", "permissions": []obj{{"resource": "NAMESPACE:{namespace}:LOBBY", "action": 2}}}),
		failCase("role.permissions.add", "permissions missing", asAdmin, obj{"roleId": "<role>"}, 400, "invalidPermission"),
		failCase("role.permissions.add", "role not found", asAdmin, obj{"roleId": "no-such-role", "permissions": match(1)}, 404, "roleNotFound"),
		okCase("role.permissions.replace", "replaced", obj{"roleId": "<role>", "permissions": []obj{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 3}, {"resource": "NAMESPACE:{namespace}:LOBBY", "action": 2}}}),
		failCase("role.permissions.replace", "role not found", asAdmin, obj{"roleId": "no-such-role", "permissions": match(1)}, 404, "roleNotFound"),
		okCase("role.permissions.remove", "removed", obj{"roleId": "<role>", "permissions": []obj{{"resource": "NAMESPACE:{namespace}:LOBBY", "action": 2}}}),
		failCase("role.permissions.remove", "forbidden", asLow, obj{"roleId": "<role>", "permissions": match(1)}, 403, "forbidden"),
		okCase("role.members", "members", obj{"roleId": "<role>"}),
		failCase("role.members", "limit out of range", asAdmin, obj{"roleId": "<role>", "limit": 0}, 400, "invalidLimit"),
		failCase("role.members", "role not found", asAdmin, obj{"roleId": "no-such-role"}, 404, "roleNotFound"),

		// Assignments.
		okCase("assign", "assigned", obj{"namespace": "<ns>", "userId": "u2", "roleId": "<role>", "assignedNamespaces": []string{"<ns>"}}),
		failCase("assign", "role missing", asAdmin, obj{"namespace": "<ns>", "userId": "u2"}, 400, "invalidRoleId"),
		failCase("assign", "role not found", asAdmin, obj{"namespace": "<ns>", "userId": "u2", "roleId": "no-such-role", "assignedNamespaces": []string{"<ns>"}}, 404, "roleNotFound"),
		failCase("assign", "invalid user id", asAdmin, obj{"namespace": "<ns>", "userId": "bad id", "roleId": "<role>", "assignedNamespaces": []string{"<ns>"}}, 400, "invalidUserId"),
		okCase("user.roles", "roles", obj{"namespace": "<ns>", "userId": "u1"}),
		failCase("user.roles", "invalid user id", asAdmin, obj{"namespace": "<ns>", "userId": "bad id"}, 400, "invalidUserId"),
		failCase("user.roles", "forbidden", asLow, obj{"namespace": "<ns>", "userId": "u1"}, 403, "forbidden"),
		// Reverse lookups.
		okCase("subject.permissions", "user", obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1"}),
		okCase("subject.permissions", "page of one", obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1", "limit": 1}),
		failCase("subject.permissions", "invalid subject type", asAdmin, obj{"namespace": "<ns>", "subjectType": "group", "subjectId": "u1"}, 400, "invalidSubject"),
		failCase("subject.permissions", "client not found", asAdmin, obj{"namespace": "<ns>", "subjectType": "client", "subjectId": "no-such-client"}, 404, "clientNotFound"),
		failCase("subject.permissions", "forbidden", asLow, obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1"}, 403, "forbidden"),
		okCase("subject.timeline", "user", obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1"}),
		okCase("subject.timeline", "page of one", obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1", "limit": 1}),
		okCase("subject.timeline", "one resource", obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1",
			"resource": "NAMESPACE:<ns>:MATCH", "action": 2}),
		failCase("subject.timeline", "invalid subject type", asAdmin, obj{"namespace": "<ns>", "subjectType": "group", "subjectId": "u1"}, 400, "invalidSubject"),
		failCase("subject.timeline", "invalid after", asAdmin, obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1", "after": "x"}, 400, "invalidCursor"),
		failCase("subject.timeline", "forbidden", asLow, obj{"namespace": "<ns>", "subjectType": "user", "subjectId": "u1"}, 403, "forbidden"),
		// Users come first, by id; tokens come last, by their (random) id,
		// which differs between the fixtures: a page of the users only.
		okCase("permission.holders", "holders", obj{"namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 2, "limit": 4}),
		okCase("permission.holders", "page of one", obj{"namespace": "<ns>", "resource": "NAMESPACE:{namespace}:MATCH", "action": 2, "limit": 1}),
		failCase("permission.holders", "invalid action", asAdmin, obj{"namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 0}, 400, "invalidAction"),
		failCase("permission.holders", "invalid cursor", asAdmin, obj{"namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 2, "after": "nope"}, 400, "invalidCursor"),
		failCase("permission.holders", "forbidden", asLow, obj{"namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 2}, 403, "forbidden"),
		okCase("unassign", "unassigned", obj{"namespace": "<ns>", "userId": "u9", "roleId": "<role>"}),
		failCase("unassign", "not assigned", asAdmin, obj{"namespace": "<ns>", "userId": "u9", "roleId": "<role>"}, 404, "assignmentNotFound"),
		okCase("assign.batch", "assigned", obj{"namespace": "<ns>", "assignments": []obj{
			{"userId": "u3", "roleId": "<role>", "assignedNamespaces": []string{"<ns>"}},
			{"userId": "u4", "roleId": "<role>", "assignedNamespaces": []string{"<ns>"}}}}),
		failCase("assign.batch", "empty batch", asAdmin, obj{"namespace": "<ns>", "assignments": []obj{}}, 400, "invalidBatch"),
		failCase("assign.batch", "role not found", asAdmin, obj{"namespace": "<ns>", "assignments": []obj{
			{"userId": "u5", "roleId": "no-such-role", "assignedNamespaces": []string{"<ns>"}}}}, 404, "roleNotFound"),
		okCase("transaction", "role created and assigned", obj{"reason": "parity", "steps": []obj{
			{"op": "role.create", "request": obj{"roleId": "tx<sfx>", "roleName": "Tx<sfx>", "permissions": match(2)}},
			{"op": "assign", "request": obj{"namespace": "<ns>", "userId": "u6", "roleId": "tx<sfx>", "assignedNamespaces": []string{"<ns>"}}}}}),
		failCase("transaction", "last step refused", asAdmin, obj{"steps": []obj{
			{"op": "role.create", "request": obj{"roleName": "TxDoomed<sfx>"}},
			{"op": "assign", "request": obj{"namespace": "<ns>", "userId": "u6", "roleId": "no-such-role", "assignedNamespaces": []string{"<ns>"}}}}}, 404, "roleNotFound"),
		failCase("transaction", "not a step", asAdmin, obj{"steps": []obj{{"op": "token.issue", "request": obj{}}}}, 400, "invalidStep"),
		failCase("transaction", "forbidden", asLow, obj{"steps": []obj{{"op": "role.create", "request": obj{"roleName": "TxLow<sfx>"}}}}, 403, "forbidden"),
		okCase("whatif", "a role edit and a refused assignment", obj{"commands": []obj{
			{"name": "role.permissions.remove", "request": obj{"roleId": "<role>", "permissions": match(2)}},
			{"name": "assign", "request": obj{"namespace": "<ns>", "userId": "u7", "roleId": "no-such-role", "assignedNamespaces": []string{"<ns>"}}}}}),
		okCase("whatif", "one page", obj{"limit": 1, "commands": []obj{
			{"name": "assign", "request": obj{"namespace": "<ns>", "userId": "u8", "roleId": "<role>", "assignedNamespaces": []string{"<ns>"}}}}}),
		failCase("whatif", "no command", asAdmin, obj{"commands": []obj{}}, 400, "invalidWhatIf"),
		failCase("whatif", "bad limit", asAdmin, obj{"limit": 5000, "commands": []obj{{"name": "role.delete", "request": obj{"roleId": "<role>"}}}}, 400, "invalidLimit"),

		// Checks.
		okCase("check", "allowed", userCheck(2)),
		okCase("check", "denied", userCheck(4)),
		okCase("check", "explained", func() obj { m := userCheck(2); m["explain"] = true; return m }()),
		okCase("check", "endpoint", obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>", "endpoint": obj{"service": "svc<sfx>", "name": "get"}}),
		okCase("check", "endpoint by raw path", obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>",
			"endpoint": obj{"service": "svc<sfx>", "method": "GET", "path": "/get?x=1"}}),
		failCase("check", "endpoint path not in the catalog", asAdmin, obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>",
			"endpoint": obj{"method": "GET", "path": "/nowhere/at/all"}}, 404, "endpointNotFound"),
		failCase("check", "endpoint by name and path", asAdmin, obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>",
			"endpoint": obj{"service": "svc<sfx>", "name": "get", "method": "GET", "path": "/get"}}, 400, "invalidEndpoint"),
		failCase("check", "endpoint by raw path, forbidden", asLow, obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>",
			"endpoint": obj{"service": "svc<sfx>", "method": "GET", "path": "/get"}}, 403, "forbidden"),
		failCase("check", "no credential", asNone, userCheck(2), 401, "unauthorized"),
		failCase("check", "forbidden", asLow, userCheck(2), 403, "forbidden"),
		failCase("check", "unknown field", asAdmin, func() obj { m := userCheck(2); m["bogus"] = true; return m }(), 400, "malformedJson"),
		rawCase("check", "malformed JSON", `{"subject": {`, nil, 400, "malformedJson"),
		rawCase("check", "empty body", ``, nil, 400, "malformedJson"),
		rawCase("check", "too large", `{"namespace": "`+strings.Repeat("x", api.MaxRequestBytes)+`"}`, nil, 413, "requestTooLarge"),
		rawCase("check", "invalid UTF-8", "{\"namespace\": \"\xc3\"}", nil, 400, "invalidUtf8"),
		failCase("check", "invalid subject", asAdmin, obj{"subject": obj{"type": "robot", "id": "u1"}, "namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 2}, 400, "invalidSubject"),
		failCase("check", "revision not yet applied", asAdmin, withRev(userCheck(2), far), 503, "revisionNotYetApplied"),
		// History (issue 17): a check at a past revision or instant.
		okCase("check", "at revision", func() obj { m := userCheck(2); m["atRevision"] = 1; return m }()),
		okCase("check", "as of", func() obj { m := userCheck(2); m["asOf"] = "2020-01-01T00:00:00Z"; m["explain"] = true; return m }()),
		failCase("check", "atRevision and asOf", asAdmin, func() obj { m := userCheck(2); m["atRevision"] = 1; m["asOf"] = "2020-01-01T00:00:00Z"; return m }(),
			400, "conflictingRevisions"),
		failCase("check", "atRevision and atLeastRevision", asAdmin, func() obj { m := withRev(userCheck(2), 1); m["atRevision"] = 1; return m }(),
			400, "conflictingRevisions"),
		failCase("check", "atRevision beyond the head", asAdmin, func() obj { m := userCheck(2); m["atRevision"] = far; return m }(),
			503, "revisionNotYetApplied"),
		failCase("check", "asOf in the future", asAdmin, func() obj { m := userCheck(2); m["asOf"] = "2999-01-01T00:00:00Z"; return m }(),
			400, "asOfInFuture"),
		failCase("check", "past, forbidden", asLow, func() obj { m := userCheck(2); m["atRevision"] = 1; return m }(), 403, "forbidden"),
		okCase("checks", "allowed and denied", obj{"checks": []obj{userCheck(2), userCheck(4),
			{"subject": obj{"type": "robot", "id": "u1"}, "namespace": "<ns>", "resource": "NAMESPACE:<ns>:MATCH", "action": 2}}}),
		failCase("checks", "empty batch", asAdmin, obj{"checks": []obj{}}, 400, "emptyBatch"),
		okCase("checks", "past and current", obj{"checks": []obj{
			func() obj { m := userCheck(2); m["atRevision"] = 1; return m }(), userCheck(2),
			func() obj { m := userCheck(2); m["asOf"] = "2020-01-01T00:00:00Z"; return m }(),
			func() obj { m := userCheck(2); m["atRevision"] = 1; m["asOf"] = "2020-01-01T00:00:00Z"; return m }(),
		}}),
		failCase("checks", "forbidden", asLow, obj{"checks": []obj{userCheck(2)}}, 403, "forbidden"),
		failCase("checks", "no credential", asNone, obj{"checks": []obj{userCheck(2)}}, 401, "unauthorized"),
		rawCase("checks", "trailing data", `{"checks": []} {}`, nil, 400, "malformedJson"),
		failCase("checks", "unknown field", asAdmin, obj{"checks": []obj{userCheck(2)}, "bogus": 1}, 400, "malformedJson"),
		rawCase("checks", "invalid UTF-8", "{\"checks\": [{\"namespace\": \"\xff\"}]}", nil, 400, "invalidUtf8"),
		failCase("checks", "revision not yet applied", asAdmin, obj{"checks": []obj{userCheck(2)}, "atLeastRevision": far}, 503, "revisionNotYetApplied"),

		// Namespaces.
		okCase("namespace.create", "created", obj{"namespace": "pnew-<sfx>", "defaultRoles": []string{}}),
		failCase("namespace.create", "invalid namespace", asAdmin, obj{"namespace": "bad ns"}, 400, "invalidNamespace"),
		failCase("namespace.create", "exists", asAdmin, obj{"namespace": "<ns>"}, 409, "namespaceExists"),
		okCase("namespace.list", "list", obj{}),
		failCase("namespace.list", "revision not yet applied", asAdmin, obj{"atLeastRevision": far}, 503, "revisionNotYetApplied"),
		okCase("namespace.get", "found", obj{"namespace": "<ns>"}),
		failCase("namespace.get", "not found", asAdmin, obj{"namespace": "nope-<sfx>"}, 404, "namespaceNotFound"),
		// A parameter the operation does not take is refused, whatever the
		// transport (an HTTP query parameter, a NATS field).
		failCase("namespace.get", "unknown field", asAdmin, obj{"namespace": "<ns>", "bogus": "1"}, 400, "unknownParameter"),
		okCase("namespace.delete", "deleted", obj{"namespace": "<nsv>"}),
		failCase("namespace.delete", "forbidden", asLow, obj{"namespace": "<ns>"}, 403, "forbidden"),

		// IAM clients.
		okCase("client.create", "created", obj{"namespace": "<ns>", "clientName": "c2", "permissions": match(2)}),
		failCase("client.create", "name missing", asAdmin, obj{"namespace": "<ns>", "permissions": match(2)}, 400, "invalidName"),
		okCase("client.list", "list", obj{"namespace": "<ns>"}),
		failCase("client.list", "invalid namespace", asAdmin, obj{"namespace": "bad ns"}, 400, "invalidNamespace"),
		okCase("client.get", "found", obj{"namespace": "<ns>", "clientId": "<client>"}),
		failCase("client.get", "not found", asAdmin, obj{"namespace": "<ns>", "clientId": "no-such-client"}, 404, "clientNotFound"),
		okCase("client.update", "renamed", obj{"namespace": "<ns>", "clientId": "<client>", "clientName": "renamed"}),
		failCase("client.update", "nothing to update", asAdmin, obj{"namespace": "<ns>", "clientId": "<client>"}, 400, "emptyUpdate"),
		okCase("client.delete", "deleted", obj{"namespace": "<ns>", "clientId": "<clientv>"}),
		failCase("client.delete", "not found", asAdmin, obj{"namespace": "<ns>", "clientId": "<clientv>"}, 404, "clientNotFound"),
		okCase("client.permissions.add", "added", obj{"namespace": "<ns>", "clientId": "<client>", "permissions": match(4)}),
		failCase("client.permissions.add", "permissions missing", asAdmin, obj{"namespace": "<ns>", "clientId": "<client>"}, 400, "invalidPermission"),
		okCase("client.permissions.replace", "replaced", obj{"namespace": "<ns>", "clientId": "<client>", "permissions": match(3)}),
		failCase("client.permissions.replace", "not found", asAdmin, obj{"namespace": "<ns>", "clientId": "no-such-client", "permissions": match(3)}, 404, "clientNotFound"),
		okCase("client.permissions.remove", "removed", obj{"namespace": "<ns>", "clientId": "<client>", "permissions": match(3)}),
		failCase("client.permissions.remove", "forbidden", asLow, obj{"namespace": "<ns>", "clientId": "<client>", "permissions": match(3)}, 403, "forbidden"),

		// Tokens.
		okCase("token.issue", "issued", obj{"namespace": "<ns>", "name": "t2", "permissions": match(2), "owner": obj{"type": "user", "id": "u1"}}),
		failCase("token.issue", "no permissions", asAdmin, obj{"namespace": "<ns>", "name": "t3"}, 400, "noPermissions"),
		failCase("token.issue", "unknown scope", asAdmin, obj{"namespace": "<ns>", "name": "t3", "scopes": []string{"no-such-scope"}}, 400, "unknownScope"),
		okCase("token.issue", "Vast.ai permission file with params", obj{"namespace": "<ns>", "name": "tv", "vastPermissions": vastDoc, "params": []any{100, "200"}}),
		failCase("token.issue", "Vast.ai unknown category", asAdmin, obj{"namespace": "<ns>", "name": "tv", "vastPermissions": obj{"api": obj{"gpu_read": obj{}}}}, 400, "invalidVastPermissions"),
		failCase("token.issue", "Vast.ai unknown operator", asAdmin, obj{"namespace": "<ns>", "name": "tv",
			"vastPermissions": obj{"api": obj{"instance_read": obj{"api.instance.request_logs": obj{"constraints": obj{"id": obj{"between": []int{1, 2}}}}}}}}, 400, "invalidVastPermissions"),
		failCase("token.issue", "Vast.ai unbound param", asAdmin, obj{"namespace": "<ns>", "name": "tv", "vastPermissions": vastDoc, "params": []any{100}}, 400, "invalidPermission"),
		failCase("token.issue", "Vast.ai file beyond the caller", asLow, obj{"namespace": "<ns>", "name": "tv", "vastPermissions": vastDoc, "params": []any{100, 200}}, 403, "forbidden"),
		okCase("token.list", "list", obj{"namespace": "<ns>"}),
		{op: "token.list", name: "filtered for a low-privilege caller", cred: asLow, req: obj{"namespace": "<ns>"}},
		failCase("token.list", "invalid namespace", asAdmin, obj{"namespace": "bad ns"}, 400, "invalidNamespace"),
		okCase("token.revoke", "revoked", obj{"namespace": "<ns>", "tokenId": "<token>"}),
		failCase("token.revoke", "not found", asAdmin, obj{"namespace": "<ns>", "tokenId": "no-such-token"}, 404, "tokenNotFound"),

		// Scopes.
		okCase("scope.define", "defined", obj{"name": "sc2-<sfx>", "description": "d", "permissions": match(2), "includes": []string{"sc-<sfx>"}}),
		failCase("scope.define", "invalid name", asAdmin, obj{"name": "bad name", "description": "d", "permissions": match(2)}, 400, "invalidScope"),
		okCase("scope.list", "list", obj{}),
		failCase("scope.list", "no credential", asNone, obj{}, 401, "unauthorized"),
		okCase("scope.get", "found", obj{"name": "sc-<sfx>"}),
		failCase("scope.get", "not found", asAdmin, obj{"name": "nope-<sfx>"}, 404, "scopeNotFound"),
		okCase("scope.delete", "deleted", obj{"name": "scv-<sfx>"}),
		failCase("scope.delete", "not found", asAdmin, obj{"name": "scv-<sfx>"}, 404, "scopeNotFound"),

		// Endpoints.
		okCase("endpoint.register", "registered", obj{"service": "svc<sfx>", "endpoint": "put", "method": "PUT", "path": "/put", "resource": "NAMESPACE:{namespace}:MATCH", "action": 4}),
		failCase("endpoint.register", "invalid action", asAdmin, obj{"service": "svc<sfx>", "endpoint": "put", "method": "PUT", "path": "/put", "resource": "NAMESPACE:{namespace}:MATCH", "action": 99}, 400, "invalidPermission"),
		okCase("endpoint.list", "list", obj{}),
		failCase("endpoint.list", "revision not yet applied", asAdmin, obj{"atLeastRevision": far}, 503, "revisionNotYetApplied"),
		okCase("endpoint.delete", "deleted", obj{"service": "svc<sfx>", "endpoint": "del"}),
		failCase("endpoint.delete", "not found", asAdmin, obj{"service": "svc<sfx>", "endpoint": "del"}, 404, "endpointNotFound"),

		// Presets and catalogs.
		okCase("preset.list", "list", obj{}),
		{op: "preset.list", name: "empty payload", cred: asAdmin, raw: ptr(``)},
		failCase("preset.list", "no credential", asNone, obj{}, 401, "unauthorized"),
		okCase("preset.apply", "already applied", obj{"name": "hathora"}),
		failCase("preset.apply", "not found", asAdmin, obj{"name": "no-such-preset"}, 404, "presetNotFound"),
		okCase("catalog.scopes.load", "loaded", obj{"name": "vastai"}),
		failCase("catalog.scopes.load", "not found", asAdmin, obj{"name": "no-such-catalog"}, 404, "catalogNotFound"),
		failCase("catalog.endpoints.load", "forbidden", asLow, obj{"name": "accelbyte"}, 403, "forbidden"),
		okCase("catalog.endpoints.load", "loaded", obj{"name": "accelbyte"}),
		okCase("check", "AccelByte endpoint by raw path", obj{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>",
			"endpoint": obj{"method": "GET", "path": "/iam/v3/admin/namespaces/<ns>/clients/abc"}, "explain": true}),
		okCase("checks", "AccelByte endpoints by raw path", obj{"checks": []obj{
			{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>", "endpoint": obj{"method": "DELETE", "path": "/iam/namespaces/<ns>/clients/abc"}},
			{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>", "endpoint": obj{"method": "GET", "path": "/nowhere"}},
			{"subject": obj{"type": "user", "id": "u1"}, "namespace": "<ns>", "endpoint": obj{"service": "iam", "name": "DeleteClientByNamespace",
				"params": obj{"namespace": "<ns>", "clientId": "abc"}}},
		}}),
		failCase("catalog.endpoints.load", "not found", asAdmin, obj{"name": "no-such-catalog"}, 404, "catalogNotFound"),

		// Audit.
		okCase("audit.list", "namespace page", obj{"namespace": []string{"<ns>"}, "type": []string{"user.role_assigned.v1"}, "limit": 1}),
		failCase("audit.list", "unknown type", asAdmin, obj{"type": []string{"role.assigned.v1"}}, 400, "invalidFilter"),
		failCase("audit.list", "limit out of range", asAdmin, obj{"limit": 0}, 400, "invalidLimit"),
		failCase("audit.list", "invalid since", asAdmin, obj{"since": "yesterday"}, 400, "invalidSince"),

		// Administration.
		okCase("snapshot.take", "taken", obj{}),
		failCase("snapshot.take", "forbidden", asLow, obj{}, 403, "forbidden"),
		okCase("bootstrap.get", "list", obj{}),
		failCase("bootstrap.get", "forbidden", asLow, obj{}, 403, "forbidden"),
		{op: "bootstrap.get", name: "as an IAM client", cred: asSuper, req: obj{}},
		failCase("bootstrap.get", "bad Basic credential", asBogusBasic, obj{}, 401, "unauthorized"),
	}
}

// newParityFixture makes one transport's entities over HTTP.
func newParityFixture(t *testing.T, c *client, sfx string) *parityFixture {
	t.Helper()
	ns, nsv := "par-"+sfx, "parv-"+sfx
	fx := &parityFixture{sfx: sfx, vals: map[string]string{"<sfx>": sfx, "<ns>": ns, "<nsv>": nsv}}
	c.must(http.StatusCreated, "POST", "/v1/namespaces", obj{"namespace": ns, "defaultRoles": []string{}})
	c.must(http.StatusCreated, "POST", "/v1/namespaces", obj{"namespace": nsv, "defaultRoles": []string{}})
	role := c.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "Base" + sfx, "permissions": match(3)})
	fx.vals["<role>"] = role["roleId"].(string)
	victim := c.must(http.StatusCreated, "POST", "/v1/roles", obj{"roleName": "Victim" + sfx, "permissions": match(1)})
	fx.vals["<victim>"] = victim["roleId"].(string)
	for _, u := range []string{"u1", "u9"} {
		c.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/users/"+u+"/roles", obj{"roleId": fx.vals["<role>"], "assignedNamespaces": []string{ns}})
	}
	cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/clients", obj{"clientName": "cli", "permissions": match(2)})
	fx.vals["<client>"] = cl["clientId"].(string)
	clv := c.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/clients", obj{"clientName": "victim", "permissions": match(2)})
	fx.vals["<clientv>"] = clv["clientId"].(string)
	tok := c.must(http.StatusCreated, "POST", "/v1/namespaces/"+ns+"/tokens", obj{"name": "tok", "permissions": match(2)})
	fx.vals["<token>"] = tok["tokenId"].(string)
	for _, s := range []string{"sc-", "scv-"} {
		c.must(http.StatusOK, "PUT", "/v1/scopes/"+s+sfx, obj{"description": "d", "permissions": match(2)})
	}
	for _, ep := range []string{"get", "del"} {
		c.must(http.StatusOK, "PUT", "/v1/endpoints/svc"+sfx+"/"+ep, obj{"method": "GET", "path": "/" + ep, "resource": "NAMESPACE:{namespace}:MATCH", "action": 2})
	}
	var pairs []string
	for k, v := range fx.vals {
		pairs = append(pairs, k, v)
	}
	fx.repl = strings.NewReplacer(pairs...)
	return fx
}

// TestParity: every operation of the table served over NATS answers
// exactly as over HTTP (status, errorCode, the reply's JSON up to ids,
// revisions, times and secrets), for successes and refusals alike; the
// operations without a subject are exactly the HTTP-only ones, and every
// operation with one has a success and a failure case here.
func TestParity(t *testing.T) {
	cases := parityCases()
	t.Run("coverage", func(t *testing.T) {
		var noSubject []string
		for _, o := range api.Table() {
			if o.Subject == "" && o.Compat == "" { // a seed system's own API is HTTP only by design
				noSubject = append(noSubject, o.Name)
			}
		}
		want := append([]string(nil), parityHTTPOnly...)
		sort.Strings(want)
		sort.Strings(noSubject)
		assert.Equal(t, want, noSubject, "the HTTP-only operations are exactly those without a NATS subject")
		success, failure := map[string]int{}, map[string]int{}
		for _, c := range cases {
			o, ok := api.ByName(c.op)
			if !assert.True(t, ok, "case %s/%s: no operation %s", c.op, c.name, c.op) {
				continue
			}
			assert.NotEmpty(t, o.Subject, "case %s/%s: %s is HTTP only", c.op, c.name, c.op)
			if c.code == "" {
				success[c.op]++
			} else {
				failure[c.op]++
			}
		}
		for _, o := range api.Table() {
			if o.Subject == "" {
				continue
			}
			assert.Positive(t, success[o.Name], "%s has no parity success case", o.Name)
			assert.Positive(t, failure[o.Name], "%s has no parity failure case", o.Name)
		}
	})
	if t.Failed() {
		return
	}

	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0", MaxWait: 300 * time.Millisecond}, "")
	root := n.c
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	// Shared state: the preset is applied once (so that applying it again
	// answers the same on both transports), a low-privilege token and an
	// IAM client (Basic credentials) that may read the bootstrap
	// credential.
	root.must(http.StatusOK, "POST", "/v1/presets/hathora", nil)
	low := root.must(http.StatusCreated, "POST", "/v1/namespaces/parlow/tokens", obj{"name": "low", "permissions": match(2)})
	sup := root.must(http.StatusCreated, "POST", "/v1/namespaces/parsuper/clients", obj{"clientName": "super",
		"permissions": []obj{{"resource": "ADMIN:BOOTSTRAP", "action": 2}}})
	env := &parityEnv{admin: root.token, low: low["token"].(string),
		super: base64.StdEncoding.EncodeToString([]byte(sup["clientId"].(string) + ":" + sup["clientSecret"].(string)))}

	t.Run("HTTP-only operations have no NATS responder", func(t *testing.T) {
		for _, name := range parityHTTPOnly {
			o, _ := api.ByName(name)
			subject := api.ReadSubjectPrefix + "." + name
			if o.Kind == api.Command {
				subject = api.CommandSubjectPrefix + "." + name
			}
			_, err := nc.Request(subject, []byte("{}"), 2*time.Second)
			assert.ErrorIs(t, err, nats.ErrNoResponders, "%s: %s", name, subject)
		}
	})

	transports := []parityTransport{
		httpTransport{base: "http://" + n.srv.HTTPAddr(), hc: &http.Client{Timeout: 10 * time.Second}},
		natsTransport{nc: nc},
	}
	fixtures := []*parityFixture{newParityFixture(t, root, "qqh"), newParityFixture(t, root, "qqn")}
	sfx := []string{fixtures[0].sfx, fixtures[1].sfx}

	for i, c := range cases {
		requestID := fmt.Sprintf("parity-%d", i)
		t.Run(c.op+"/"+c.name, func(t *testing.T) {
			op, _ := api.ByName(c.op)
			wantStatus := c.status
			if c.code == "" {
				wantStatus = op.Status
			}
			var got [2]parityReply
			for j, tr := range transports {
				fx := fixtures[j]
				req := paritySubst(t, fx.repl, c.req)
				var raw *string
				if c.raw != nil {
					s := fx.repl.Replace(*c.raw)
					raw = &s
				}
				got[j] = tr.send(t, op, req, raw, env.auth(c.cred), requestID)
				assert.Equal(t, wantStatus, got[j].status, "%s over %s: %s", c.op, tr.name(), got[j].body)
				assert.Equal(t, c.code, got[j].code, "%s over %s: %s", c.op, tr.name(), got[j].body)
			}
			h, m := got[0], got[1]
			assert.Equal(t, h.status, m.status, "status: HTTP %s\nNATS %s", h.body, m.body)
			assert.Equal(t, h.code, m.code, "errorCode: HTTP %s\nNATS %s", h.body, m.body)
			assert.Equal(t, h.requestID, m.requestID, "%s header of the reply (sent %s)", api.RequestIDHeader, requestID)
			hn, mn := parityNormalize(t, h.body, sfx...), parityNormalize(t, m.body, sfx...)
			assert.Equal(t, parityJSON(hn), parityJSON(mn), "normalized replies differ:\nHTTP %s\nNATS %s", h.body, m.body)
		})
	}
}
