package query_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/refmodel"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

var (
	lkGrantSegs = []string{"NAMESPACE", "{namespace}", "USER", "{userId}", "{userid}", "*", "ns1", "ns2", "studio-", "u1", "ORDER", "PROFILE", "ADMIN"}
	lkReqSegs   = []string{"NAMESPACE", "USER", "ns1", "ns2", "ns3", "studio-a", "u1", "u2", "u7", "ORDER", "PROFILE", "*", "ADMIN", "{namespace}"}
	lkNSs       = []string{"ns1", "ns2", "ns3", "studio-a"}
)

func lkTag(r *rand.Rand, segs []string) string {
	parts := make([]string, 1+r.IntN(5))
	for i := range parts {
		parts[i] = segs[r.IntN(len(segs))]
	}
	return strings.Join(parts, ":")
}

func newScenario(t *testing.T) *scenario {
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &scenario{t: t, st: st, eng: query.New(query.Config{}, st, nil), model: refmodel.New(), roles: map[string]string{}}
}

// randomWorld fills s with random roles and assignments, in the index and
// the reference model, and returns the users.
func randomWorld(t *testing.T, s *scenario, r *rand.Rand) []string {
	users := make([]string, 12)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	nRoles := 3 + r.IntN(5)
	for i := 0; i < nRoles; i++ {
		id := fmt.Sprintf("role-%d", i)
		wild := r.IntN(3) == 0
		mr := &refmodel.Role{ID: id, Name: id, Wildcard: wild, Perms: map[string]uint8{}}
		var ps []events.Permission
		for j := 0; j < 1+r.IntN(5); j++ {
			canon, err := perm.CanonicalTag(lkTag(r, lkGrantSegs))
			if err != nil {
				continue
			}
			a := uint8(1 + r.IntN(15))
			ps = append(ps, events.Permission{Resource: canon, Action: a})
			mr.AddPerms([]string{canon}, []uint8{a})
		}
		s.model.Roles[id] = mr
		s.roles[id] = id
		s.apply(events.PlatformNamespace, id, events.RoleCreated{RoleID: id, RoleName: id, IsWildcard: wild, Permissions: ps})
	}
	for i := 0; i < 25; i++ {
		u := users[r.IntN(len(users))]
		ns := lkNSs[r.IntN(len(lkNSs))]
		id := fmt.Sprintf("role-%d", r.IntN(nRoles))
		var assigned []string
		if !s.model.Roles[id].Wildcard {
			for _, n := range lkNSs {
				if r.IntN(2) == 0 {
					assigned = append(assigned, n)
				}
			}
			if len(assigned) == 0 {
				assigned = []string{ns}
			}
		}
		s.model.Assign(ns, u, id, assigned)
		s.apply(ns, u, events.UserRoleAssigned{UserID: u, RoleID: id, AssignedNamespaces: assigned})
	}
	return users
}

func allSubjectPermissions(t *testing.T, eng *query.Engine, ns string, sub query.LookupSubject, limit int) []query.SubjectPermission {
	var out []query.SubjectPermission
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10000)
		p, err := eng.SubjectPermissions(context.Background(), query.ReadOptions{}, ns, sub, cursor, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Data), limit)
		require.False(t, p.Withheld)
		out = append(out, p.Data...)
		if p.Next == "" {
			break
		}
		require.NotEmpty(t, p.Data, "a page with a next cursor has data")
		cursor = p.Next
	}
	require.True(t, sort.SliceIsSorted(out, func(i, j int) bool { return out[i].Resource < out[j].Resource }))
	for i := 1; i < len(out); i++ {
		require.NotEqual(t, out[i-1].Resource, out[i].Resource, "no entry twice across pages")
	}
	return out
}

func allHolders(t *testing.T, eng *query.Engine, ns, res string, a perm.Action, limit int) ([]query.Holder, []query.LookupSource) {
	var out []query.Holder
	var every []query.LookupSource
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10000)
		p, err := eng.PermissionHolders(context.Background(), query.ReadOptions{}, ns, res, a, cursor, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Data), limit)
		if cursor == "" {
			every = p.EveryUser
		} else {
			require.Empty(t, p.EveryUser, "everyUser comes on the first page only")
		}
		out = append(out, p.Data...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	seen := map[query.LookupSubject]bool{}
	for _, h := range out {
		require.False(t, seen[h.Subject], "holder %v listed twice", h.Subject)
		seen[h.Subject] = true
		require.NotEmpty(t, h.Sources)
	}
	return out, every
}

// TestLookupsMatchReferenceModel compares both lookups, read page after
// page with small limits, with the reference model's checks on random
// roles and assignments.
func TestLookupsMatchReferenceModel(t *testing.T) {
	allowed, held := 0, 0
	defer func() {
		t.Logf("%d allowed subject checks, %d holders", allowed, held)
		assert.Positive(t, allowed)
		assert.Positive(t, held)
	}()
	// Ratio 0 finds holders' candidates by index scans of role members,
	// a huge one by a scan of every user in memory.
	for i := 0; i < 60; i++ {
		seed, ratio := uint64(1+i/2), []int{0, 1 << 30}[i%2]
		t.Run(fmt.Sprintf("%d/ratio%d", seed, ratio), func(t *testing.T) {
			defer query.SetMemberScanRatio(ratio)()
			r := rand.New(rand.NewPCG(seed, 15))
			s := newScenario(t)
			users := randomWorld(t, s, r)
			limit := 1 + r.IntN(4)
			// Subject permissions: a user may do a on R iff an entry covers it.
			for _, u := range users {
				ns := lkNSs[r.IntN(len(lkNSs))]
				ents := allSubjectPermissions(t, s.eng, ns, query.LookupSubject{Type: "user", ID: u}, limit)
				for i := 0; i < 60; i++ {
					req := strings.ReplaceAll(lkTag(r, lkReqSegs), "{namespace}", ns)
					a := uint8(1) << r.IntN(4)
					want := s.model.Check(u, ns, req, a)
					if want {
						allowed++
					}
					got := false
					for _, e := range ents {
						if uint8(e.Action)&a != 0 && refmodel.ResourceAllowed(e.Resource, req) {
							got = true
							break
						}
					}
					require.Equal(t, want, got, "user %s in %s, %s action %d: entries %+v", u, ns, req, a, ents)
				}
			}
			// Holders: exactly the users a check allows.
			for i := 0; i < 40; i++ {
				ns := lkNSs[r.IntN(len(lkNSs))]
				req := lkTag(r, lkReqSegs)
				if _, err := perm.CanonicalTag(req); err != nil {
					continue
				}
				a := perm.Action(1 + r.IntN(15))
				hs, every := allHolders(t, s.eng, ns, req, a, limit)
				assert.Empty(t, every)
				var got, want []string
				for _, h := range hs {
					require.Equal(t, "user", h.Subject.Type)
					got = append(got, h.Subject.ID)
				}
				for _, u := range users {
					if s.model.Check(u, ns, req, uint8(a)) {
						want = append(want, u)
					}
					res, err := s.eng.Check(context.Background(), &query.CheckRequest{Subject: query.Subject{Type: "user", ID: u},
						Namespace: ns, Resource: req, Action: a})
					require.NoError(t, err)
					require.Equal(t, res.Allowed, s.model.Check(u, ns, req, uint8(a)))
				}
				sort.Strings(want)
				held += len(want)
				require.Equal(t, want, got, "holders of %s action %d in %s", req, a, ns)
			}
		})
	}
}

// fakeAuthz allows the permissions listed as "resource@namespace".
type fakeAuthz map[string]bool

func (f fakeAuthz) Authorize(_ context.Context, _ events.Caller, p perm.Permission, ns string) error {
	if f[p.Resource+"@"+ns] {
		return nil
	}
	return &query.Error{Kind: query.ErrInvalid, Code: "forbidden", Message: "forbidden: " + p.Resource}
}

// principalsWorld: namespace g1 with a default role, a role assigned to u1
// (one window ends in the future, one has ended), a client and a token.
func principalsWorld(t *testing.T, authz query.Authorizer) (*scenario, *query.Engine) {
	s := newScenario(t)
	p := func(res string, a uint8) events.Permission { return events.Permission{Resource: res, Action: a} }
	s.apply(events.PlatformNamespace, "dflt", events.RoleCreated{RoleID: "dflt", RoleName: "Default", Permissions: []events.Permission{
		p("NAMESPACE:{namespace}:USER:{userId}:PROFILE", 2), p("NAMESPACE:{namespace}:NEWS", 2)}})
	s.apply(events.PlatformNamespace, "ops", events.RoleCreated{RoleID: "ops", RoleName: "Ops", Permissions: []events.Permission{
		p("NAMESPACE:{namespace}:ORDER", 15)}})
	s.apply(events.PlatformNamespace, "old", events.RoleCreated{RoleID: "old", RoleName: "Old", IsWildcard: true, Permissions: []events.Permission{
		p("NAMESPACE:{namespace}:ORDER", 15)}})
	s.apply("g1", "g1", events.NamespaceCreated{Namespace: "g1", DefaultRoles: []string{"dflt"}})
	later := time.Now().Add(time.Hour).UTC()
	past := time.Now().Add(-time.Hour).UTC()
	s.apply("g1", "u1", events.UserRoleAssigned{UserID: "u1", RoleID: "ops", AssignedNamespaces: []string{"g1"}, NotAfter: &later})
	s.apply("g1", "u2", events.UserRoleAssigned{UserID: "u2", RoleID: "old", NotAfter: &past})
	s.apply("g1", "c1", events.ClientCreated{ClientID: "c1", ClientName: "C1", SecretHash: strings.Repeat("a", 64),
		Permissions: []events.Permission{p("NAMESPACE:{namespace}:ORDER", 2)}})
	s.apply("g1", "t1", events.TokenIssued{TokenID: "t1", Name: "T1", Owner: events.Actor{Type: "user", ID: "u1"},
		Issuer: events.Actor{Type: "user", ID: "u1"}, SecretHash: strings.Repeat("b", 64),
		Permissions: []events.Permission{p("NAMESPACE:g1:*", 3)}})
	return s, query.New(query.Config{}, s.st, authz)
}

func TestLookupsPrincipals(t *testing.T) {
	s, eng := principalsWorld(t, nil)
	ctx := context.Background()
	resources := func(ents []query.SubjectPermission) map[string]perm.Action {
		m := map[string]perm.Action{}
		for _, e := range ents {
			m[e.Resource] = e.Action
		}
		return m
	}
	u1 := allSubjectPermissions(t, eng, "g1", query.LookupSubject{Type: "user", ID: "u1"}, 1)
	assert.Equal(t, map[string]perm.Action{"NAMESPACE:g1:NEWS": 2, "NAMESPACE:g1:ORDER": 15, "NAMESPACE:g1:USER:u1:PROFILE": 2}, resources(u1))
	for _, e := range u1 {
		if e.Resource == "NAMESPACE:g1:ORDER" {
			require.Len(t, e.Sources, 1)
			assert.Equal(t, query.SourceAssignment, e.Sources[0].Source)
			require.NotNil(t, e.Sources[0].NotAfter, "the assignment's window")
		}
	}
	u2 := allSubjectPermissions(t, eng, "g1", query.LookupSubject{Type: "user", ID: "u2"}, 10)
	assert.Equal(t, map[string]perm.Action{"NAMESPACE:g1:NEWS": 2, "NAMESPACE:g1:USER:u2:PROFILE": 2}, resources(u2), "an ended assignment is no source")
	c1 := allSubjectPermissions(t, eng, "g1", query.LookupSubject{Type: "client", ID: "c1"}, 10)
	assert.Equal(t, map[string]perm.Action{"NAMESPACE:g1:ORDER": 2}, resources(c1))
	t1 := allSubjectPermissions(t, eng, "g1", query.LookupSubject{Type: "token", ID: "t1"}, 10)
	assert.Equal(t, map[string]perm.Action{"NAMESPACE:g1:NEWS": 2, "NAMESPACE:g1:ORDER": 3, "NAMESPACE:g1:USER:u1:PROFILE": 2}, resources(t1),
		"the token's NAMESPACE:g1:* narrowed to what its owner holds")
	_, err := eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", query.LookupSubject{Type: "client", ID: "nope"}, "", 0)
	assert.ErrorIs(t, err, query.ErrNotFound)
	_, err = eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", query.LookupSubject{Type: "group", ID: "x"}, "", 0)
	assert.ErrorIs(t, err, query.ErrInvalid)
	_, err = eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", query.LookupSubject{Type: "user", ID: "u1"}, "garbage!", 0)
	assert.ErrorIs(t, err, query.ErrInvalid)

	subjects := func(hs []query.Holder) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Subject.Type+":"+h.Subject.ID)
		}
		return out
	}
	hs, every := allHolders(t, eng, "g1", "NAMESPACE:{namespace}:ORDER", perm.Read, 1)
	assert.Equal(t, []string{"user:u1", "client:c1", "token:t1"}, subjects(hs))
	assert.Empty(t, every)
	hs, _ = allHolders(t, eng, "g1", "NAMESPACE:g1:ORDER", perm.Update, 2)
	assert.Equal(t, []string{"user:u1"}, subjects(hs), "the token holds Create|Read only")
	hs, every = allHolders(t, eng, "g1", "NAMESPACE:g1:NEWS", perm.Read, 10)
	assert.Equal(t, []string{"token:t1"}, subjects(hs), "every user holds it: no user is listed")
	require.Len(t, every, 1)
	assert.Equal(t, "dflt", every[0].RoleID)
	hs, every = allHolders(t, eng, "g1", "NAMESPACE:g1:USER:u9:PROFILE", perm.Read, 10)
	assert.Equal(t, []string{"user:u9"}, subjects(hs), "the default role binds {userId} to u9 only")
	assert.Empty(t, every)
	_, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:USER:{userId}", perm.Read, "", 0)
	assert.ErrorIs(t, err, query.ErrInvalid)
	_, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 16, "", 0)
	assert.ErrorIs(t, err, query.ErrInvalid)
	_, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 2, "", 1001)
	assert.ErrorIs(t, err, query.ErrInvalid)
	_ = s
}

func TestLookupsAuthorization(t *testing.T) {
	check := "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK@g1"
	ctx := context.Background()
	u1 := query.LookupSubject{Type: "user", ID: "u1"}

	_, eng := principalsWorld(t, fakeAuthz{})
	_, err := eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", u1, "", 0)
	require.Error(t, err, "no PERMISSION:CHECK: refused")
	_, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 2, "", 0)
	require.Error(t, err)

	_, eng = principalsWorld(t, fakeAuthz{check: true})
	p, err := eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", u1, "", 0)
	require.NoError(t, err)
	assert.Empty(t, p.Data, "no source readable")
	assert.True(t, p.Withheld)
	h, err := eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 2, "", 0)
	require.NoError(t, err)
	assert.Empty(t, h.Data)
	assert.True(t, h.Withheld)

	_, eng = principalsWorld(t, fakeAuthz{check: true, "ADMIN:NAMESPACE:g1:NAMESPACE@g1": true, "ADMIN:NAMESPACE:g1:CLIENT@g1": true})
	p, err = eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", u1, "", 0)
	require.NoError(t, err)
	assert.Len(t, p.Data, 2, "the default role's entries only")
	assert.True(t, p.Withheld)
	h, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 2, "", 0)
	require.NoError(t, err)
	require.Len(t, h.Data, 1)
	assert.Equal(t, "c1", h.Data[0].Subject.ID)
	assert.True(t, h.Withheld)
	p, err = eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", query.LookupSubject{Type: "token", ID: "t1"}, "", 0)
	require.NoError(t, err)
	assert.Empty(t, p.Data, "the token is unreadable")
	assert.True(t, p.Withheld)

	_, eng = principalsWorld(t, fakeAuthz{check: true, "ADMIN:NAMESPACE:g1:ROLE:USER:*@g1": true, "ADMIN:NAMESPACE:g1:NAMESPACE@g1": true,
		"ADMIN:NAMESPACE:g1:CLIENT@g1": true, "NAMESPACE:g1:USER:u1:TOKEN@g1": true})
	p, err = eng.SubjectPermissions(ctx, query.ReadOptions{}, "g1", u1, "", 0)
	require.NoError(t, err)
	assert.Len(t, p.Data, 3)
	assert.False(t, p.Withheld)
	h, err = eng.PermissionHolders(ctx, query.ReadOptions{}, "g1", "NAMESPACE:g1:ORDER", 2, "", 0)
	require.NoError(t, err)
	assert.Len(t, h.Data, 3)
	assert.False(t, h.Withheld)
}

// TestLookupsPrincipalsMatchChecks compares both lookups with checks on
// random roles, assignments, default roles, clients (own permissions and
// roles) and tokens (of users and clients).
func TestLookupsPrincipalsMatchChecks(t *testing.T) {
	ctx := context.Background()
	allowed := map[string]int{}
	defer func() {
		t.Logf("allowed subject checks by kind: %v", allowed)
		assert.Positive(t, allowed["user"])
		assert.Positive(t, allowed["client"])
		assert.Positive(t, allowed["token"])
		assert.Positive(t, allowed["holder:token"])
		assert.Positive(t, allowed["holder:client"])
		assert.Positive(t, allowed["everyUser"])
	}()
	for seed := uint64(1); seed <= 25; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 16))
			s := newScenario(t)
			users := randomWorld(t, s, r)
			nRoles := len(s.roles)
			randPerms := func() []events.Permission {
				var ps []events.Permission
				for j := 0; j < 1+r.IntN(4); j++ {
					if canon, err := perm.CanonicalTag(lkTag(r, lkGrantSegs)); err == nil {
						ps = append(ps, events.Permission{Resource: canon, Action: uint8(1 + r.IntN(15))})
					}
				}
				return ps
			}
			for _, ns := range lkNSs {
				var dflt []string
				if r.IntN(2) == 0 {
					dflt = append(dflt, fmt.Sprintf("role-%d", r.IntN(nRoles)))
				}
				s.apply(ns, ns, events.NamespaceCreated{Namespace: ns, DefaultRoles: dflt})
			}
			var clients, tokens []string
			for i := 0; i < 4; i++ {
				id := fmt.Sprintf("c%d", i)
				var roles []string
				if r.IntN(2) == 0 {
					roles = append(roles, fmt.Sprintf("role-%d", r.IntN(nRoles)))
				}
				s.apply(lkNSs[r.IntN(len(lkNSs))], id, events.ClientCreated{ClientID: id, ClientName: id,
					SecretHash: fmt.Sprintf("%064x", i+1), Permissions: randPerms(), Roles: roles})
				clients = append(clients, id)
			}
			secret := func(id string) string { return "secret-" + id }
			for i := 0; i < 6; i++ {
				id := fmt.Sprintf("t%d", i)
				owner := events.Actor{Type: "user", ID: users[r.IntN(len(users))]}
				if r.IntN(3) == 0 {
					owner = events.Actor{Type: "client", ID: clients[r.IntN(len(clients))]}
				}
				ps := randPerms()
				switch r.IntN(3) {
				case 0:
					ps = []events.Permission{{Resource: "*", Action: 15}}
				case 1:
					ps = append(ps, events.Permission{Resource: "NAMESPACE:{namespace}:*", Action: uint8(1 + r.IntN(15))})
				}
				h := sha256.Sum256([]byte(secret(id)))
				s.apply(lkNSs[r.IntN(len(lkNSs))], id, events.TokenIssued{TokenID: id, Name: id, Owner: owner, Issuer: owner,
					SecretHash: hex.EncodeToString(h[:]), Permissions: ps})
				tokens = append(tokens, id)
			}
			check := func(typ, id, ns, res string, a perm.Action) bool {
				sub := query.Subject{Type: typ, ID: id}
				if typ == "token" {
					sub = query.Subject{Type: typ, Token: secret(id)}
				}
				out, err := s.eng.Check(ctx, &query.CheckRequest{Subject: sub, Namespace: ns, Resource: res, Action: a})
				require.NoError(t, err)
				return out.Allowed
			}
			// Subject permissions of every principal kind.
			type subj struct{ typ, id string }
			var subjects []subj
			for _, u := range users[:4] {
				subjects = append(subjects, subj{"user", u})
			}
			for _, c := range clients {
				subjects = append(subjects, subj{"client", c})
			}
			for _, tk := range tokens {
				subjects = append(subjects, subj{"token", tk})
			}
			for _, sb := range subjects {
				ns := lkNSs[r.IntN(len(lkNSs))]
				ents := allSubjectPermissions(t, s.eng, ns, query.LookupSubject{Type: sb.typ, ID: sb.id}, 2)
				for i := 0; i < 60; i++ {
					req := strings.ReplaceAll(lkTag(r, lkReqSegs), "{namespace}", ns)
					a := perm.Action(1) << r.IntN(4)
					got := false
					for _, e := range ents {
						if e.Action&a != 0 && refmodel.ResourceAllowed(e.Resource, req) {
							got = true
							break
						}
					}
					if got {
						allowed[sb.typ]++
					}
					require.Equal(t, check(sb.typ, sb.id, ns, req, a), got, "%s %s in %s, %s action %d: entries %+v", sb.typ, sb.id, ns, req, a, ents)
				}
			}
			// Holders: exactly the subjects a check allows.
			for i := 0; i < 30; i++ {
				ns := lkNSs[r.IntN(len(lkNSs))]
				req := lkTag(r, lkReqSegs)
				if _, err := perm.CanonicalTag(req); err != nil {
					continue
				}
				a := perm.Action(1 + r.IntN(15))
				hs, every := allHolders(t, s.eng, ns, req, a, 1+r.IntN(3))
				if len(every) > 0 {
					allowed["everyUser"]++
				}
				listed := map[string]bool{}
				for _, h := range hs {
					listed[h.Subject.Type+":"+h.Subject.ID] = true
				}
				for _, sb := range subjects {
					want := check(sb.typ, sb.id, ns, req, a)
					got := listed[sb.typ+":"+sb.id] || sb.typ == "user" && len(every) > 0
					if want {
						allowed["holder:"+sb.typ]++
					}
					require.Equal(t, want, got, "%s %s holds %s action %d in %s? holders %v, everyUser %d", sb.typ, sb.id, req, a, ns, listed, len(every))
				}
			}
		})
	}
}
