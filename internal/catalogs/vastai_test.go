package catalogs_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/perm"
)

// TestVastEndpointsWithinTheirCategory: every endpoint a Vast.ai document
// may name belongs to a category of scopes-vastai.json and stands for no
// more than that category's scope (same resource, a subset of its action).
func TestVastEndpointsWithinTheirCategory(t *testing.T) {
	scopes, err := catalogs.Scopes("vastai")
	require.NoError(t, err)
	byName := map[string]catalogs.Scope{}
	for _, s := range scopes {
		byName[s.Name] = s
	}
	eps := catalogs.VastEndpoints()
	require.NotEmpty(t, eps)
	for _, ep := range eps {
		sc, ok := byName[ep.Category]
		if !assert.True(t, ok, "%s: no category %s", ep.Name, ep.Category) {
			continue
		}
		for _, p := range ep.Permissions {
			_, err := perm.ValidateTemplate(p)
			require.NoError(t, err, ep.Name)
			within := false
			for _, sp := range sc.Permissions {
				within = within || (sp.Resource == p.Resource && sp.Action&p.Action == p.Action)
			}
			assert.True(t, within, "%s: %s %d is not within %s", ep.Name, p.Resource, p.Action, ep.Category)
		}
	}
}

func TestVastPermissions(t *testing.T) {
	scopes, err := catalogs.Scopes("vastai")
	require.NoError(t, err)
	scopeOf := map[string][]perm.Permission{}
	for _, s := range scopes {
		scopeOf[s.Name] = s.Permissions
	}
	logs := perm.Permission{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", Action: perm.Read}
	var rng perm.Constraints
	require.NoError(t, json.Unmarshal([]byte(`{"id": {"gte": "$1", "lte": "$2"}}`), &rng))
	withRange := logs
	withRange.Constraints = rng

	ok := []struct {
		name, doc string
		want      []perm.Permission
	}{
		{"categories", `{"api": {"misc": {}, "billing_read": {}}}`, append(append([]perm.Permission(nil), scopeOf["billing_read"]...), scopeOf["misc"]...)},
		{"the seed's endpoint with params", `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}`, []perm.Permission{withRange}},
		{"an endpoint without constraints", `{"api": {"instance_read": {"api.instance.request_logs": {}}}}`, []perm.Permission{logs}},
		{"empty constraints beside api", `{"api": {"constraints": {}, "instance_read": {"api.instance.request_logs": {}}}}`, []perm.Permission{logs}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := catalogs.VastPermissions(json.RawMessage(tc.doc))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	// "*" with a constrained endpoint would make the constraint meaningless:
	// refused (TestVastStarWithEndpointsRefused).
	_, err = catalogs.VastPermissions(json.RawMessage(`{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"eq": 1227}}}, "*": {}}}}`))
	require.Error(t, err)

	bad := []struct{ name, doc, says string }{
		{"not an object", `[]`, "JSON object"},
		{"no api", `{"instance_read": {}}`, `{"api"`},
		{"api not alone", `{"api": {"misc": {}}, "x": {}}`, "keys api, x"},
		{"no category", `{"api": {}}`, "names no category"},
		{"unknown category", `{"api": {"gpu_read": {}}}`, `unknown category "gpu_read"`},
		{"category not an object", `{"api": {"misc": true}}`, "must be a JSON object"},
		{"unknown endpoint", `{"api": {"instance_read": {"api.instance.nope": {}}}}`, "api.instance.request_logs"},
		{"endpoint in the wrong category", `{"api": {"misc": {"api.instance.request_logs": {}}}}`, `belongs to category "instance_read"`},
		{"unknown endpoint key", `{"api": {"instance_read": {"api.instance.request_logs": {"limits": {}}}}}`, `unknown key "limits"`},
		{"unknown operator", `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"ne": 1}}}}}}`, `unknown operator "ne"`},
		{"no operator", `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {}}}}}}`, "no operator"},
		{"bad value", `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"eq": {}}}}}}}`, "number or a string"},
		{"constraints on api", `{"api": {"constraints": {"id": {"eq": 1}}, "misc": {}}}`, "may not carry constraints"},
		{"constrained twice", `{"api": {"instance_read": {"constraints": {"id": {"eq": 1}}, "api.instance.request_logs": {"constraints": {"id": {"eq": 2}}}}}}`, "both"},
		{"star not empty", `{"api": {"instance_read": {"*": {"x": {}}}}}`, `"*" must be {}`},
		{"malformed", `{"api": `, "not valid JSON"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalogs.VastPermissions(json.RawMessage(tc.doc))
			require.Error(t, err)
			assert.ErrorIs(t, err, catalogs.ErrVastPermissions)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

func FuzzVastPermissions(f *testing.F) {
	f.Add(`{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}`)
	f.Add(`{"api": {"misc": {}}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		ps, err := catalogs.VastPermissions(json.RawMessage(doc))
		if err != nil {
			require.ErrorIs(t, err, catalogs.ErrVastPermissions)
			return
		}
		for _, p := range ps {
			_, _ = perm.ValidateTemplate(p) // never panics
		}
	})
}
