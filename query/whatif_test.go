package query_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// wiWorld is one random index state as the events that make it.
type wiWorld struct {
	evs     []events.Event
	roles   []string
	users   []string
	clients map[string]string // id → namespace
	tokens  map[string]string // id → namespace
}

var wiNSs = []string{"ns1", "ns2", "ns3", "studio-a"}

func wiEvent(ns, agg string, p events.Payload) events.Event {
	return events.Event{Data: p, Envelope: events.Envelope{Type: p.EventType(), Namespace: ns, AggregateID: agg,
		OccurredAt: time.Unix(0, 0).UTC()}}
}

func wiPerms(r *rand.Rand, n int) []events.Permission {
	var ps []events.Permission
	for j := 0; j < n; j++ {
		canon, err := perm.CanonicalTag(lkTag(r, lkGrantSegs))
		if err != nil {
			continue
		}
		ps = append(ps, events.Permission{Resource: canon, Action: uint8(1 + r.IntN(15))})
	}
	return ps
}

func wiAssigned(r *rand.Rand) []string {
	var out []string
	for _, n := range wiNSs {
		if r.IntN(2) == 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []string{wiNSs[r.IntN(len(wiNSs))]}
	}
	return out
}

func randomWIWorld(r *rand.Rand) *wiWorld {
	w := &wiWorld{clients: map[string]string{}, tokens: map[string]string{}}
	for i := range 10 {
		w.users = append(w.users, fmt.Sprintf("u%d", i))
	}
	// Ids extending others with '-' sort before them in the index's keys
	// (see index.View.NamespaceUsers).
	w.users = append(w.users, "u1-a", "u1-a-b", "u1-")
	for i := range 3 + r.IntN(4) {
		id := fmt.Sprintf("role-%d", i)
		w.roles = append(w.roles, id)
		w.evs = append(w.evs, wiEvent(events.PlatformNamespace, id,
			events.RoleCreated{RoleID: id, RoleName: strings.ReplaceAll(id, "-", ""), IsWildcard: r.IntN(3) == 0, Permissions: wiPerms(r, 1+r.IntN(5))}))
	}
	for _, ns := range wiNSs {
		if r.IntN(2) == 0 {
			w.evs = append(w.evs, wiEvent(ns, ns, events.NamespaceCreated{Namespace: ns, DefaultRoles: []string{w.roles[r.IntN(len(w.roles))]}}))
		}
	}
	for range 20 {
		u := w.users[r.IntN(len(w.users))]
		w.evs = append(w.evs, wiEvent(wiNSs[r.IntN(len(wiNSs))], u,
			events.UserRoleAssigned{UserID: u, RoleID: w.roles[r.IntN(len(w.roles))], AssignedNamespaces: wiAssigned(r)}))
	}
	for i := range 3 {
		id, ns := fmt.Sprintf("c%d", i), wiNSs[r.IntN(len(wiNSs))]
		w.clients[id] = ns
		var roles []string
		if r.IntN(2) == 0 {
			roles = []string{w.roles[r.IntN(len(w.roles))]}
		}
		w.evs = append(w.evs, wiEvent(ns, id, events.ClientCreated{ClientID: id, ClientName: id, SecretHash: strings.Repeat("0", 63) + fmt.Sprint(i),
			Permissions: wiPerms(r, r.IntN(3)), Roles: roles}))
	}
	for i := range 4 {
		id, ns := fmt.Sprintf("t%d", i), wiNSs[r.IntN(len(wiNSs))]
		w.tokens[id] = ns
		owner := events.Actor{Type: events.ActorUser, ID: w.users[r.IntN(len(w.users))]}
		if r.IntN(3) == 0 {
			owner = events.Actor{Type: events.ActorClient, ID: fmt.Sprintf("c%d", r.IntN(3))}
		}
		w.evs = append(w.evs, wiEvent(ns, id, events.TokenIssued{TokenID: id, Name: id, Owner: owner, Issuer: owner,
			Permissions: wiPerms(r, 1+r.IntN(4)), SecretHash: strings.Repeat("1", 63) + fmt.Sprint(i)}))
	}
	return w
}

// proposal returns random events changing w.
func (w *wiWorld) proposal(r *rand.Rand) []events.Event {
	var out []events.Event
	role := func() string { return w.roles[r.IntN(len(w.roles))] }
	for range 1 + r.IntN(4) {
		ns, u := wiNSs[r.IntN(len(wiNSs))], w.users[r.IntN(len(w.users))]
		switch r.IntN(13) {
		case 0:
			id := role()
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RolePermissionsAdded{RoleID: id, Permissions: wiPerms(r, 1+r.IntN(3))}))
		case 1:
			id := role()
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RolePermissionsRemoved{RoleID: id, Permissions: wiPerms(r, 1+r.IntN(3))}))
		case 2:
			id := role()
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RolePermissionsReplaced{RoleID: id, Permissions: wiPerms(r, r.IntN(3))}))
		case 3:
			id := role()
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RoleUpdated{RoleID: id, RoleName: strings.ReplaceAll(id, "-", ""), IsWildcard: r.IntN(2) == 0}))
		case 4:
			id := role()
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RoleDeleted{RoleID: id}))
		case 5:
			id := fmt.Sprintf("new-%d", len(w.roles))
			w.roles = append(w.roles, id)
			out = append(out, wiEvent(events.PlatformNamespace, id, events.RoleCreated{RoleID: id, RoleName: strings.ReplaceAll(id, "-", ""), Permissions: wiPerms(r, 1+r.IntN(3))}))
		case 6, 7:
			out = append(out, wiEvent(ns, u, events.UserRoleAssigned{UserID: u, RoleID: role(), AssignedNamespaces: wiAssigned(r)}))
		case 8:
			out = append(out, wiEvent(ns, u, events.UserRoleUnassigned{UserID: u, RoleID: role()}))
		case 9:
			out = append(out, wiEvent(ns, ns, events.NamespaceCreated{Namespace: ns, DefaultRoles: []string{role()}}))
		case 10:
			out = append(out, wiEvent(ns, ns, events.NamespaceDeleted{Namespace: ns}))
		case 11:
			id := fmt.Sprintf("c%d", r.IntN(3))
			if r.IntN(2) == 0 {
				out = append(out, wiEvent(w.clients[id], id, events.ClientDeleted{ClientID: id}))
			} else {
				out = append(out, wiEvent(w.clients[id], id, events.ClientUpdated{ClientID: id, ClientName: id, Permissions: wiPerms(r, r.IntN(3)), Roles: []string{role()}}))
			}
		case 12:
			id := fmt.Sprintf("t%d", r.IntN(4))
			out = append(out, wiEvent(w.tokens[id], id, events.TokenRevoked{TokenID: id}))
		}
	}
	return out
}

func openWIStore(t *testing.T, evs []events.Event) *index.Store {
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	applyAll(t, st, evs)
	return st
}

func applyAll(t *testing.T, st *index.Store, evs []events.Event) {
	rev := st.Applied()
	for _, ev := range evs {
		rev++
		ev.Revision = rev
		require.NoError(t, st.Apply([]events.Event{ev}))
	}
}

// effectiveAt is what SubjectPermissions says sub holds signed into ns.
func effectiveAt(t *testing.T, eng *query.Engine, ns string, sub query.LookupSubject) map[string]perm.Action {
	out := map[string]perm.Action{}
	cursor := ""
	for range 1000 {
		p, err := eng.SubjectPermissions(context.Background(), query.ReadOptions{}, ns, sub, cursor, query.MaxLimit)
		var qe *query.Error
		if errors.As(err, &qe) && errors.Is(qe, query.ErrNotFound) {
			return out // a deleted client or revoked token holds nothing
		}
		require.NoError(t, err)
		for _, e := range p.Data {
			out[e.Resource] = e.Action
		}
		if cursor = p.Next; cursor == "" {
			return out
		}
	}
	t.Fatal("too many pages")
	return nil
}

func changeOf(before, after map[string]perm.Action) string {
	var g, l []string
	for res, a := range after {
		if x := a &^ before[res]; x != 0 {
			g = append(g, fmt.Sprintf("%s=%d", res, x))
		}
	}
	for res, b := range before {
		if x := b &^ after[res]; x != 0 {
			l = append(l, fmt.Sprintf("%s=%d", res, x))
		}
	}
	if len(g)+len(l) == 0 {
		return ""
	}
	sort.Strings(g)
	sort.Strings(l)
	return "+" + strings.Join(g, ",") + " -" + strings.Join(l, ",")
}

func userNamespaces(t *testing.T, eng *query.Engine, u string) map[string]bool {
	out := map[string]bool{}
	for _, ns := range wiNSs {
		rs, err := eng.UserRoles(context.Background(), query.ReadOptions{}, ns, u)
		require.NoError(t, err)
		if len(rs.Data) > 0 {
			out[ns] = true
		}
	}
	return out
}

// TestWhatIfEqualsScratchApply: for random worlds and random proposed
// events, the what-if diff (index + overlay, nothing applied) equals the
// diff between the index and a scratch copy with the events applied for
// real, computed with SubjectPermissions for every user (signed into each
// namespace it has assignments in, before or after), every client, every
// token, and every user of each namespace through its default roles
// (EveryUser, compared through a user with no assignment). Pages of
// random sizes add up to the whole diff, in order. Both ways of finding
// the subjects are checked: listing them all (what a proposal reaching
// few users takes; the users it reaches found by a scan of every user or
// from the index's role members) and reading them in order from the
// index (what one reaching many takes).
func TestWhatIfEqualsScratchApply(t *testing.T) {
	t.Run("listed", testWhatIfEqualsScratchApply) // holders by a scan of every user
	t.Run("listed from role members", func(t *testing.T) {
		defer query.SetMemberScanRatio(0)()
		testWhatIfEqualsScratchApply(t)
	})
	t.Run("ordered", func(t *testing.T) {
		defer query.SetWhatIfStream()()
		defer query.SetWhatIfChunk(3)() // pages of several chunks
		testWhatIfEqualsScratchApply(t)
	})
}

func testWhatIfEqualsScratchApply(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	changes, everyUser := 0, 0
	defer func() {
		t.Logf("%d seeds, %d changes (%d for every user of a namespace)", seeds, changes, everyUser)
		require.Greater(t, changes, seeds, "the proposals change something")
		require.Positive(t, everyUser)
	}()
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 17))
		w := randomWIWorld(r)
		live := openWIStore(t, w.evs)
		prop := w.proposal(r)
		scratch := openWIStore(t, w.evs)
		applyAll(t, scratch, prop)
		before, after := query.New(query.Config{}, live, nil), query.New(query.Config{}, scratch, nil)

		want := map[string]string{}
		note := func(ns, typ, id string, b, a map[string]perm.Action) {
			if c := changeOf(b, a); c != "" {
				want[ns+"/"+typ+"/"+id] = c
			}
		}
		for _, u := range w.users {
			sub := query.LookupSubject{Type: query.SubjectUser, ID: u}
			nss := userNamespaces(t, before, u)
			for ns := range userNamespaces(t, after, u) {
				nss[ns] = true
			}
			for ns := range nss {
				note(ns, query.SubjectUser, u, effectiveAt(t, before, ns, sub), effectiveAt(t, after, ns, sub))
			}
		}
		for id, ns := range w.clients {
			sub := query.LookupSubject{Type: query.SubjectClient, ID: id}
			note(ns, query.SubjectClient, id, effectiveAt(t, before, ns, sub), effectiveAt(t, after, ns, sub))
		}
		for id, ns := range w.tokens {
			sub := query.LookupSubject{Type: query.SubjectToken, ID: id}
			note(ns, query.SubjectToken, id, effectiveAt(t, before, ns, sub), effectiveAt(t, after, ns, sub))
		}
		for _, ns := range wiNSs {
			sub := query.LookupSubject{Type: query.SubjectUser, ID: "nobody"}
			note(ns, query.SubjectUser, query.EveryUser, effectiveAt(t, before, ns, sub), effectiveAt(t, after, ns, sub))
		}

		got := map[string]string{}
		var order []string
		limit := 1 + r.IntN(4)
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 1000)
			p, err := before.WhatIf(context.Background(), query.ReadOptions{}, prop, cursor, limit)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Changes), limit)
			require.Equal(t, live.Applied(), p.Revision)
			for _, c := range p.Changes {
				b, a := map[string]perm.Action{}, map[string]perm.Action{}
				for _, x := range c.Lost {
					b[bindNobody(c, x.Resource)] = x.Action
				}
				for _, x := range c.Gained {
					a[bindNobody(c, x.Resource)] = x.Action
				}
				key := c.Namespace + "/" + c.Subject.Type + "/" + c.Subject.ID
				require.NotContains(t, got, key, "seed %d: a change listed twice", seed)
				got[key] = changeOf(b, a)
				changes++
				if c.Subject.ID == query.EveryUser {
					everyUser++
				}
				order = append(order, c.Namespace+"\x00"+c.Subject.Type+"\x00"+c.Subject.ID)
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		require.True(t, sort.StringsAreSorted(order), "seed %d: changes in namespace, type, id order", seed)
		require.Equal(t, want, got, "seed %d: proposal %s", seed, describe(prop))
		require.Equal(t, len(w.evs), int(live.Applied()), "the live index is unchanged")
	}
}

// bindNobody binds an EveryUser change's {userId} to "nobody", the user
// the expected diff is computed for.
func bindNobody(c query.WhatIfChange, res string) string {
	if c.Subject.ID != query.EveryUser {
		return res
	}
	return strings.ReplaceAll(res, perm.PlaceholderUserID, "nobody")
}

func describe(evs []events.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%s@%s %+v; ", ev.Data.EventType(), ev.Namespace, ev.Data)
	}
	return b.String()
}

// TestWhatIfRedactsUnreadableNamespaces: a caller who may check only in
// ns1 sees only the changes in ns1, and the page says some are withheld.
func TestWhatIfRedactsUnreadableNamespaces(t *testing.T) {
	evs := []events.Event{
		wiEvent(events.PlatformNamespace, "r1", events.RoleCreated{RoleID: "r1", RoleName: "r1", Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:ORDER", Action: 2}}}),
		wiEvent("ns1", "u1", events.UserRoleAssigned{UserID: "u1", RoleID: "r1", AssignedNamespaces: []string{"ns1"}}),
		wiEvent("ns2", "u2", events.UserRoleAssigned{UserID: "u2", RoleID: "r1", AssignedNamespaces: []string{"ns2"}}),
	}
	st := openWIStore(t, evs)
	prop := []events.Event{wiEvent(events.PlatformNamespace, "r1", events.RolePermissionsAdded{RoleID: "r1", Permissions: []events.Permission{{Resource: "NAMESPACE:{namespace}:ORDER", Action: 4}}})}

	all, err := query.New(query.Config{}, st, nil).WhatIf(context.Background(), query.ReadOptions{}, prop, "", 0)
	require.NoError(t, err)
	require.Len(t, all.Changes, 2)
	require.False(t, all.Withheld)
	require.Equal(t, []query.WhatIfPermission{{Resource: "NAMESPACE:ns1:ORDER", Action: 4}}, all.Changes[0].Gained)
	require.Empty(t, all.Changes[0].Lost)

	only1 := authzFunc(func(_ events.Caller, p perm.Permission, ns string) error {
		if (p.Resource == "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK" || p.Resource == "ADMIN:NAMESPACE:ns1:ROLE:USER:*") && ns == "ns1" {
			return nil
		}
		return errors.New("forbidden")
	})
	asker := query.ReadOptions{Caller: events.Caller{Actor: events.Actor{Type: events.ActorUser, ID: "asker"}}}
	p, err := query.New(query.Config{}, st, only1).WhatIf(context.Background(), asker, prop, "", 0)
	require.NoError(t, err)
	require.True(t, p.Withheld)
	require.Len(t, p.Changes, 1)
	require.Equal(t, "ns1", p.Changes[0].Namespace)
	require.Equal(t, "u1", p.Changes[0].Subject.ID)

	// The check right alone: u1's assignment is not readable, so its
	// change is withheld as subject.permissions withholds its entries.
	checkOnly := authzFunc(func(_ events.Caller, p perm.Permission, ns string) error {
		if p.Resource == "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK" && ns == "ns1" {
			return nil
		}
		return errors.New("forbidden")
	})
	p, err = query.New(query.Config{}, st, checkOnly).WhatIf(context.Background(), asker, prop, "", 0)
	require.NoError(t, err)
	require.True(t, p.Withheld)
	require.Empty(t, p.Changes)

	_, err = query.New(query.Config{}, st, nil).WhatIf(context.Background(), query.ReadOptions{}, prop, "bad cursor", 0)
	require.Error(t, err)
	_, err = query.New(query.Config{}, st, nil).WhatIf(context.Background(), query.ReadOptions{}, prop, "", query.MaxLimit+1)
	require.Error(t, err)
}

type authzFunc func(caller events.Caller, p perm.Permission, ns string) error

func (f authzFunc) Authorize(_ context.Context, caller events.Caller, p perm.Permission, ns string) error {
	return f(caller, p, ns)
}
