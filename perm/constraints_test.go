package perm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

// constraintCase is one line of testdata/constraints.txt.
type constraintCase struct {
	where       string
	constraints string
	params      string
	attr        string
	expect      string
}

func loadConstraintCases(tb testing.TB) []constraintCase {
	tb.Helper()
	var cases []constraintCase
	for _, l := range readGolden(tb, "constraints.txt", "|", 4) {
		f := l.fields
		require.Contains(tb, []string{"allow", "deny", "refused"}, f[3], l.where)
		cases = append(cases, constraintCase{where: l.where, constraints: f[0], params: f[1], attr: f[2], expect: f[3]})
	}
	return cases
}

// grantFor builds the grant of c as the service would: a token's template
// filled with its params at issue, a role's literal permission validated at
// registration, or an old event's permission compiled as it is applied. It
// returns an error wrapping perm.ErrInvalidCondition when it is refused.
func grantFor(t *testing.T, c constraintCase) (perm.Grant, error) {
	t.Helper()
	p := perm.Permission{Resource: "INSTANCE:LOGS", Action: perm.Read}
	require.NoError(t, json.Unmarshal([]byte(c.constraints), &p.Constraints), c.where)
	switch c.params {
	case "legacy":
		return perm.CompileGrant(p)
	case "-":
		vp, err := perm.ValidatePermission(p)
		if err != nil {
			return perm.Grant{}, err
		}
		return perm.CompileGrant(vp)
	}
	var params []perm.Value
	require.NoError(t, json.Unmarshal([]byte(c.params), &params), c.where)
	tmpl, err := perm.ValidateTemplate(p)
	require.NoError(t, err, c.where)
	filled, err := perm.FillParams(tmpl, params)
	if err != nil {
		return perm.Grant{}, err
	}
	// What the event stores is what every node compiles.
	raw, err := json.Marshal(filled)
	require.NoError(t, err, c.where)
	var stored perm.Permission
	require.NoError(t, json.Unmarshal(raw, &stored), c.where)
	return perm.CompileGrant(stored)
}

// TestConstraintsGolden runs testdata/constraints.txt: typed values and
// numeric ranges (issue 10, item 6).
func TestConstraintsGolden(t *testing.T) {
	r := req(t, "INSTANCE:LOGS", perm.Read)
	for _, c := range loadConstraintCases(t) {
		g, err := grantFor(t, c)
		if c.expect == "refused" {
			if assert.Error(t, err, "%s: %s with params %s must be refused", c.where, c.constraints, c.params) {
				assert.ErrorIs(t, err, perm.ErrInvalidCondition, "%s: %v", c.where, err)
			}
			continue
		}
		require.NoError(t, err, c.where)
		var a perm.Value
		require.NoError(t, json.Unmarshal([]byte(c.attr), &a), c.where)
		got := g.Allows(r, &perm.Binding{}, &perm.Context{Now: time.Now(), Attrs: attrs(map[string]perm.Value{"id": a})})
		assert.Equal(t, c.expect == "allow", got, "%s: %s params %s, id %s", c.where, c.constraints, c.params, c.attr)
	}
}

// TestParamsAreTyped: a param that reads as a number is stored as a
// number; others stay strings.
func TestParamsAreTyped(t *testing.T) {
	var tmpl perm.Permission
	require.NoError(t, json.Unmarshal([]byte(`{"resource":"X","action":2,"constraints":{"id":{"gte":"$1","lte":"$2"},"region":{"eq":"$3"}}}`), &tmpl))
	tmpl, err := perm.ValidateTemplate(tmpl)
	require.NoError(t, err)
	filled, err := perm.FillParams(tmpl, []perm.Value{perm.Str("100"), perm.Num(200), perm.Str("eu-1")})
	require.NoError(t, err)
	raw, err := json.Marshal(filled.Constraints)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":{"gte":100,"lte":200},"region":{"eq":"eu-1"}}`, string(raw))

	_, err = perm.FillParams(tmpl, []perm.Value{perm.Str("1a"), perm.Num(200), perm.Str("eu")})
	require.ErrorIs(t, err, perm.ErrInvalidCondition)
	assert.Contains(t, err.Error(), "not a number")
}

// TestRangeRefusalSaysWhy: a string range is refused with a message that
// says ranges compare numbers.
func TestRangeRefusalSaysWhy(t *testing.T) {
	var p perm.Permission
	require.NoError(t, json.Unmarshal([]byte(`{"resource":"X","action":2,"constraints":{"id":{"gte":"a","lte":"z"}}}`), &p))
	_, err := perm.ValidatePermission(p)
	require.ErrorIs(t, err, perm.ErrInvalidCondition)
	assert.Contains(t, err.Error(), "not a number")
}
