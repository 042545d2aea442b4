package perm_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

// refCovers is a deliberately naive model of the matching rules: bind the
// grant's placeholders by string replacement (once per namespace), split on
// ':' and apply rules 1-4 literally. Wildcard-ness and the NAMESPACE/USER
// checks look at the unbound grant, so a bound value is never a wildcard and
// never the literal NAMESPACE or USER. granted must be canonical and required
// concrete (placeholders already bound).
func refCovers(granted perm.Permission, required string, requiredAct perm.Action, b perm.Binding) bool {
	if granted.Action&requiredAct != requiredAct {
		return false
	}
	return refCoversResource(granted.Resource, required, b)
}

func refCoversResource(granted, required string, b perm.Binding) bool {
	orig := strings.Split(granted, ":")
	req := strings.Split(required, ":")
	hasNS := strings.Contains(granted, perm.PlaceholderNamespace)
	hasUser := strings.Contains(granted, perm.PlaceholderUserID)
	if hasUser && b.UserID == "" {
		return false
	}
	namespaces := []string{"unused"}
	if hasNS {
		namespaces = b.Namespaces
	}
	for _, ns := range namespaces {
		if hasNS && ns == "" {
			continue
		}
		bound := strings.ReplaceAll(granted, perm.PlaceholderNamespace, ns)
		bound = strings.ReplaceAll(bound, perm.PlaceholderUserID, b.UserID)
		if refMatch(orig, strings.Split(bound, ":"), req) {
			return true
		}
	}
	return false
}

func refMatch(orig, g, r []string) bool {
	star := func(i int) bool { return orig[i] == "*" }
	for i := 0; i < len(g) && i < len(r); i++ {
		switch {
		case star(i), g[i] == r[i]:
		case i > 0 && orig[i-1] == "NAMESPACE" && strings.HasSuffix(g[i], "-") && strings.HasPrefix(r[i], g[i]):
		default:
			return false
		}
	}
	switch {
	case len(g) == len(r):
		return true
	case len(g) < len(r):
		n := len(g)
		return star(n-1) && (n < 2 || orig[n-2] != "NAMESPACE" && orig[n-2] != "USER")
	default:
		for i := len(r); i < len(g); i++ {
			if !star(i) {
				return false
			}
		}
		return true
	}
}

func TestCoversGolden(t *testing.T) {
	cases := loadMatchCases(t)
	require.GreaterOrEqual(t, len(cases), 80)
	allows := 0
	for _, c := range cases {
		g, err := perm.CompileGrant(c.granted)
		require.NoError(t, err, c.where)
		r, err := perm.ParseRequired(c.required, c.requiredAct, perm.RequiredBinding{})
		require.NoError(t, err, c.where)
		assert.Equal(t, c.allow, g.Covers(&r, &c.binding), "%s: Covers", c.where)
		assert.Equal(t, c.allow, refCovers(g.Permission(), c.required, c.requiredAct, c.binding), "%s: reference model", c.where)
		if g.Action().Allows(r.Action()) {
			assert.Equal(t, c.allow, g.CoversResource(&r, &c.binding), "%s: CoversResource", c.where)
		} else {
			assert.False(t, c.allow, "%s: actions do not allow, so expect must be deny", c.where)
		}
		if c.allow {
			allows++
		}
	}
	// The file must exercise both answers substantially.
	assert.Greater(t, allows, len(cases)/4)
	assert.Less(t, allows, len(cases)*3/4)
}

func TestCoversEdgeCases(t *testing.T) {
	g, err := perm.CompileGrant(perm.Permission{Resource: "*", Action: perm.CRUD})
	require.NoError(t, err)
	r, err := perm.ParseRequired("A", perm.Read, perm.RequiredBinding{})
	require.NoError(t, err)

	assert.True(t, g.Covers(&r, nil), "nil binding binds nothing")
	var zeroG perm.Grant
	assert.False(t, zeroG.Covers(&r, nil), "zero Grant covers nothing")
	var zeroR perm.Required
	assert.False(t, g.CoversResource(&zeroR, nil), "zero Required is covered by nothing")

	ph, err := perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:{namespace}:X", Action: perm.CRUD})
	require.NoError(t, err)
	r, err = perm.ParseRequired("NAMESPACE:foo:X", perm.Read, perm.RequiredBinding{})
	require.NoError(t, err)
	assert.False(t, ph.Covers(&r, nil))
	assert.False(t, ph.Covers(&r, &perm.Binding{Namespaces: []string{""}}))
	assert.True(t, ph.Covers(&r, &perm.Binding{Namespaces: []string{"", "foo"}}))

	// A bound required tag matches like the literal one.
	r, err = perm.ParseRequired("NAMESPACE:{namespace}:USER:{userId}:ORDER", perm.Read,
		perm.RequiredBinding{Namespace: "baz", UserID: "888"})
	require.NoError(t, err)
	order, err := perm.CompileGrant(perm.Permission{Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: perm.Read})
	require.NoError(t, err)
	assert.True(t, order.Covers(&r, &perm.Binding{UserID: "888", Namespaces: []string{"foo", "baz"}}))
	assert.False(t, order.Covers(&r, &perm.Binding{UserID: "888", Namespaces: []string{"foo"}}))
}

var (
	grantTokens = []string{
		"NAMESPACE", "USER", "ADMIN", "*", "*", "{namespace}", "{userId}", "{NAMESPACE}",
		"foo", "bar", "studio1-", "studio1-game1", "studio2-", "888", "PROFILE",
	}
	requiredTokens = []string{
		"NAMESPACE", "USER", "ADMIN", "*", "foo", "bar", "baz", "studio1-", "studio1-game1",
		"studio2-game1", "888", "999", "PROFILE", "{namespace}", "{userId}",
	}
	bindValues = []string{"", "foo", "bar", "baz", "studio1-", "studio1-game1", "NAMESPACE", "USER", "888", "999", "*"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func randomTag(rng *rand.Rand, tokens []string) string {
	segs := make([]string, 1+rng.IntN(6))
	for i := range segs {
		segs[i] = pick(rng, tokens)
	}
	return strings.Join(segs, ":")
}

// nearTag derives a required tag from a canonical grant so that a good share
// of random pairs match: placeholders and stars are filled in, then the tag
// may be cut, extended or have one segment changed.
func nearTag(rng *rand.Rand, granted string, b perm.Binding) string {
	segs := strings.Split(granted, ":")
	for i, s := range segs {
		switch {
		case s == perm.PlaceholderUserID && b.UserID != "" && rng.IntN(4) > 0:
			segs[i] = b.UserID
		case s == perm.PlaceholderNamespace && len(b.Namespaces) > 0 && rng.IntN(4) > 0:
			segs[i] = pick(rng, b.Namespaces)
		case s == "*" && rng.IntN(3) > 0:
			segs[i] = pick(rng, requiredTokens[:13])
		case strings.HasSuffix(s, "-") && rng.IntN(2) == 0:
			segs[i] = s + "game9"
		case s[0] == '{':
			segs[i] = pick(rng, requiredTokens[:13])
		}
		if segs[i] == "" {
			segs[i] = "x"
		}
	}
	switch rng.IntN(5) {
	case 0:
		if len(segs) > 1 {
			segs = segs[:rng.IntN(len(segs)-1)+1]
		}
	case 1:
		for range 1 + rng.IntN(2) {
			segs = append(segs, pick(rng, requiredTokens[:13]))
		}
	case 2:
		segs[rng.IntN(len(segs))] = pick(rng, requiredTokens[:13])
	}
	return strings.Join(segs, ":")
}

// TestCoversMatchesReference checks Covers against refCovers on random pairs.
func TestCoversMatchesReference(t *testing.T) {
	const pairs = 20000
	rng := rand.New(rand.NewPCG(1, 2))
	allows := 0
	for i := range pairs {
		b := perm.Binding{UserID: pick(rng, bindValues)}
		for range rng.IntN(4) {
			b.Namespaces = append(b.Namespaces, pick(rng, bindValues))
		}
		gp := perm.Permission{Resource: randomTag(rng, grantTokens), Action: perm.Action(1 + rng.IntN(15))}
		g, err := perm.CompileGrant(gp)
		require.NoError(t, err, gp)
		gp = g.Permission()

		var required string
		if i%2 == 0 {
			required = nearTag(rng, gp.Resource, b)
		} else {
			required = randomTag(rng, requiredTokens)
		}
		rb := perm.RequiredBinding{Namespace: pick(rng, bindValues[1:10]), UserID: pick(rng, bindValues[1:10])}
		reqAct := perm.Action(1 + rng.IntN(15))
		if rng.IntN(3) > 0 {
			reqAct &= gp.Action
			if reqAct == 0 {
				reqAct = gp.Action
			}
		}
		r, err := perm.ParseRequired(required, reqAct, rb)
		require.NoError(t, err, required)
		bound := strings.ReplaceAll(strings.ReplaceAll(required, perm.PlaceholderNamespace, rb.Namespace), perm.PlaceholderUserID, rb.UserID)
		require.Equal(t, bound, r.String())

		want := refCovers(gp, bound, reqAct, b)
		if !assert.Equal(t, want, g.Covers(&r, &b), "grant %v required %q/%d binding %+v", gp, bound, reqAct, b) {
			t.FailNow()
		}
		require.Equal(t, refCoversResource(gp.Resource, bound, b), g.CoversResource(&r, &b), "grant %v required %q binding %+v", gp, bound, b)
		if want {
			allows++
		}
	}
	t.Logf("%d of %d random pairs allowed", allows, pairs)
	assert.Greater(t, allows, pairs/10, "random pairs must exercise allows")
	assert.Less(t, allows, pairs*9/10, "random pairs must exercise denies")
}

func TestNoAllocs(t *testing.T) {
	grants := make([]perm.Grant, 0, 4)
	for _, res := range []string{
		"ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT",
		"NAMESPACE:{namespace}:GROUP:{namespace}",
		"NAMESPACE:studio1-:*",
		"NAMESPACE:*:USER:{userId}:FRIENDS",
	} {
		g, err := perm.CompileGrant(perm.Permission{Resource: res, Action: perm.CRUD})
		require.NoError(t, err)
		grants = append(grants, g)
	}
	b := &perm.Binding{UserID: "888", Namespaces: []string{"foo", "bar", "baz", "studio1-"}}
	r, err := perm.ParseRequired("ADMIN:NAMESPACE:baz:USER:888:ENTITLEMENT", perm.Read, perm.RequiredBinding{})
	require.NoError(t, err)
	require.True(t, grants[0].Covers(&r, b))

	hits := 0
	allocs := testing.AllocsPerRun(200, func() {
		for i := range grants {
			if grants[i].Covers(&r, b) {
				hits++
			}
		}
	})
	assert.Zero(t, allocs, "Covers allocated")
	assert.Positive(t, hits)

	var sink perm.Required
	resource := "NAMESPACE:foo:USER:888:PROFILE:birthday"
	allocs = testing.AllocsPerRun(200, func() {
		r, err := perm.ParseRequired(resource, perm.Read, perm.RequiredBinding{})
		if err != nil {
			panic(err)
		}
		sink = r
	})
	assert.Zero(t, allocs, "ParseRequired without placeholders allocated")

	rb := perm.RequiredBinding{Namespace: "foo", UserID: "888"}
	allocs = testing.AllocsPerRun(200, func() {
		r, err := perm.ParseRequired("NAMESPACE:{namespace}:USER:{userId}:PROFILE", perm.Read, rb)
		if err != nil {
			panic(err)
		}
		sink = r
	})
	assert.Zero(t, allocs, "ParseRequired with placeholders allocated")
	assert.Equal(t, "NAMESPACE:foo:USER:888:PROFILE", sink.String())
}

func BenchmarkParseRequired(b *testing.B) {
	for _, bc := range []struct{ name, tag string }{
		{"literal", "ADMIN:NAMESPACE:foo:USER:0f1e2d3c4b5a69788796a5b4c3d2e1f0:ENTITLEMENT"},
		{"placeholders", "ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rb := perm.RequiredBinding{Namespace: "foo", UserID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := perm.ParseRequired(bc.tag, perm.Read, rb); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCovers(b *testing.B) {
	const req = "ADMIN:NAMESPACE:studio1-game7:USER:0f1e2d3c4b5a69788796a5b4c3d2e1f0:ENTITLEMENT"
	bind := &perm.Binding{
		UserID:     "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		Namespaces: []string{"alpha", "beta", "gamma", "studio1-game7"},
	}
	for _, bc := range []struct{ name, grant string }{
		{"literal", "ADMIN:NAMESPACE:studio1-game7:USER:0f1e2d3c4b5a69788796a5b4c3d2e1f0:ENTITLEMENT"},
		{"placeholders", "ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT"},
		{"studio", "ADMIN:NAMESPACE:studio1-:*"},
		{"double-namespace", "ADMIN:NAMESPACE:{namespace}:USER:*:{namespace}"},
		{"deny-length", "ADMIN:NAMESPACE:{namespace}:USER"},
		{"star", "*"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, err := perm.CompileGrant(perm.Permission{Resource: bc.grant, Action: perm.CRUD})
			require.NoError(b, err)
			r, err := perm.ParseRequired(req, perm.Read, perm.RequiredBinding{})
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				g.Covers(&r, bind)
			}
		})
	}
}
