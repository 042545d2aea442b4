package query_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/refmodel"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// refApply folds evs (roles and user assignments only) into m as the
// reference model understands them.
func refApply(m *refmodel.Model, evs []events.Event) {
	perms := func(ps []events.Permission) ([]string, []uint8) {
		var res []string
		var acts []uint8
		for _, p := range ps {
			res, acts = append(res, p.Resource), append(acts, p.Action)
		}
		return res, acts
	}
	for _, ev := range evs {
		switch p := ev.Data.(type) {
		case events.RoleCreated:
			r := &refmodel.Role{ID: p.RoleID, Name: p.RoleName, Wildcard: p.IsWildcard, Perms: map[string]uint8{}}
			r.AddPerms(perms(p.Permissions))
			m.Roles[p.RoleID] = r
		case events.RoleUpdated:
			if r := m.Roles[p.RoleID]; r != nil {
				r.Name, r.Wildcard = p.RoleName, p.IsWildcard
			}
		case events.RolePermissionsAdded:
			if r := m.Roles[p.RoleID]; r != nil {
				r.AddPerms(perms(p.Permissions))
			}
		case events.RolePermissionsRemoved:
			if r := m.Roles[p.RoleID]; r != nil {
				r.RemovePerms(perms(p.Permissions))
			}
		case events.RolePermissionsReplaced:
			if r := m.Roles[p.RoleID]; r != nil {
				r.Perms = map[string]uint8{}
				r.AddPerms(perms(p.Permissions))
			}
		case events.RoleDeleted:
			m.DeleteRole(p.RoleID)
		case events.UserRoleAssigned:
			if m.Roles[p.RoleID] != nil {
				m.Assign(ev.Namespace, p.UserID, p.RoleID, p.AssignedNamespaces)
			}
		case events.UserRoleUnassigned:
			m.Unassign(ev.Namespace, p.UserID, p.RoleID)
		default:
			panic(fmt.Sprintf("refApply: %T is not in the reference model", p))
		}
	}
}

// TestWhatIfAgainstReferenceModel checks the what-if diff against the
// reference model (internal/refmodel), independently of the engine's own
// permission listing: for random worlds of roles and user assignments and
// random proposals, with the model before and after the proposal, for
// each user signed into each namespace it holds roles in (the diff's
// namespaces: a wildcard role held in ns1 also binds {namespace} to a
// namespace the user never signs into, which no diff could list),
//   - every gained permission is allowed after, every lost one before;
//   - a probe check that the proposal flips from denied to allowed (allowed
//     to denied) is covered by a gained (lost) permission of that user in
//     that namespace, and a user and namespace the diff does not list flip
//     no probe.
func TestWhatIfAgainstReferenceModel(t *testing.T) {
	seeds := 80
	if testing.Short() {
		seeds = 20
	}
	flips, listed := 0, 0
	defer func() {
		t.Logf("%d seeds: %d probe flips, %d changes", seeds, flips, listed)
		require.Positive(t, flips, "no probe ever flipped: the test compares nothing")
	}()
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		w := &wiWorld{}
		for i := range 10 {
			w.users = append(w.users, fmt.Sprintf("u%d", i))
		}
		for i := range 3 + r.IntN(4) {
			id := fmt.Sprintf("role-%d", i)
			w.roles = append(w.roles, id)
			w.evs = append(w.evs, wiEvent(events.PlatformNamespace, id,
				events.RoleCreated{RoleID: id, RoleName: strings.ReplaceAll(id, "-", ""), IsWildcard: r.IntN(3) == 0, Permissions: wiPerms(r, 1+r.IntN(5))}))
		}
		for range 20 {
			u := w.users[r.IntN(len(w.users))]
			w.evs = append(w.evs, wiEvent(wiNSs[r.IntN(len(wiNSs))], u,
				events.UserRoleAssigned{UserID: u, RoleID: w.roles[r.IntN(len(w.roles))], AssignedNamespaces: wiAssigned(r)}))
		}
		var prop []events.Event
		for len(prop) == 0 {
			for _, ev := range w.proposal(r) {
				switch ev.Data.(type) {
				case events.NamespaceCreated, events.NamespaceDeleted, events.ClientDeleted, events.ClientUpdated, events.TokenRevoked:
				default:
					prop = append(prop, ev)
				}
			}
		}
		before, after := refmodel.New(), refmodel.New()
		refApply(before, w.evs)
		refApply(after, w.evs)
		refApply(after, prop)

		live := openWIStore(t, w.evs)
		eng := query.New(query.Config{}, live, nil)
		diff := map[[2]string]query.WhatIfChange{} // {ns, user}
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 1000)
			p, err := eng.WhatIf(context.Background(), query.ReadOptions{}, prop, cursor, 1+r.IntN(5))
			require.NoError(t, err)
			for _, c := range p.Changes {
				require.Equal(t, query.SubjectUser, c.Subject.Type, "seed %d: only users hold roles here", seed)
				diff[[2]string{c.Namespace, c.Subject.ID}] = c
				listed++
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		why := fmt.Sprintf("seed %d, proposal %s", seed, describe(prop))
		for k, c := range diff {
			ns, u := k[0], k[1]
			for _, g := range c.Gained {
				require.True(t, after.Check(u, ns, g.Resource, uint8(g.Action)), "%s: %s in %s gains %+v, which the model after denies", why, u, ns, g)
			}
			for _, l := range c.Lost {
				require.True(t, before.Check(u, ns, l.Resource, uint8(l.Action)), "%s: %s in %s loses %+v, which the model before denies", why, u, ns, l)
			}
		}
		covered := func(ps []query.WhatIfPermission, req string, a uint8) bool {
			for _, p := range ps {
				if uint8(p.Action)&a != 0 && refmodel.ResourceAllowed(p.Resource, req) {
					return true
				}
			}
			return false
		}
		// A user is a subject in the namespaces it holds roles in (it signs
		// in there), before or after the proposal: the diff's namespaces.
		member := func(u, ns string) bool {
			for _, m := range []*refmodel.Model{before, after} {
				for k := range m.Assigns {
					if k[0] == ns && k[1] == u {
						return true
					}
				}
			}
			return false
		}
		for _, u := range w.users {
			for _, ns := range wiNSs {
				if !member(u, ns) {
					continue
				}
				for range 40 {
					req := strings.ReplaceAll(lkTag(r, lkReqSegs), "{namespace}", ns)
					if _, err := perm.CanonicalTag(req); err != nil {
						continue
					}
					a := uint8(1) << r.IntN(4)
					b, aft := before.Check(u, ns, req, a), after.Check(u, ns, req, a)
					if b == aft {
						continue
					}
					flips++
					c, ok := diff[[2]string{ns, u}]
					require.True(t, ok, "%s: %s signed into %s flips on %s action %d (%v → %v), and the diff lists no change of theirs covering it: %+v",
						why, u, ns, req, a, b, aft, diff)
					if aft {
						require.True(t, covered(c.Gained, req, a), "%s: %s in %s may now %s %d, and no gained permission covers it: %+v", why, u, ns, req, a, c)
					} else {
						require.True(t, covered(c.Lost, req, a), "%s: %s in %s may no longer %s %d, and no lost permission covers it: %+v", why, u, ns, req, a, c)
					}
				}
			}
		}
	}
}
