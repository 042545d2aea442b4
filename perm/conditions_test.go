package perm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

func mustGrant(t *testing.T, js string) perm.Grant {
	t.Helper()
	var p perm.Permission
	require.NoError(t, json.Unmarshal([]byte(js), &p))
	g, err := perm.CompileGrant(p)
	require.NoError(t, err)
	return g
}

func req(t *testing.T, res string, a perm.Action) *perm.Required {
	t.Helper()
	r, err := perm.ParseRequired(res, a, perm.RequiredBinding{Namespace: "ns", UserID: "u"})
	require.NoError(t, err)
	return &r
}

func attrs(m map[string]perm.Value) *perm.Attributes {
	a := perm.NewAttributes(m)
	return &a
}

// TestConstraintsVastAI: "read the instance logs of instance id 1227 only".
func TestConstraintsVastAI(t *testing.T) {
	g := mustGrant(t, `{"resource":"INSTANCE:LOGS","action":2,"constraints":{"id":{"eq":1227}}}`)
	r := req(t, "INSTANCE:LOGS", perm.Read)
	b := &perm.Binding{}
	now := time.Now()
	assert.True(t, g.Allows(r, b, &perm.Context{Now: now, Attrs: attrs(map[string]perm.Value{"id": perm.Num(1227)})}))
	assert.False(t, g.Allows(r, b, &perm.Context{Now: now, Attrs: attrs(map[string]perm.Value{"id": perm.Num(1228)})}))
	assert.True(t, g.Allows(r, b, &perm.Context{Now: now, Attrs: attrs(map[string]perm.Value{"id": perm.Str("1227")})}), "a string that reads as the number is the number (PRODUCT.md 1.5)")
	assert.False(t, g.Allows(r, b, &perm.Context{Now: now, Attrs: attrs(map[string]perm.Value{"id": perm.Str("1227a")})}), "a string that is not a number is not the number")
	assert.False(t, g.Allows(r, b, &perm.Context{Now: now}), "a missing attribute denies")
	assert.False(t, g.Allows(r, b, &perm.Context{Now: now, Attrs: attrs(map[string]perm.Value{"other": perm.Num(1227)})}))
	assert.False(t, g.Covers(r, b), "Covers ignores nothing: a conditional grant needs Allows")
}

func TestParamsRange(t *testing.T) {
	var tmpl perm.Permission
	require.NoError(t, json.Unmarshal([]byte(`{"resource":"INSTANCE:LOGS","action":2,"constraints":{"id":{"gte":"$1","lte":"$2"}}}`), &tmpl))
	_, err := perm.ValidatePermission(tmpl)
	require.ErrorIs(t, err, perm.ErrInvalidCondition, "params are only for templates")
	tmpl, err = perm.ValidateTemplate(tmpl)
	require.NoError(t, err)
	assert.Equal(t, 2, tmpl.Params())
	_, err = perm.FillParams(tmpl, []perm.Value{perm.Num(100)})
	require.ErrorIs(t, err, perm.ErrInvalidCondition, "$2 has no value")
	filled, err := perm.FillParams(tmpl, []perm.Value{perm.Num(100), perm.Num(200)})
	require.NoError(t, err)
	raw, err := json.Marshal(filled.Constraints)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":{"gte":100,"lte":200}}`, string(raw))
	g, err := perm.CompileGrant(filled)
	require.NoError(t, err)
	r := req(t, "INSTANCE:LOGS", perm.Read)
	for id, want := range map[float64]bool{99: false, 100: true, 150: true, 200: true, 201: false} {
		got := g.Allows(r, &perm.Binding{}, &perm.Context{Now: time.Now(), Attrs: attrs(map[string]perm.Value{"id": perm.Num(id)})})
		assert.Equal(t, want, got, "id %v", id)
	}
	_, err = perm.FillParams(tmpl, []perm.Value{perm.Num(300), perm.Num(200)})
	require.ErrorIs(t, err, perm.ErrInvalidCondition, "filled range must be ordered")
}

func TestConstraintIn(t *testing.T) {
	g := mustGrant(t, `{"resource":"X","action":15,"constraints":{"region":{"in":["eu","us"]},"size":{"lte":8}}}`)
	r := req(t, "X", perm.Create)
	ctx := func(region string, size float64) *perm.Context {
		return &perm.Context{Now: time.Now(), Attrs: attrs(map[string]perm.Value{"region": perm.Str(region), "size": perm.Num(size)})}
	}
	assert.True(t, g.Allows(r, &perm.Binding{}, ctx("eu", 8)))
	assert.False(t, g.Allows(r, &perm.Binding{}, ctx("ap", 8)))
	assert.False(t, g.Allows(r, &perm.Binding{}, ctx("us", 9)))
}

func TestValidityWindow(t *testing.T) {
	g := mustGrant(t, `{"resource":"X","action":2,"notBefore":"2026-01-01T00:00:00Z","notAfter":"2026-02-01T00:00:00Z"}`)
	r := req(t, "X", perm.Read)
	at := func(s string) *perm.Context {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return &perm.Context{Now: ts}
	}
	assert.False(t, g.Allows(r, nil, at("2025-12-31T23:59:59Z")))
	assert.True(t, g.Allows(r, nil, at("2026-01-01T00:00:00Z")))
	assert.True(t, g.Allows(r, nil, at("2026-01-31T23:59:59Z")))
	assert.False(t, g.Allows(r, nil, at("2026-02-01T00:00:00Z")), "notAfter is exclusive")
	next, ok := g.NextChange(at("2026-01-15T00:00:00Z").Now)
	require.True(t, ok)
	assert.Equal(t, "2026-02-01T00:00:00Z", next.Format(time.RFC3339))
}

// TestSchedule: an AccelByte-style schedule grants its own action set inside
// the cron window (weekdays 09:00-17:59) and the ordinary action outside.
func TestSchedule(t *testing.T) {
	g := mustGrant(t, `{"resource":"STORE","action":2,"schedAction":6,"schedCron":"* 9-17 * * MON-FRI"}`)
	update := req(t, "STORE", perm.Update)
	read := req(t, "STORE", perm.Read)
	monNoon := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // a Monday
	monNight := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	sat := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	assert.True(t, g.Allows(update, nil, &perm.Context{Now: monNoon}))
	assert.False(t, g.Allows(update, nil, &perm.Context{Now: monNight}))
	assert.False(t, g.Allows(update, nil, &perm.Context{Now: sat}))
	assert.True(t, g.Allows(read, nil, &perm.Context{Now: monNight}))
	next, ok := g.NextChange(monNoon)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), next, "the window closes at 18:00")
	next, ok = g.NextChange(monNight)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), next, "and opens at 09:00 the next weekday")

	rg := mustGrant(t, `{"resource":"STORE","action":2,"schedAction":0,"schedRange":["2026-12-24T00:00:00Z","2026-12-27T00:00:00Z"]}`)
	assert.False(t, rg.Allows(read, nil, &perm.Context{Now: time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC)}), "no access during the range")
	assert.True(t, rg.Allows(read, nil, &perm.Context{Now: time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)}))
}

func TestConditionValidation(t *testing.T) {
	for name, js := range map[string]string{
		"no operator":         `{"resource":"X","action":2,"constraints":{"id":{}}}`,
		"bad attr":            `{"resource":"X","action":2,"constraints":{"a b":{"eq":1}}}`,
		"reversed range":      `{"resource":"X","action":2,"constraints":{"id":{"gte":5,"lte":1}}}`,
		"mixed range":         `{"resource":"X","action":2,"constraints":{"id":{"gte":5,"lte":"z"}}}`,
		"reversed window":     `{"resource":"X","action":2,"notBefore":"2026-02-01T00:00:00Z","notAfter":"2026-01-01T00:00:00Z"}`,
		"bad cron":            `{"resource":"X","action":2,"schedAction":2,"schedCron":"every day"}`,
		"one-sided range":     `{"resource":"X","action":2,"schedAction":2,"schedRange":["2026-01-01T00:00:00Z"]}`,
		"schedAction alone":   `{"resource":"X","action":2,"schedAction":2}`,
		"schedAction over 15": `{"resource":"X","action":2,"schedAction":16,"schedCron":"* * * * *"}`,
	} {
		var p perm.Permission
		require.NoError(t, json.Unmarshal([]byte(js), &p), name)
		_, err := perm.ValidatePermission(p)
		require.ErrorIs(t, err, perm.ErrInvalidCondition, name)
	}
	var p perm.Permission
	require.Error(t, json.Unmarshal([]byte(`{"resource":"X","action":2,"constraints":{"id":{"eq":[1]}}}`), &p), "values are numbers or strings")
}

func TestKeyMergesOnlyEqualConditions(t *testing.T) {
	a := perm.Permission{Resource: "X", Action: 2}
	b := perm.Permission{Resource: "X", Action: 4}
	c := perm.Permission{Resource: "X", Action: 2, Constraints: perm.Constraints{"id": {Eq: &[]perm.Value{perm.Num(1)}[0]}}}
	assert.Equal(t, a.Key(), b.Key())
	assert.NotEqual(t, a.Key(), c.Key())
}

// TestStudioParent: a grant on a studio namespace covers the games whose
// parent it is.
func TestStudioParent(t *testing.T) {
	parents := map[string]string{"game1": "studioA", "game2": "studioB"}
	bind := perm.RequiredBinding{Namespace: "game1", UserID: "u", Parent: func(ns string) string { return parents[ns] }}
	g, err := perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:studioA:*", Action: 15})
	require.NoError(t, err)
	gb, err := perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:{namespace}:BUILD", Action: 15})
	require.NoError(t, err)
	for res, want := range map[string]bool{
		"NAMESPACE:game1:BUILD":       true,
		"NAMESPACE:{namespace}:BUILD": true,
		"NAMESPACE:studioA:BUILD":     true,
		"NAMESPACE:game2:BUILD":       false,
		"NAMESPACE:game3:BUILD":       false,
	} {
		r, err := perm.ParseRequired(res, perm.Read, bind)
		require.NoError(t, err)
		assert.Equal(t, want, g.Covers(&r, nil), res)
		assert.Equal(t, want, gb.Covers(&r, &perm.Binding{Namespaces: []string{"studioA"}}), "bound to the studio: %s", res)
	}
}

func TestUnboundRequired(t *testing.T) {
	r, err := perm.ParseRequired("NAMESPACE:{namespace}:USER:{userId}:ORDER", perm.Read, perm.RequiredBinding{Unbound: true})
	require.NoError(t, err)
	assert.Equal(t, "NAMESPACE:{namespace}:USER:{userId}:ORDER", r.String())
	star := mustGrant(t, `{"resource":"NAMESPACE:*:USER:*:ORDER","action":2}`)
	bound := mustGrant(t, `{"resource":"NAMESPACE:{namespace}:USER:{userId}:ORDER","action":2}`)
	assert.True(t, star.Covers(&r, &perm.Binding{UserID: "u", Namespaces: []string{"ns"}}))
	assert.False(t, bound.Covers(&r, &perm.Binding{UserID: "u", Namespaces: []string{"ns"}}),
		"holding it in one namespace is not holding it in every namespace")
}

// TestGrantSetConditional: a set is Conditional exactly when one of its
// grants has conditions (a check reads the clock only for those), and
// Match then honours the context's instant.
func TestGrantSetConditional(t *testing.T) {
	plain := mustGrant(t, `{"resource":"X","action":2}`)
	window := mustGrant(t, `{"resource":"Y","action":2,"notBefore":"2026-01-01T00:00:00Z","notAfter":"2026-02-01T00:00:00Z"}`)
	assert.False(t, perm.NewGrantSet([]perm.Grant{plain}).Conditional())
	set := perm.NewGrantSet([]perm.Grant{plain, window})
	require.True(t, set.Conditional())
	r := req(t, "Y", perm.Read)
	assert.Equal(t, 1, set.Match(r, nil, &perm.Context{Now: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}))
	assert.Equal(t, -1, set.Match(r, nil, &perm.Context{Now: time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)}))
}
