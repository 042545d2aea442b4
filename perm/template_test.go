package perm_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

// The four required templates of AccelByte's catalog that name a path
// parameter other than {namespace} and {userId}.
var accelByteParamTemplates = []struct {
	resource string
	params   []string
	bind     []perm.Param
	bound    string
}{
	{"ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", []string{"clientId"},
		[]perm.Param{{Name: "clientId", Value: "abc"}}, "ADMIN:NAMESPACE:foo:CLIENT:abc"},
	{"ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:CLIENT", []string{"platformId"},
		[]perm.Param{{Name: "platformId", Value: "steam"}}, "ADMIN:NAMESPACE:foo:PLATFORM:steam:CLIENT"},
	{"ADMIN:NAMESPACE:{namespace}:PLATFORM:{platformId}:SSO", []string{"platformId"},
		[]perm.Param{{Name: "platformId", Value: "azure"}}, "ADMIN:NAMESPACE:foo:PLATFORM:azure:SSO"},
	{"ADMIN:NAMESPACE:{namespace}:GROUP:{groupId}", []string{"groupId"},
		[]perm.Param{{Name: "groupId", Value: "g-1"}}, "ADMIN:NAMESPACE:foo:GROUP:g-1"},
}

func TestEndpointTemplateAccelByteCases(t *testing.T) {
	for _, c := range accelByteParamTemplates {
		t.Run(c.resource, func(t *testing.T) {
			// Granted permissions keep AccelByte's rule.
			_, err := perm.ValidatePermission(perm.Permission{Resource: c.resource, Action: perm.Read})
			require.ErrorIs(t, err, perm.ErrInvalidTag)
			assert.Contains(t, err.Error(), "only {namespace} and {userId} are allowed")
			_, err = perm.CompileGrant(perm.Permission{Resource: c.resource, Action: perm.Read})
			require.ErrorIs(t, err, perm.ErrInvalidTag)

			p, params, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: c.resource, Action: perm.Read})
			require.NoError(t, err)
			assert.Equal(t, c.resource, p.Resource)
			assert.Equal(t, c.params, params)

			r, err := parseEndpoint(p.Resource, perm.Read, perm.RequiredBinding{Namespace: "foo", UserID: "u1"}, c.bind)
			require.NoError(t, err)
			assert.Equal(t, c.bound, r.String())

			// A role holding exactly the bound permission covers it; one in
			// another namespace, or for another value of the parameter, does not.
			g, err := perm.CompileGrant(perm.Permission{Resource: strings.Replace(c.bound, ":foo:", ":{namespace}:", 1), Action: perm.Read})
			require.NoError(t, err)
			assert.True(t, g.Covers(&r, &perm.Binding{Namespaces: []string{"foo"}}))
			assert.False(t, g.Covers(&r, &perm.Binding{Namespaces: []string{"bar"}}))
			other := []perm.Param{{Name: c.bind[0].Name, Value: "other"}}
			r2, err := parseEndpoint(p.Resource, perm.Read, perm.RequiredBinding{Namespace: "foo"}, other)
			require.NoError(t, err)
			assert.False(t, g.Covers(&r2, &perm.Binding{Namespaces: []string{"foo"}}))

			// Parsed as a plain required tag: refused as in a grant.
			_, err = perm.ParseRequired(p.Resource, perm.Read, perm.RequiredBinding{Namespace: "foo"})
			require.ErrorIs(t, err, perm.ErrInvalidTag)
			// As an endpoint template without that parameter: a clear error naming it.
			_, err = parseEndpoint(p.Resource, perm.Read, perm.RequiredBinding{Namespace: "foo"}, []perm.Param{})
			require.ErrorIs(t, err, perm.ErrInvalidTag)
			assert.Contains(t, err.Error(), "do not include "+c.params[0])
		})
	}
}

func TestEndpointTemplateErrors(t *testing.T) {
	for _, c := range []struct{ resource, want string }{
		{"ADMIN:{client-id}", "not a path parameter name"},
		{"ADMIN:{}", "not a path parameter name"},
		{"ADMIN:{" + strings.Repeat("a", 65) + "}", "not a path parameter name"},
		{"ADMIN:x{clientId}", "only allowed in a whole-segment placeholder"},
		{"ADMIN::{clientId}", "empty segment"},
		{"", "tag is empty"},
	} {
		_, _, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: c.resource, Action: perm.Read})
		require.ErrorIs(t, err, perm.ErrInvalidTag, c.resource)
		assert.Contains(t, err.Error(), c.want, c.resource)
	}
	_, _, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: "ADMIN:{clientId}", Action: 16})
	require.ErrorIs(t, err, perm.ErrInvalidAction)
	_, _, err = perm.ValidateEndpointTemplate(perm.Permission{Resource: "ADMIN:X", Action: perm.Read, SchedCron: "* * * * *"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
}

func TestEndpointTemplateCanonicalAndRespell(t *testing.T) {
	p, params, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: "NAMESPACE:{NameSpace}:USER:{userid}:X:{clientid}:{CLIENTID}", Action: perm.Read})
	require.NoError(t, err)
	assert.Equal(t, "NAMESPACE:{namespace}:USER:{userId}:X:{clientid}:{CLIENTID}", p.Resource)
	assert.Equal(t, []string{"clientid"}, params)
	got, err := perm.RespellTemplate(p.Resource, []string{"namespace", "clientId"})
	require.NoError(t, err)
	assert.Equal(t, "NAMESPACE:{namespace}:USER:{userId}:X:{clientId}:{clientId}", got)
	_, err = perm.RespellTemplate(p.Resource, []string{"namespace"})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	assert.Contains(t, err.Error(), "not a path parameter of the endpoint's path (it has {namespace})")
	_, err = perm.RespellTemplate("A:{groupId}", nil)
	assert.ErrorContains(t, err, "it has none")

	// A bound value must be a literal segment.
	_, err = parseEndpoint("A:{clientId}", perm.Read, perm.RequiredBinding{}, []perm.Param{{Name: "clientId", Value: "a:b"}})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	assert.Contains(t, err.Error(), "path parameter clientId")
	_, err = parseEndpoint("A:{clientId}", perm.Read, perm.RequiredBinding{}, []perm.Param{{Name: "clientId"}})
	require.ErrorIs(t, err, perm.ErrInvalidTag)
	// Unbound keeps the placeholder: only a "*" grant covers it.
	r, err := parseEndpoint("A:{clientId}", perm.Read, perm.RequiredBinding{Unbound: true}, []perm.Param{})
	require.NoError(t, err)
	assert.Equal(t, "A:{clientId}", r.String())
}

func parseEndpoint(resource string, a perm.Action, b perm.RequiredBinding, params []perm.Param) (perm.Required, error) {
	var r perm.Required
	err := r.ParseEndpoint(resource, a, b, params)
	return r, err
}

func TestParseRequiredWithParamsDoesNotAllocate(t *testing.T) {
	params := []perm.Param{{Name: "namespace", Value: "foo"}, {Name: "clientId", Value: "abc"}}
	var r perm.Required
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.ParseEndpoint("ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}", perm.Read, perm.RequiredBinding{Namespace: "foo"}, params); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// FuzzEndpointTemplate: ValidateEndpointTemplate accepts a superset of
// CanonicalTag, its result re-validates to itself, and a template bound
// with a value for every parameter parses as a required tag whose
// placeholders are all gone. .ci/run does not run it as a fuzz target; its
// seeds run with every go test.
func FuzzEndpointTemplate(f *testing.F) {
	for _, c := range accelByteParamTemplates {
		f.Add(c.resource, "v1")
	}
	for _, c := range loadTagCases(f) {
		f.Add(c.input, "x")
	}
	f.Add("A:{a}:{b}:{A}:{namespace}:{USERID}", "")
	f.Add("A:{a-b}", "v")
	f.Add("{x}", "a:b")
	f.Fuzz(func(t *testing.T, s, val string) {
		p, params, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: s, Action: perm.Read})
		if _, cerr := perm.CanonicalTag(s); cerr == nil && err != nil {
			t.Fatalf("template %q: CanonicalTag accepts it, ValidateEndpointTemplate refuses: %v", s, err)
		}
		if err != nil {
			checkTagError(t, s, err)
			return
		}
		if len(p.Resource) != len(s) || !strings.EqualFold(p.Resource, s) {
			t.Fatalf("canonical %q differs from %q by more than placeholder case", p.Resource, s)
		}
		again, params2, err := perm.ValidateEndpointTemplate(p)
		if err != nil || again.Resource != p.Resource || len(params2) != len(params) {
			t.Fatalf("canonical %q re-validates to %q %v, %v", p.Resource, again.Resource, params2, err)
		}
		respelled, err := perm.RespellTemplate(p.Resource, params)
		if err != nil {
			t.Fatalf("RespellTemplate(%q, its own params %v): %v", p.Resource, params, err)
		}
		bind := make([]perm.Param, len(params))
		for i, n := range params {
			bind[i] = perm.Param{Name: n, Value: val}
		}
		r, err := parseEndpoint(respelled, perm.Read, perm.RequiredBinding{Namespace: "ns", UserID: "u"}, bind)
		if err != nil {
			checkTagError(t, respelled, err)
			return
		}
		if strings.Contains(r.String(), "{") {
			t.Fatalf("bound %q still has a placeholder: %q", respelled, r.String())
		}
	})
}
