package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/query"
)

// BenchmarkWhatIfRoleEdit measures a what-if that removes one permission
// from a role held by every user (10k users; GRANTLOG_WHATIF_USERS=100000
// for 100k), each user holding it in one of 100 namespaces plus one other
// role of 50:
//
//   - firstPage: the first page of 1000 changes (every user's candidates
//     found and sorted, 1000 users diffed);
//   - allPages: every page, the whole diff (ns/op is the whole listing);
//   - fewHolders: every page of the diff of removing a permission from
//     r0 instead, which 1 user in 50 holds.
func BenchmarkWhatIfRoleEdit(b *testing.B) {
	users := 10_000
	if n, err := strconv.Atoi(os.Getenv("GRANTLOG_WHATIF_USERS")); err == nil && n > 0 {
		users = n
	}
	st, err := index.Open(index.Options{Dir: filepath.Join(b.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	var evs []events.Event
	rev := uint64(0)
	add := func(ns string, p events.Payload) {
		rev++
		evs = append(evs, events.Event{Revision: rev, Data: p, Envelope: events.Envelope{Type: p.EventType(), Namespace: ns,
			AggregateID: "x", OccurredAt: time.Unix(0, 0).UTC()}})
	}
	perms := func(obj string) []events.Permission {
		var ps []events.Permission
		for i := range 10 {
			ps = append(ps, events.Permission{Resource: fmt.Sprintf("NAMESPACE:{namespace}:%s:%d", obj, i), Action: 6})
		}
		return ps
	}
	add(events.PlatformNamespace, events.RoleCreated{RoleID: "hot", RoleName: "Hot", Permissions: perms("HOT")})
	for i := range 50 {
		add(events.PlatformNamespace, events.RoleCreated{RoleID: fmt.Sprintf("r%d", i), RoleName: fmt.Sprintf("R%d", i), Permissions: perms(fmt.Sprintf("OBJ%d", i))})
	}
	require.NoError(b, st.Apply(evs))
	evs = evs[:0]
	for ns := range 100 {
		name := fmt.Sprintf("game%03d", ns)
		var batch []events.UserRoleAssigned
		for u := ns; u < users; u += 100 {
			uid := fmt.Sprintf("user%07d", u)
			batch = append(batch, events.UserRoleAssigned{UserID: uid, RoleID: "hot", AssignedNamespaces: []string{name}},
				events.UserRoleAssigned{UserID: uid, RoleID: fmt.Sprintf("r%d", u%50), AssignedNamespaces: []string{name}})
		}
		add(name, events.UserRolesAssignedBatch{Assignments: batch})
		require.NoError(b, st.Apply(evs))
		evs = evs[:0]
	}
	eng := query.New(query.Config{}, st, nil)
	ctx := context.Background()
	prop := []events.Event{{Data: events.RolePermissionsRemoved{RoleID: "hot", Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:HOT:3", Action: 4}}},
		Envelope: events.Envelope{Type: events.TypeRolePermissionsRemoved, Namespace: events.PlatformNamespace, AggregateID: "hot", OccurredAt: time.Unix(0, 0).UTC()}}}
	rare := []events.Event{{Data: events.RolePermissionsRemoved{RoleID: "r0", Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:OBJ0:3", Action: 4}}},
		Envelope: events.Envelope{Type: events.TypeRolePermissionsRemoved, Namespace: events.PlatformNamespace, AggregateID: "r0", OccurredAt: time.Unix(0, 0).UTC()}}}
	whole := func(prop []events.Event) (pages, changes int) {
		cursor := ""
		for range 100_000 {
			p, err := eng.WhatIf(ctx, query.ReadOptions{}, prop, cursor, query.MaxLimit)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			changes += len(p.Changes)
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		return pages, changes
	}
	all := func() (pages, changes int) { return whole(prop) }
	pages, changes := all()
	require.Equal(b, users, changes, "every holder loses HOT:3 Update")
	b.Logf("%d users: %d changes in %d pages", users, changes, pages)
	pages, changes = whole(rare)
	require.Equal(b, (users+49)/50, changes, "every holder of r0 loses OBJ0:3 Update")
	b.Logf("r0: %d changes in %d pages", changes, pages)
	b.Run("firstPage", func(b *testing.B) {
		for b.Loop() {
			if _, err := eng.WhatIf(ctx, query.ReadOptions{}, prop, "", query.MaxLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("allPages", func(b *testing.B) {
		for b.Loop() {
			all()
		}
	})
	b.Run("fewHolders", func(b *testing.B) {
		for b.Loop() {
			whole(rare)
		}
	})
}
