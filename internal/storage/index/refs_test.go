package index

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

func referenced(s *testStore, nss ...string) []string {
	v := s.Acquire()
	defer v.Release()
	var out []string
	for _, ns := range nss {
		if v.NamespaceReferenced(ns) {
			out = append(out, ns)
		}
	}
	return out
}

// assignedInFromScratch counts assignedNamespaces over every assignment.
func assignedInFromScratch(s *testStore) map[string]int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int32{}
	for _, rec := range s.mu.st.users.all() {
		list, _ := s.mu.st.assignmentsOf(rec, nil, nil)
		for _, a := range list {
			for _, ns := range a.AssignedNamespaces {
				out[ns]++
			}
		}
	}
	return out
}

func assignedIn(s *testStore) map[string]int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int32{}
	for id, n := range s.mu.st.assignedIn {
		if n != 0 {
			out[s.mu.st.names.list[id]] = n
		}
	}
	return out
}

func TestNamespaceReferenced(t *testing.T) {
	s := newDiskStore(t)
	var l log
	all := []string{"home", "quiet", "other", "acme", "g9", "litrole", "litclient", "littoken", "litscope", "litep", "pre-", "pre-x", "none"}
	s.apply(t,
		l.role("r1", "One", ep("NAMESPACE:{namespace}:USER:{userId}", 2)),
		l.role("r2", "Lit", ep("NAMESPACE:litrole:SERVER", 2), ep("NAMESPACE:pre-:*", 2)),
		l.assign("home", "vic", "r1", "quiet", "other"),
		l.assign("home", "ann", "r1", "quiet"),
		l.next("g9", events.NamespaceCreated{Namespace: "g9", Parent: "acme"}),
		l.next("ops", events.ClientCreated{ClientID: "c1", ClientName: "bot", SecretHash: "00",
			Permissions: []events.Permission{ep("ADMIN:NAMESPACE:litclient:CLIENT", 2)}}),
		l.next("ops", events.TokenIssued{TokenID: "t1", Name: "srv", SecretHash: "01",
			Owner: events.Actor{Type: events.ActorUser, ID: "srv"}, Issuer: events.Actor{Type: events.ActorUser, ID: "root"},
			Permissions: []events.Permission{ep("NAMESPACE:littoken:SERVER", 2)}}),
		l.next(plat, events.ScopeDefined{Name: "s1", Permissions: []events.Permission{ep("NAMESPACE:litscope:X", 2)}}),
		l.next(plat, events.EndpointRegistered{Service: "svc", Name: "e", Resource: "NAMESPACE:litep:Y", Action: 2}),
	)
	want := []string{"home", "quiet", "other", "acme", "g9", "litrole", "litclient", "littoken", "litscope", "litep", "pre-"}
	assert.Equal(t, want, referenced(s, all...), "a studio prefix names only itself")
	assert.Equal(t, map[string]int32{"quiet": 2, "other": 1}, assignedIn(s))

	s = s.reopen(t)
	assert.Equal(t, want, referenced(s, all...), "after reopening")
	assert.Equal(t, map[string]int32{"quiet": 2, "other": 1}, assignedIn(s))

	// Reassigning replaces the list; unassigning and deleting the role end it.
	s.apply(t, l.assign("home", "vic", "r1", "other"))
	assert.Equal(t, map[string]int32{"quiet": 1, "other": 1}, assignedIn(s))
	s.apply(t, l.unassign("home", "ann", "r1"))
	assert.Equal(t, map[string]int32{"other": 1}, assignedIn(s))
	assert.NotContains(t, referenced(s, "quiet"), "quiet")
	s.apply(t, l.next(plat, events.RoleDeleted{RoleID: "r1"}), l.next(plat, events.RoleDeleted{RoleID: "r2"}))
	assert.Empty(t, assignedIn(s))
	assert.Empty(t, referenced(s, "other", "litrole", "pre-"))
}

// TestAssignedInMatchesAssignments: the counts kept by apply and load are
// those of the assignments, through random histories and reopening.
func TestAssignedInMatchesAssignments(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		s := newMemStore(t)
		evs := randomEvents(seed, 400)
		for i := 0; i < len(evs); i += 37 {
			s.apply(t, evs[i:min(i+37, len(evs))]...)
			require.Equal(t, assignedInFromScratch(s), assignedIn(s), "seed %d after %d events", seed, i)
		}
		s = s.reopen(t)
		require.Equal(t, assignedInFromScratch(s), assignedIn(s), "seed %d after reopening", seed)
	}
}
