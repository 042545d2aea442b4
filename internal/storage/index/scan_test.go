package index

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

// TestNamespaceUsersInIDOrder: for random user ids over an alphabet with
// '-' (which sorts below the keys' '/' separator), NamespaceUsers lists
// the users of a namespace in strings.Compare order after any cursor,
// and stops when asked.
func TestNamespaceUsersInIDOrder(t *testing.T) {
	alphabet := []byte("a-b0_Z")
	for seed := range 20 {
		r := rand.New(rand.NewPCG(uint64(seed), 3))
		ts := newMemStore(t)
		l := &log{}
		ts.apply(t, l.role("r1", "R1"), l.role("r2", "R2"))
		want := map[string][]string{}
		seen := map[string]bool{}
		for range 60 {
			n := 1 + r.IntN(5)
			b := make([]byte, n)
			for i := range b {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
			u := string(b)
			require.True(t, events.ValidID(u))
			ns := []string{"ns1", "ns2"}[r.IntN(2)]
			role := []string{"r1", "r2"}[r.IntN(2)]
			ts.apply(t, l.assign(ns, u, role, ns))
			if !seen[ns+"/"+u] {
				seen[ns+"/"+u] = true
				want[ns] = append(want[ns], u)
			}
		}
		v := ts.Acquire()
		t.Cleanup(v.Release) // before the store's Close (cleanups run last first), even on failure
		for _, ns := range []string{"ns1", "ns2", "ns3"} {
			exp := slices.Clone(want[ns])
			sort.Strings(exp)
			var got []string
			require.NoError(t, v.NamespaceUsers(ns, "", func(u string) bool { got = append(got, u); return true }))
			require.Equal(t, exp, got, "seed %d, %s", seed, ns)
			// After every cursor (listed or not), and stopping early.
			cursors := append(slices.Clone(exp), "a", "a-", "b-a", "zz", "-")
			for _, c := range cursors {
				var after []string
				for _, u := range exp {
					if u > c {
						after = append(after, u)
					}
				}
				got = nil
				require.NoError(t, v.NamespaceUsers(ns, c, func(u string) bool { got = append(got, u); return true }))
				require.Equal(t, after, got, "seed %d, %s after %q", seed, ns, c)
				if len(after) > 2 {
					got = nil
					require.NoError(t, v.NamespaceUsers(ns, c, func(u string) bool { got = append(got, u); return len(got) < 2 }))
					require.Equal(t, after[:2], got)
				}
			}
		}
	}
}

// TestEachMemberAndNamespacePrincipals: EachMember lists every holder of
// a role, NamespaceClients and NamespaceTokens the live clients and
// tokens of a namespace in id order after a cursor.
func TestEachMemberAndNamespacePrincipals(t *testing.T) {
	ts := newMemStore(t)
	l := &log{}
	ts.apply(t, l.role("r1", "R1"), l.role("r2", "R2"),
		l.assign("ns1", "u1", "r1", "ns1"), l.assign("ns2", "u1", "r1", "ns2"), l.assign("ns2", "u2", "r1", "ns2"),
		l.assign("ns1", "u3", "r2", "ns1"),
		l.next("ns1", events.ClientCreated{ClientID: "c2", ClientName: "c2", SecretHash: "h2"}),
		l.next("ns1", events.ClientCreated{ClientID: "c1", ClientName: "c1", SecretHash: "h1"}),
		l.next("ns2", events.ClientCreated{ClientID: "c3", ClientName: "c3", SecretHash: "h3"}),
		l.next("ns1", events.TokenIssued{TokenID: "t1", Name: "t1", SecretHash: "00", Owner: events.Actor{Type: events.ActorUser, ID: "u1"}}),
		l.next("ns1", events.TokenIssued{TokenID: "t2", Name: "t2", SecretHash: "01", Owner: events.Actor{Type: events.ActorUser, ID: "u1"}}),
		l.next("ns1", events.TokenRevoked{TokenID: "t1"}),
	)
	v := ts.Acquire()
	t.Cleanup(v.Release)
	var ms []string
	require.NoError(t, v.EachMember("r1", func(ns, u string) bool { ms = append(ms, ns+"/"+u); return true }))
	sort.Strings(ms)
	require.Equal(t, []string{"ns1/u1", "ns2/u1", "ns2/u2"}, ms)
	n := 0
	require.NoError(t, v.EachMember("r1", func(string, string) bool { n++; return false }))
	require.Equal(t, 1, n)

	ids := func(f func(string, string, func(string) bool) error, ns, after string) []string {
		var out []string
		require.NoError(t, f(ns, after, func(id string) bool { out = append(out, id); return true }))
		return out
	}
	require.Equal(t, []string{"c1", "c2"}, ids(v.NamespaceClients, "ns1", ""))
	require.Equal(t, []string{"c2"}, ids(v.NamespaceClients, "ns1", "c1"))
	require.Equal(t, []string{"c3"}, ids(v.NamespaceClients, "ns2", ""))
	require.Equal(t, []string{"t2"}, ids(v.NamespaceTokens, "ns1", ""))
	require.Empty(t, ids(v.NamespaceTokens, "ns1", "t2"))
	require.Contains(t, v.AllNamespaces(), plat)
	require.True(t, sort.StringsAreSorted(v.AllNamespaces()))
}
