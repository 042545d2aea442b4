package query_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/dataset"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// BenchmarkLookups measures the reverse lookups on the index of
// BenchmarkCheck (100k users; GRANTLOG_LOOKUP_USERS=1000000 for 1M):
//
//   - subject/user: every permission of one user (one page of 1000);
//   - holders/narrow: the holders of one role's own resource
//     (NAMESPACE:game001:ORDERS:5-like: the members of one role);
//   - holders/broadPage: the first page (1000) of the holders of a user's
//     object that a quarter of the roles grant (NAMESPACE:{ns}:USER:*:obj:*);
//   - holders/broadAll: every page of it (ns/op is the whole listing).
func BenchmarkLookups(b *testing.B) {
	shape := testutil.Shape{Namespaces: 100, Roles: 1000, PermsPerRole: 20, Users: 100_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if n, err := strconv.Atoi(os.Getenv("GRANTLOG_LOOKUP_USERS")); err == nil && n > 0 {
		shape.Users = n
	}
	if testing.Short() {
		shape.Users = 10_000
	}
	eng, d := warmEngine(b, shape)
	ctx := context.Background()
	ns := dataset.NSName(1)
	o := query.ReadOptions{}
	narrow := d.RolePerms[5][2].Resource // NAMESPACE:{namespace}:<obj>:5
	broad := d.Checks(1, 4)[0]
	broadRes := "NAMESPACE:" + ns + ":USER:" + dataset.UserID(1) + broad.Resource[len(broad.Resource)-len(":")-len(lastSeg(broad.Resource)):]
	all := func(res string) (pages, holders int) {
		cursor := ""
		for {
			p, err := eng.PermissionHolders(ctx, o, ns, res, perm.Read, cursor, query.MaxLimit)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			holders += len(p.Data)
			if p.Next == "" {
				return pages, holders
			}
			cursor = p.Next
		}
	}
	p, err := eng.SubjectPermissions(ctx, o, ns, query.LookupSubject{Type: "user", ID: dataset.UserID(1)}, "", query.MaxLimit)
	require.NoError(b, err)
	np, nh := all(narrow)
	bp, bh := all(broadRes)
	b.Logf("%d users: user %s has %d entries; %s: %d holders in %d pages; %s: %d holders in %d pages",
		shape.Users, dataset.UserID(1), len(p.Data), narrow, nh, np, broadRes, bh, bp)
	b.Run("subject/user", func(b *testing.B) {
		for b.Loop() {
			if _, err := eng.SubjectPermissions(ctx, o, ns, query.LookupSubject{Type: "user", ID: dataset.UserID(1)}, "", query.MaxLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("holders/narrow", func(b *testing.B) {
		for b.Loop() {
			if _, err := eng.PermissionHolders(ctx, o, ns, narrow, perm.Read, "", query.MaxLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("holders/broadPage", func(b *testing.B) {
		for b.Loop() {
			if _, err := eng.PermissionHolders(ctx, o, ns, broadRes, perm.Read, "", query.MaxLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("holders/broadAll", func(b *testing.B) {
		for b.Loop() {
			all(broadRes)
		}
	})
}

func lastSeg(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[i+1:]
		}
	}
	return s
}
