package perm_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

// TestGrantSetAgreesWithScan: GrantSet.Match finds an allowing grant exactly
// when a scan of every grant does.
func TestGrantSetAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gsegs := []string{"NAMESPACE", "{namespace}", "USER", "{userId}", "*", "ns1", "studio-", "u1", "ORDER", "PROFILE", "ADMIN", "X"}
	rsegs := []string{"NAMESPACE", "USER", "ns1", "ns2", "studio-a", "u1", "ORDER", "PROFILE", "*", "ADMIN", "X"}
	tag := func(segs []string) string {
		parts := make([]string, 1+r.IntN(5))
		for i := range parts {
			parts[i] = segs[r.IntN(len(segs))]
		}
		return strings.Join(parts, ":")
	}
	parents := map[string]string{"ns2": "ns1"}
	allowed := 0
	for range 300 {
		gs := make([]perm.Grant, 1+r.IntN(25))
		for i := range gs {
			g, err := perm.CompileGrant(perm.Permission{Resource: tag(gsegs), Action: perm.Action(1 + r.IntN(15))})
			require.NoError(t, err)
			gs[i] = g
		}
		set := perm.NewGrantSet(gs)
		for range 50 {
			req, err := perm.ParseRequired(tag(rsegs), perm.Action(1+r.IntN(15)),
				perm.RequiredBinding{Namespace: "ns1", UserID: "u1", Parent: func(ns string) string { return parents[ns] }})
			require.NoError(t, err)
			b := &perm.Binding{UserID: "u1", Namespaces: []string{"ns1", "studio-"}}
			c := &perm.Context{Now: time.Now()}
			want := false
			for i := range gs {
				if gs[i].Allows(&req, b, c) {
					want = true
					break
				}
			}
			got := set.Match(&req, b, c)
			require.Equal(t, want, got >= 0, "required %s", req.String())
			if got >= 0 {
				require.True(t, gs[got].Allows(&req, b, c))
				allowed++
			}
		}
	}
	require.Greater(t, allowed, 500, "the random sample must exercise allowed checks")
}
