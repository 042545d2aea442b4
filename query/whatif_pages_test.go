package query_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// largeRoleWorld: role hot held by 600 users (ids extending others with
// '-'), a quarter of them also assigned another role in another
// namespace, a tenth in namespace studio (whose default role is hot);
// tokens owned by some of them, and a client holding hot. The proposal
// removes Update from one of hot's permissions.
func largeRoleWorld(t *testing.T) (*query.Engine, []events.Event, func(query.Authorizer) *query.Engine) {
	t.Helper()
	hot := []events.Permission{{Resource: "NAMESPACE:{namespace}:HOT", Action: 6}, {Resource: "NAMESPACE:{namespace}:USER:{userId}:HOT", Action: 2}}
	evs := []events.Event{
		wiEvent(events.PlatformNamespace, "hot", events.RoleCreated{RoleID: "hot", RoleName: "hot", Permissions: hot}),
		wiEvent(events.PlatformNamespace, "other", events.RoleCreated{RoleID: "other", RoleName: "other",
			Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:OTHER", Action: 2}}}),
		wiEvent("studio", "studio", events.NamespaceCreated{Namespace: "studio", DefaultRoles: []string{"hot"}}),
		wiEvent("game", "c1", events.ClientCreated{ClientID: "c1", ClientName: "c1", SecretHash: "c1", Roles: []string{"hot"}}),
		wiEvent("game", "c2", events.ClientCreated{ClientID: "c2", ClientName: "c2", SecretHash: "c2"}),
	}
	nss := []string{"game-a", "game", "game0"}
	batches := map[string][]events.UserRoleAssigned{}
	for i := range 600 {
		u := fmt.Sprintf("p%d", i/3) + []string{"", "-x", "-x-y"}[i%3]
		ns := nss[i%3]
		batches[ns] = append(batches[ns], events.UserRoleAssigned{UserID: u, RoleID: "hot", AssignedNamespaces: []string{ns}})
		if i%4 == 0 {
			o := nss[(i+1)%3]
			batches[o] = append(batches[o], events.UserRoleAssigned{UserID: u, RoleID: "other", AssignedNamespaces: []string{o}})
		}
		if i%10 == 0 {
			batches["studio"] = append(batches["studio"], events.UserRoleAssigned{UserID: u, RoleID: "other", AssignedNamespaces: []string{"studio"}})
		}
		if i%50 == 0 {
			id := fmt.Sprintf("t%d", i)
			owner := events.Actor{Type: events.ActorUser, ID: u}
			evs = append(evs, wiEvent(ns, id, events.TokenIssued{TokenID: id, Name: id, Owner: owner, Issuer: owner, SecretHash: fmt.Sprintf("%064d", i),
				Permissions: []events.Permission{{Resource: "NAMESPACE:" + ns + ":HOT", Action: 6}}}))
		}
	}
	// Namespace zz: users of their own (a caller may be denied just them).
	for i := range 20 {
		batches["zz"] = append(batches["zz"], events.UserRoleAssigned{UserID: fmt.Sprintf("z%d", i), RoleID: "hot", AssignedNamespaces: []string{"zz"}})
	}
	for _, ns := range append(nss, "studio", "zz") {
		evs = append(evs, wiEvent(ns, ns, events.UserRolesAssignedBatch{Assignments: batches[ns]}))
	}
	st := openWIStore(t, evs)
	prop := []events.Event{wiEvent(events.PlatformNamespace, "hot", events.RolePermissionsRemoved{RoleID: "hot",
		Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:HOT", Action: 4}}})}
	return query.New(query.Config{}, st, nil), prop, func(a query.Authorizer) *query.Engine { return query.New(query.Config{}, st, a) }
}

// allWhatIfPages pages through the diff at limit, returning every page.
func allWhatIfPages(t *testing.T, eng *query.Engine, o query.ReadOptions, prop []events.Event, limit int) []query.WhatIfPage {
	t.Helper()
	var pages []query.WhatIfPage
	cursor := ""
	for range 10_000 {
		p, err := eng.WhatIf(context.Background(), o, prop, cursor, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Changes), limit)
		pages = append(pages, p)
		if cursor = p.Next; cursor == "" {
			return pages
		}
	}
	t.Fatal("too many pages")
	return nil
}

func changesOf(pages []query.WhatIfPage) []query.WhatIfChange {
	out := []query.WhatIfChange{}
	for _, p := range pages {
		out = append(out, p.Changes...)
	}
	return out
}

// TestWhatIfPagesOfALargeRole: paging through the diff of a role held by
// hundreds of users, small pages at a time, gives exactly the one page
// that holds the whole diff, whether the subjects are listed in full on
// every page or read in order from the index; and with a caller who may
// not check one namespace, both ways give the same pages (the same
// changes, cursors and Withheld).
func TestWhatIfPagesOfALargeRole(t *testing.T) {
	eng, prop, withAuthz := largeRoleWorld(t)
	single, err := eng.WhatIf(context.Background(), query.ReadOptions{}, prop, "", query.MaxLimit)
	require.NoError(t, err)
	require.Empty(t, single.Next, "the whole diff is one page")
	require.Greater(t, len(single.Changes), 700)
	kinds := map[string]int{}
	for _, c := range single.Changes {
		kinds[c.Subject.Type]++
		require.Equal(t, []query.WhatIfPermission{}, c.Gained)
		require.NotEmpty(t, c.Lost)
	}
	require.Equal(t, 1, kinds[query.SubjectClient])
	require.Equal(t, 12, kinds[query.SubjectToken])

	for _, mode := range []struct {
		name string
		set  func() func()
	}{{"default", func() func() { return func() {} }}, {"listed", query.SetWhatIfListed}, {"ordered", query.SetWhatIfStream}} {
		t.Run(mode.name, func(t *testing.T) {
			defer mode.set()()
			for _, limit := range []int{7, 100, query.MaxLimit} {
				got := changesOf(allWhatIfPages(t, eng, query.ReadOptions{}, prop, limit))
				require.Equal(t, single.Changes, got, "pages of %d", limit)
			}
		})
	}

	asker := query.ReadOptions{Caller: events.Caller{Actor: events.Actor{Type: events.ActorUser, ID: "asker"}}}
	// Chunks smaller than the pages: a page's Withheld looks past the
	// chunks it took.
	t.Cleanup(query.SetWhatIfChunk(16))
	for _, denied := range []string{"game0", "zz"} {
		// game0's assignments are sources of other namespaces' changes;
		// zz's subjects come after every other page.
		deny := withAuthz(authzFunc(func(_ events.Caller, _ perm.Permission, ns string) error {
			if ns == denied {
				return errors.New("forbidden")
			}
			return nil
		}))
		for _, limit := range []int{50, 400} {
			restore := query.SetWhatIfListed()
			listed := allWhatIfPages(t, deny, asker, prop, limit)
			restore()
			restore = query.SetWhatIfStream()
			ordered := allWhatIfPages(t, deny, asker, prop, limit)
			restore()
			require.Equal(t, listed, ordered, "%s denied, pages of %d", denied, limit)
			withheld := 0
			for _, p := range listed {
				for _, c := range p.Changes {
					require.NotEqual(t, denied, c.Namespace)
				}
				if p.Withheld {
					withheld++
				}
			}
			require.Positive(t, withheld)
		}
	}
}
