package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
)

// The contract of AccelByte IAM's role API, generated from the subset of
// AccelByte's own published spec in testdata/accelbyte-iam-roles.json
// (Swagger 2.0; AccelByte/accelbyte-go-sdk spec/iam.json, MIT License):
// every operation is served at its path with its method, refuses a caller
// without its x-security permission (403, nothing appended) and, for a
// caller with it, answers its success status with a body that validates
// against the spec's response model (swaggerValidate below: $ref, type,
// required, properties, items; what the subset uses).

type swagger struct {
	Definitions map[string]*swaggerSchema              `json:"definitions"`
	Paths       map[string]map[string]swaggerOperation `json:"paths"`
}

type swaggerOperation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name     string         `json:"name"`
		In       string         `json:"in"`
		Required bool           `json:"required"`
		Schema   *swaggerSchema `json:"schema"`
	} `json:"parameters"`
	Responses map[string]struct {
		Schema *swaggerSchema `json:"schema"`
	} `json:"responses"`
	Security []struct {
		UserPermissions []string `json:"userPermissions"`
	} `json:"x-security"`
}

type swaggerSchema struct {
	Ref        string                    `json:"$ref"`
	Type       string                    `json:"type"`
	Required   []string                  `json:"required"`
	Properties map[string]*swaggerSchema `json:"properties"`
	Items      *swaggerSchema            `json:"items"`
}

func loadSwagger(t *testing.T) *swagger {
	t.Helper()
	data, err := os.ReadFile("testdata/accelbyte-iam-roles.json")
	require.NoError(t, err)
	var s swagger
	require.NoError(t, json.Unmarshal(data, &s))
	return &s
}

func (s *swagger) resolve(sc *swaggerSchema) *swaggerSchema {
	for sc != nil && sc.Ref != "" {
		sc = s.Definitions[strings.TrimPrefix(sc.Ref, "#/definitions/")]
	}
	return sc
}

// swaggerValidate returns the ways v (decoded JSON) breaks schema sc.
func (s *swagger) validate(sc *swaggerSchema, v any, at string) []string {
	ref := sc.Ref
	sc = s.resolve(sc)
	if sc == nil {
		return []string{at + ": unresolvable schema " + ref}
	}
	typ := sc.Type
	if typ == "" && sc.Properties != nil {
		typ = "object"
	}
	var errs []string
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", at, v)}
		}
		for _, r := range sc.Required {
			if _, ok := m[r]; !ok {
				errs = append(errs, at+"."+r+": required field missing")
			}
		}
		for name, p := range sc.Properties {
			if pv, ok := m[name]; ok {
				errs = append(errs, s.validate(p, pv, at+"."+name)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", at, v)}
		}
		for i, e := range a {
			errs = append(errs, s.validate(sc.Items, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a string, got %T", at, v))
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			errs = append(errs, fmt.Sprintf("%s: want an integer, got %v", at, v))
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a number, got %T", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a boolean, got %T", at, v))
		}
	}
	return errs
}

// abFixture is what one operation's case runs against: a role assigned
// to a user in namespace foo, and an IAM client of foo.
type abFixture struct {
	n                int
	role, user       string
	client, roleName string
}

const (
	abNS       = "foo"
	abResource = "NAMESPACE:foo:THING"
)

// sample is a value for a field named name of schema sc: the fixture's
// ids where the name says so, otherwise the smallest valid value (the
// required fields of an object only).
func (s *swagger) sample(sc *swaggerSchema, name string, fx *abFixture) any {
	sc = s.resolve(sc)
	switch name {
	case "permissions", "clientPermissions":
		return []any{map[string]any{"resource": abResource, "action": 2}}
	case "members":
		return []any{map[string]any{"userId": fx.user, "namespace": abNS, "displayName": ""}}
	case "managers":
		return []any{}
	case "assignedNamespaces":
		return []any{abNS}
	case "clientIds":
		return []any{fx.client}
	}
	switch sc.Type {
	case "", "object":
		m := map[string]any{}
		for _, r := range sc.Required {
			m[r] = s.sample(sc.Properties[r], r, fx)
		}
		return m
	case "array":
		return []any{}
	case "integer":
		if name == "action" {
			return 2
		}
		return 0
	case "boolean":
		return false
	}
	switch name {
	case "roleId":
		return fx.role
	case "userId":
		return fx.user
	case "namespace":
		return abNS
	case "roleName":
		return fmt.Sprintf("Renamed%d", fx.n)
	case "clientName":
		return fmt.Sprintf("client%d", fx.n)
	case "resource":
		return abResource
	case "secret", "clientId":
		return ""
	}
	return "x"
}

// body is the request body of op: the spec's body schema sampled; a body
// that is a list is of the fixture's role ids (a user's roles) or of
// resources (a role's permissions).
func (s *swagger) body(op swaggerOperation, path string, fx *abFixture) (any, bool) {
	for _, p := range op.Parameters {
		if p.In != "body" {
			continue
		}
		sc := s.resolve(p.Schema)
		if sc.Type == "array" {
			items := s.resolve(sc.Items)
			switch {
			case items.Type == "object" || items.Properties != nil:
				return []any{s.sample(items, "", fx)}, true
			case strings.Contains(path, "/users/"):
				return []any{fx.role}, true
			default:
				return []any{abResource}, true
			}
		}
		return s.sample(sc, "", fx), true
	}
	return nil, false
}

// abExtra is what Grantlog's own command needs beyond the x-security
// permission ({userId}: the fixture's user), for the operations where
// Grantlog is stricter than AccelByte: assigning or unassigning a role
// needs ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId} [UPDATE] (where
// AccelByte asks ADMIN:ROLE [UPDATE], or [DELETE] to unassign); granting
// permissions (to a role or a client) needs holding them.
var abExtra = map[string][]map[string]any{
	"AdminAddRoleMembersV3":         {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminRemoveRoleMembersV3":      {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminAssignUserToRoleV4":       {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminRevokeUserFromRoleV4":     {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminRemoveUserRoleV4":         {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminDeleteUserRolesV3":        {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:{userId}", "action": 4}},
	"AdminDeleteUserRoleV3":         {{"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:{userId}", "action": 4}},
	"AdminCreateRoleV3":             {{"resource": abResource, "action": 2}, {"resource": "ADMIN:NAMESPACE:foo:ROLE:USER:*", "action": 4}},
	"AdminAddRolePermissionsV4":     {{"resource": abResource, "action": 2}},
	"AdminUpdateRolePermissionsV4":  {{"resource": abResource, "action": 2}},
	"AdminAddRolePermissionsV3":     {{"resource": abResource, "action": 2}},
	"AdminUpdateRolePermissionsV3":  {{"resource": abResource, "action": 2}},
	"AdminCreateClientV3":           {{"resource": abResource, "action": 2}},
	"AdminBulkUpdateClientsV3":      {{"resource": abResource, "action": 2}},
	"AdminUpdateClientV3":           {{"resource": abResource, "action": 2}},
	"AdminAddClientPermissionsV3":   {{"resource": abResource, "action": 2}},
	"AdminUpdateClientPermissionV3": {{"resource": abResource, "action": 2}},
}

var abActions = map[string]int{"CREATE": 1, "READ": 2, "UPDATE": 4, "DELETE": 8}

// abRequired is op's x-security permission bound to the fixture.
func abRequired(t *testing.T, op swaggerOperation, fx *abFixture) (string, int) {
	t.Helper()
	require.Len(t, op.Security, 1, op.OperationID)
	require.Len(t, op.Security[0].UserPermissions, 1, op.OperationID)
	res, act, ok := strings.Cut(op.Security[0].UserPermissions[0], " [")
	require.True(t, ok, op.OperationID)
	a := abActions[strings.TrimSuffix(act, "]")]
	require.NotZero(t, a, op.OperationID)
	res = strings.ReplaceAll(res, "{namespace}", abNS)
	res = strings.ReplaceAll(res, "{userId}", fx.user)
	return res, a
}

// abRaw sends one request and returns the status and the raw answer.
func abRaw(t *testing.T, c *client, method, path string, body any, hasBody bool) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if hasBody {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(t, err)
	switch {
	case c.basicAuth != "":
		req.Header.Set("Authorization", "Basic "+c.basicAuth)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// abCaller is a client of namespace ops holding exactly perms.
func abCaller(t *testing.T, root *client, name string, perms []map[string]any) *client {
	t.Helper()
	if perms == nil {
		perms = []map[string]any{}
	}
	out := root.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": name, "permissions": perms})
	return root.basic(out["clientId"].(string), out["clientSecret"].(string))
}

func abSetup(t *testing.T, root *client, n int) *abFixture {
	t.Helper()
	fx := &abFixture{n: n, user: fmt.Sprintf("u%d", n), roleName: fmt.Sprintf("Fixture%d", n)}
	fx.role = root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": fx.roleName})["roleId"].(string)
	root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/users/"+fx.user+"/roles", map[string]any{"roleId": fx.role, "assignedNamespaces": []string{abNS}})
	fx.client = root.must(http.StatusCreated, "POST", "/v1/namespaces/foo/clients", map[string]any{
		"clientName": fmt.Sprintf("fixture%d", n), "permissions": []map[string]any{{"resource": abResource, "action": 2}},
	})["clientId"].(string)
	return fx
}

func abPath(path string, fx *abFixture) string {
	return strings.NewReplacer("{namespace}", abNS, "{userId}", fx.user, "{roleId}", fx.role, "{clientId}", fx.client,
		"{resource}", url.PathEscape(abResource), "{action}", "2").Replace(path)
}

func TestAccelByteContract(t *testing.T) {
	s := loadSwagger(t)
	srv, root := startServer(t, t.TempDir())

	type tc struct {
		path, method string
		op           swaggerOperation
	}
	var cases []tc
	for path, ops := range s.Paths {
		for method, op := range ops {
			cases = append(cases, tc{path, strings.ToUpper(method), op})
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].op.OperationID < cases[j].op.OperationID })
	require.Len(t, cases, 46, "the subset spec's operations (46 in 18 paths)")

	// Every operation is in the table, marked accelbyte, at the spec's path and method.
	for _, c := range cases {
		o, ok := api.ByName("accelbyte." + c.op.OperationID)
		require.True(t, ok, "%s %s (%s) is not in the operation table", c.method, c.path, c.op.OperationID)
		assert.Equal(t, c.path, o.Path, c.op.OperationID)
		assert.Equal(t, c.method, o.Method, c.op.OperationID)
		assert.Equal(t, api.CompatAccelByte, o.Compat, c.op.OperationID)
	}

	for i, c := range cases {
		t.Run(c.op.OperationID, func(t *testing.T) {
			fx := abSetup(t, root, i)
			path := abPath(c.path, fx)
			body, hasBody := s.body(c.op, c.path, fx)
			res, action := abRequired(t, c.op, fx)

			// Refused: a caller with nothing, and one with the resource
			// but every other action; nothing is appended.
			for j, perms := range [][]map[string]any{nil, {{"resource": res, "action": 15 &^ action}}} {
				caller := abCaller(t, root, fmt.Sprintf("denied%d%s", j, fx.user), perms)
				before := srv.Store().Applied()
				status, out := abRaw(t, caller, c.method, path, body, hasBody)
				require.Equal(t, http.StatusForbidden, status, "%s %s without %s [%d]: %s", c.method, path, res, action, out)
				named := strings.ReplaceAll(res, "ADMIN:NAMESPACE:"+abNS+":", "ADMIN:NAMESPACE:{namespace}:")
				assert.Contains(t, string(out), named, "the refusal names the permission")
				assert.Equal(t, before, srv.Store().Applied(), "a refused request appends nothing")
			}

			// Allowed: a caller with exactly the x-security permission
			// (and what Grantlog's own command needs besides, abExtra).
			perms := []map[string]any{{"resource": res, "action": action}}
			for _, p := range abExtra[c.op.OperationID] {
				perms = append(perms, map[string]any{"resource": strings.ReplaceAll(p["resource"].(string), "{userId}", fx.user), "action": p["action"]})
			}
			caller := abCaller(t, root, "allowed"+fx.user, perms)
			status, out := abRaw(t, caller, c.method, path, body, hasBody)
			var want int
			var model *swaggerSchema
			for code, r := range c.op.Responses {
				if n, _ := strconv.Atoi(code); n >= 200 && n < 300 {
					want, model = n, r.Schema
				}
			}
			require.Equal(t, want, status, "%s %s with %s: %s", c.method, path, perms, out)
			if model == nil {
				assert.Empty(t, out, "%d carries no body", status)
				return
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var v any
			require.NoError(t, dec.Decode(&v), "answer is not JSON: %s", out)
			assert.Empty(t, s.validate(model, v, "$"), "answer %s does not validate against %s", out, model.Ref)
		})
	}
}
