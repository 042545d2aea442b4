package index

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// log builds events with increasing revisions.
type log struct{ rev uint64 }

func (l *log) next(ns string, p events.Payload) events.Event {
	l.rev++
	return mkEvent(l.rev, ns, p)
}

func mkEvent(rev uint64, ns string, p events.Payload) events.Event {
	return events.Event{
		Envelope: events.Envelope{
			EventID:    fmt.Sprintf("ev-%d", rev),
			Type:       p.EventType(),
			Namespace:  ns,
			OccurredAt: t0.Add(time.Duration(rev) * time.Second),
			Actor:      events.Actor{Type: events.ActorSystem, ID: "test"},
			CommandID:  fmt.Sprintf("cmd-%d", rev),
		},
		Revision: rev,
		Data:     p,
	}
}

const plat = events.PlatformNamespace

func (l *log) role(id, name string, ps ...events.Permission) events.Event {
	return l.next(plat, events.RoleCreated{RoleID: id, RoleName: name, Permissions: ps})
}

func (l *log) assign(ns, user, role string, nss ...string) events.Event {
	return l.next(ns, events.UserRoleAssigned{UserID: user, RoleID: role, AssignedNamespaces: nss})
}

func (l *log) unassign(ns, user, role string) events.Event {
	return l.next(ns, events.UserRoleUnassigned{UserID: user, RoleID: role})
}

func ep(res string, a uint8) events.Permission { return events.Permission{Resource: res, Action: a} }

func pp(res string, a perm.Action) perm.Permission { return perm.Permission{Resource: res, Action: a} }

type testStore struct {
	*Store
	opts Options
}

func testOptions(t testing.TB, fs vfs.FS) Options {
	dir := t.TempDir()
	if fs != nil {
		dir = "/idx"
	}
	return Options{
		Dir: dir, FS: fs, CacheSize: 1 << 20, MemTableSize: 4 << 20,
		Logger: slog.New(slog.DiscardHandler),
	}
}

func openStore(t testing.TB, opts Options) *testStore {
	t.Helper()
	s, err := Open(opts)
	require.NoError(t, err)
	ts := &testStore{Store: s, opts: opts}
	t.Cleanup(func() { _ = ts.Close() })
	return ts
}

func newDiskStore(t testing.TB) *testStore { return openStore(t, testOptions(t, nil)) }
func newMemStore(t testing.TB) *testStore  { return openStore(t, testOptions(t, vfs.NewMem())) }

func (ts *testStore) reopen(t testing.TB) *testStore {
	t.Helper()
	require.NoError(t, ts.Close())
	return openStore(t, ts.opts)
}

func (ts *testStore) apply(t testing.TB, evs ...events.Event) {
	t.Helper()
	require.NoError(t, ts.Apply(evs))
}

// dump is every key and value of the index, in order.
func (ts *testStore) dump(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, ts.Export("", func(k, v []byte) error {
		fmt.Fprintf(&b, "%q = %s\n", k, v)
		return nil
	}))
	return b.String()
}

func allMembers(t testing.TB, v View, roleID string) []Member {
	t.Helper()
	ms, next, err := v.Members(roleID, "", 1<<20)
	require.NoError(t, err)
	require.Empty(t, next)
	return ms
}

// snapshot renders everything a View answers about the given users,
// namespaces and roles, for comparisons across reopen.
func (ts *testStore) snapshot(t testing.TB, users, nss, roleIDs []string) string {
	t.Helper()
	v := ts.Acquire()
	defer v.Release()
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d\n", v.Revision())
	for _, r := range v.Roles() {
		fmt.Fprintf(&b, "role %s %q admin=%v wc=%v %q %v created=%s updated=%s rev=%d grants=%d\n",
			r.ID, r.Name, r.Admin, r.Wildcard, r.Description, r.Permissions,
			r.CreatedAt.UTC().Format(time.RFC3339Nano), r.UpdatedAt.UTC().Format(time.RFC3339Nano), r.Revision, len(r.Grants))
		require.Same(t, r, v.RoleByName(strings.ToUpper(r.Name)))
		require.Same(t, r, v.Role(r.ID))
	}
	for _, id := range roleIDs {
		fmt.Fprintf(&b, "members %s %v\n", id, allMembers(t, v, id))
	}
	for _, u := range users {
		for _, a := range v.Assignments(u) {
			require.NotNil(t, a.Role())
			require.Same(t, v.Role(a.RoleID()), a.Role())
			fmt.Fprintf(&b, "assignment %s %s %s %v at=%s rev=%d bounded=%v nb=%s na=%s\n", a.UserID, a.Namespace, a.RoleID(),
				a.AssignedNamespaces, a.AssignedAt().UTC().Format(time.RFC3339Nano), a.Revision,
				a.Bounded(), a.NotBefore().Format(time.RFC3339Nano), a.NotAfter().Format(time.RFC3339Nano))
		}
	}
	for _, ns := range nss {
		info, ok := v.Namespace(ns)
		fmt.Fprintf(&b, "ns %s %v %+v\n", ns, ok, info)
	}
	return b.String()
}

func TestOpenEmpty(t *testing.T) {
	s := newMemStore(t)
	assert.Zero(t, s.Applied())
	v := s.Acquire()
	defer v.Release()
	assert.Zero(t, v.Revision())
	assert.Empty(t, v.Roles())
	assert.Nil(t, v.Role("r"))
	assert.Nil(t, v.RoleByName("User"))
	assert.Empty(t, v.Assignments("u"))
	info, ok := v.Namespace("foo")
	assert.False(t, ok)
	assert.Equal(t, NamespaceInfo{Name: "foo"}, info)
	assert.Empty(t, allMembers(t, v, "r"))
}

func TestOpenRequiresDir(t *testing.T) {
	_, err := Open(Options{FS: vfs.NewMem()})
	require.Error(t, err)
}

func TestOpenRejectsOtherLayout(t *testing.T) {
	s := newMemStore(t)
	require.NoError(t, s.db.Set(keyLayout, []byte("0"), nil))
	require.NoError(t, s.Close())
	_, err := Open(s.opts)
	require.ErrorIs(t, err, ErrLayout)
}

func TestRoleLifecycle(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t,
		l.role("r1", "GameAdmin", ep("NAMESPACE:{namespace}:CLIENT", 2), ep("ADMIN:ROLE", 1), ep("ADMIN:ROLE", 4)),
		l.role("r2", "viewer", ep("NAMESPACE:{NAMESPACE}:USER:{userid}:ORDER", 2)),
	)
	v := s.Acquire()
	r1 := v.Role("r1")
	require.NotNil(t, r1)
	assert.Equal(t, "GameAdmin", r1.Name)
	// Merged by resource, sorted, canonical.
	assert.Equal(t, []perm.Permission{pp("ADMIN:ROLE", 5), pp("NAMESPACE:{namespace}:CLIENT", 2)}, r1.Permissions)
	assert.Len(t, r1.Grants, 2)
	assert.Equal(t, t0.Add(time.Second), r1.CreatedAt)
	assert.Equal(t, uint64(1), r1.Revision)
	assert.Equal(t, []perm.Permission{pp("NAMESPACE:{namespace}:USER:{userId}:ORDER", 2)}, v.Role("r2").Permissions)
	assert.Same(t, r1, v.RoleByName("gameadmin"))
	assert.Same(t, r1, v.RoleByName("GAMEADMIN"))
	assert.Nil(t, v.RoleByName("Game"))
	names := func() []string {
		var out []string
		for _, r := range v.Roles() {
			out = append(out, r.Name)
		}
		return out
	}
	assert.Equal(t, []string{"GameAdmin", "viewer"}, names())
	v.Release()

	s.apply(t,
		l.next(plat, events.RoleUpdated{RoleID: "r1", RoleName: "Zeta", AdminRole: true, IsWildcard: true, Description: "d"}),
		l.next(plat, events.RolePermissionsAdded{RoleID: "r1", Permissions: []events.Permission{
			ep("ADMIN:ROLE", 2), ep("NAMESPACE:{namespace}:BUILD", 6),
		}}),
	)
	v = s.Acquire()
	r1 = v.Role("r1")
	assert.Equal(t, "Zeta", r1.Name)
	assert.True(t, r1.Admin)
	assert.True(t, r1.Wildcard)
	assert.Equal(t, "d", r1.Description)
	assert.Equal(t, t0.Add(time.Second), r1.CreatedAt)
	assert.Equal(t, t0.Add(4*time.Second), r1.UpdatedAt)
	assert.Equal(t, uint64(4), r1.Revision)
	assert.Nil(t, v.RoleByName("GameAdmin"), "old name is free after a rename")
	assert.Same(t, r1, v.RoleByName("zeta"))
	assert.Equal(t, []string{"viewer", "Zeta"}, names(), "sorted case-insensitively")
	assert.Equal(t, []perm.Permission{
		pp("ADMIN:ROLE", 7), pp("NAMESPACE:{namespace}:BUILD", 6), pp("NAMESPACE:{namespace}:CLIENT", 2),
	}, r1.Permissions)
	v.Release()

	s.apply(t, l.next(plat, events.RolePermissionsRemoved{RoleID: "r1", Permissions: []events.Permission{
		ep("ADMIN:ROLE", 1),                   // clears one bit
		ep("NAMESPACE:{namespace}:BUILD", 0),  // action 0 removes the resource
		ep("NAMESPACE:{namespace}:CLIENT", 2), // clearing the last bit removes it
		ep("NOT:HELD", 15),                    // removing what is not held is harmless
	}}))
	v = s.Acquire()
	assert.Equal(t, []perm.Permission{pp("ADMIN:ROLE", 6)}, v.Role("r1").Permissions)
	assert.Len(t, v.Role("r1").Grants, 1)
	v.Release()

	s.apply(t, l.next(plat, events.RolePermissionsReplaced{RoleID: "r1", Permissions: []events.Permission{
		ep("B", 1), ep("A", 8), ep("B", 2),
	}}))
	v = s.Acquire()
	assert.Equal(t, []perm.Permission{pp("A", 8), pp("B", 3)}, v.Role("r1").Permissions)
	v.Release()

	s.apply(t, l.next(plat, events.RoleDeleted{RoleID: "r1"}))
	v = s.Acquire()
	assert.Nil(t, v.Role("r1"))
	assert.Nil(t, v.RoleByName("Zeta"))
	assert.Equal(t, []string{"viewer"}, names())
	info, ok := v.Namespace(plat)
	assert.True(t, ok)
	assert.Equal(t, l.rev, info.LastRevision)
	v.Release()
	assert.Equal(t, l.rev, s.Applied())

	// The name of a deleted role can be taken again.
	s.apply(t, l.role("r3", "zeta"))
	v = s.Acquire()
	assert.Equal(t, "r3", v.RoleByName("ZETA").ID)
	v.Release()
}

func TestRoleNameConflictsChangeNothing(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "Alpha", ep("A", 1)), l.role("r2", "Beta"))
	before := s.dump(t)

	s.apply(t,
		l.role("r1", "Other"), // id taken
		l.role("r3", "ALPHA"), // name taken, other case
		l.next(plat, events.RoleUpdated{RoleID: "r2", RoleName: "alpha"}), // rename onto a taken name
		l.next(plat, events.RolePermissionsAdded{RoleID: "nope", Permissions: []events.Permission{ep("A", 1)}}),
		l.next(plat, events.RoleDeleted{RoleID: "nope"}),
	)
	v := s.Acquire()
	defer v.Release()
	assert.Equal(t, "Alpha", v.Role("r1").Name)
	assert.Equal(t, "Beta", v.Role("r2").Name)
	assert.Nil(t, v.Role("r3"))
	assert.Nil(t, v.Role("nope"))
	assert.Same(t, v.Role("r1"), v.RoleByName("alpha"))
	assert.Same(t, v.Role("r2"), v.RoleByName("beta"))
	assert.Len(t, v.Roles(), 2)
	assert.Equal(t, l.rev, s.Applied())
	assert.NotEqual(t, before, s.dump(t), "the platform namespace's last revision moves")
}

func TestRoleRenameKeepsOwnNameCaseChange(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "alpha"), l.next(plat, events.RoleUpdated{RoleID: "r1", RoleName: "ALPHA"}))
	v := s.Acquire()
	defer v.Release()
	assert.Equal(t, "ALPHA", v.Role("r1").Name)
	assert.Same(t, v.Role("r1"), v.RoleByName("Alpha"))
}

func assignmentsOf(v View, user string) []string {
	var out []string
	for _, a := range v.Assignments(user) {
		out = append(out, fmt.Sprintf("%s/%s%v", a.Namespace, a.RoleID(), a.AssignedNamespaces))
	}
	sort.Strings(out)
	return out
}

func TestAssignments(t *testing.T) {
	s := newDiskStore(t)
	var l log
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"))
	s.apply(t,
		l.assign("foo", "u1", "r1", "foo", "bar"),
		l.assign("baz", "u1", "r1", "baz"),
		l.assign("foo", "u1", "r2", "foo"),
		l.assign("foo", "u2", "r1", "foo"),
	)
	v := s.Acquire()
	assert.Equal(t, []string{"baz/r1[baz]", "foo/r1[foo bar]", "foo/r2[foo]"}, assignmentsOf(v, "u1"))
	for _, a := range v.Assignments("u1") {
		assert.Same(t, v.Role(a.RoleID()), a.Role())
	}
	a := v.Assignments("u2")
	require.Len(t, a, 1)
	assert.Equal(t, uint64(6), a[0].Revision)
	assert.Equal(t, t0.Add(6*time.Second), a[0].AssignedAt())
	info, ok := v.Namespace("foo")
	assert.True(t, ok)
	assert.False(t, info.Explicit, "namespaces spring into existence on first use")
	assert.Equal(t, uint64(6), info.LastRevision)
	info, _ = v.Namespace("baz")
	assert.Equal(t, uint64(4), info.LastRevision)
	v.Release()

	// Re-assigning replaces the namespaces; unassigning ends one assignment.
	held := v.Assignments("u1") // the slice a reader took stays unchanged
	heldCopy := slices.Clone(held)
	s.apply(t,
		l.assign("foo", "u1", "r1", "qux"),
		l.unassign("foo", "u1", "r2"),
		l.unassign("foo", "u2", "r1"),
		l.unassign("foo", "u2", "r1"), // again: harmless
	)
	assert.Equal(t, heldCopy, held, "copy on write")
	v = s.Acquire()
	assert.Equal(t, []string{"baz/r1[baz]", "foo/r1[qux]"}, assignmentsOf(v, "u1"))
	assert.Empty(t, v.Assignments("u2"))
	assert.Equal(t, []Member{{Namespace: "baz", UserID: "u1"}, {Namespace: "foo", UserID: "u1"}}, allMembers(t, v, "r1"))
	assert.Empty(t, allMembers(t, v, "r2"))
	v.Release()
}

func TestAssignUnknownRoleIsNoOp(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One"), l.assign("foo", "u1", "r1", "foo"))
	before := s.snapshot(t, []string{"u1", "u2"}, nil, []string{"r1", "ghost"})
	s.apply(t, l.assign("foo", "u2", "ghost", "foo"), l.assign("bar", "u1", "ghost", "bar"))
	assert.Equal(t, uint64(4), s.Applied())
	v := s.Acquire()
	assert.Empty(t, v.Assignments("u2"))
	assert.Empty(t, allMembers(t, v, "ghost"))
	info, ok := v.Namespace("bar")
	assert.True(t, ok)
	assert.Equal(t, uint64(4), info.LastRevision)
	v.Release()
	after := s.snapshot(t, []string{"u1", "u2"}, nil, []string{"r1", "ghost"})
	assert.Equal(t, strings.Replace(before, "revision 2", "revision 4", 1), after)
	var keys []string
	require.NoError(t, s.Export("", func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	}))
	for _, k := range keys {
		assert.NotContains(t, k, "ghost")
	}
}

func TestRoleDeletionEndsAssignments(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			s := newDiskStore(t)
			var l log
			evs := []events.Event{
				l.role("r1", "One"), l.role("r2", "Two"),
				l.assign("foo", "u1", "r1", "foo"),
				l.assign("bar", "u1", "r1", "bar"),
				l.assign("bar", "u2", "r1", "bar"),
				l.assign("baz", "u3", "r1", "baz"),
				l.assign("foo", "u1", "r2", "foo"),
				l.next(plat, events.RoleDeleted{RoleID: "r1"}),
			}
			if batched {
				s.apply(t, evs...)
			} else {
				for _, ev := range evs {
					s.apply(t, ev)
				}
			}
			check := func(s *testStore) {
				v := s.Acquire()
				defer v.Release()
				assert.Empty(t, allMembers(t, v, "r1"))
				assert.Equal(t, []Member{{Namespace: "foo", UserID: "u1"}}, allMembers(t, v, "r2"))
				assert.Equal(t, []string{"foo/r2[foo]"}, assignmentsOf(v, "u1"))
				assert.Empty(t, v.Assignments("u2"))
				assert.Empty(t, v.Assignments("u3"))
				assert.Equal(t, l.rev, s.Applied())
				require.NoError(t, s.Export("", func(k, _ []byte) error {
					assert.NotContains(t, string(k), "r1", "key %q survives the role", k)
					return nil
				}))
			}
			check(s)
			s = s.reopen(t)
			check(s)

			// A new role with the old id starts with no members.
			s.apply(t, l.role("r1", "OneAgain"))
			v := s.Acquire()
			assert.Empty(t, allMembers(t, v, "r1"))
			v.Release()
		})
	}
}

func TestNamespaceEvents(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t,
		l.role("r1", "One"),
		l.next("game1", events.NamespaceCreated{Namespace: "game1", Parent: "studio1-", DefaultRoles: []string{"r1"}}),
		l.assign("game1", "u1", "r1", "game1"),
		l.assign("game1", "u2", "r1", "game1", "other"),
		l.assign("other", "u1", "r1", "game1"),
	)
	v := s.Acquire()
	info, ok := v.Namespace("game1")
	assert.True(t, ok)
	assert.Equal(t, NamespaceInfo{Name: "game1", Explicit: true, Parent: "studio1-", DefaultRoles: []string{"r1"}, LastRevision: 4, Chained: true}, info)
	v.Release()

	s.apply(t, l.next("game1", events.NamespaceDeleted{Namespace: "game1"}))
	v = s.Acquire()
	info, ok = v.Namespace("game1")
	assert.True(t, ok)
	assert.Equal(t, NamespaceInfo{Name: "game1", LastRevision: 6, Chained: true}, info)
	assert.Equal(t, []string{"other/r1[game1]"}, assignmentsOf(v, "u1"), "assignments made elsewhere stay")
	assert.Empty(t, v.Assignments("u2"))
	assert.Equal(t, []Member{{Namespace: "other", UserID: "u1"}}, allMembers(t, v, "r1"))
	v.Release()
	require.NoError(t, s.Export("game1", func(k, _ []byte) error {
		assert.Equal(t, "n/game1/i", string(k))
		return nil
	}))
}

func TestMembersPagination(t *testing.T) {
	s := newMemStore(t)
	var l log
	evs := []events.Event{l.role("r1", "One"), l.role("r2", "Two")}
	var want []Member
	// Namespaces that sort differently as strings and as key prefixes
	// ("foo" < "foo-bar" but "n/foo-bar/" < "n/foo/").
	for _, ns := range []string{"foo", "foo-bar", "a", "zz"} {
		for _, u := range []string{"u3", "u1", "u2", "u10"} {
			evs = append(evs, l.assign(ns, u, "r1", ns))
			want = append(want, Member{Namespace: ns, UserID: u})
		}
		evs = append(evs, l.assign(ns, "other", "r2", ns))
	}
	evs = append(evs, l.next("empty", events.NamespaceCreated{Namespace: "empty"}))
	s.apply(t, evs...)
	sort.Slice(want, func(i, j int) bool {
		if want[i].Namespace != want[j].Namespace {
			return want[i].Namespace < want[j].Namespace
		}
		return want[i].UserID < want[j].UserID
	})

	v := s.Acquire()
	defer v.Release()
	assert.Equal(t, want, allMembers(t, v, "r1"))
	for _, limit := range []int{1, 3, 4, 5, 15, 16, 17} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			var got []Member
			cursor, pages := "", 0
			for {
				ms, next, err := v.Members("r1", cursor, limit)
				require.NoError(t, err)
				require.LessOrEqual(t, len(ms), limit)
				pages++
				require.LessOrEqual(t, pages, len(want)+1, "pagination does not end")
				got = append(got, ms...)
				if next == "" {
					break
				}
				require.Len(t, ms, limit, "only a full page has a next cursor")
				cursor = next
			}
			assert.Equal(t, want, got)
			assert.Equal(t, (len(want)+limit-1)/limit, pages, "no empty last page")
		})
	}
	ms, next, err := v.Members("r2", "", 2)
	require.NoError(t, err)
	assert.Equal(t, []Member{{Namespace: "a", UserID: "other"}, {Namespace: "foo", UserID: "other"}}, ms)
	assert.Equal(t, "foo/other", next)
	ms, next, err = v.Members("r2", next, 2)
	require.NoError(t, err)
	assert.Equal(t, []Member{{Namespace: "foo-bar", UserID: "other"}, {Namespace: "zz", UserID: "other"}}, ms)
	assert.Empty(t, next)
	// A cursor into a namespace that no longer holds members continues after it.
	ms, _, err = v.Members("r1", "b/x", 1)
	require.NoError(t, err)
	assert.Equal(t, []Member{{Namespace: "foo", UserID: "u1"}}, ms)
}

func TestMembersLimitZero(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One"), l.assign("foo", "u1", "r1", "foo"))
	v := s.Acquire()
	defer v.Release()
	var (
		ms  []Member
		err error
	)
	require.NotPanics(t, func() { ms, _, err = v.Members("r1", "", 0) })
	require.NoError(t, err)
	assert.Equal(t, []Member{{Namespace: "foo", UserID: "u1"}}, ms, "a limit <= 0 means no limit")
}

func TestIdempotentReapply(t *testing.T) {
	s := newMemStore(t)
	var l log
	evs := []events.Event{
		l.role("r1", "One", ep("A", 1)),
		l.assign("foo", "u1", "r1", "foo"),
		l.next(plat, events.RolePermissionsAdded{RoleID: "r1", Permissions: []events.Permission{ep("A", 2)}}),
		l.unassign("foo", "u1", "r1"),
		l.assign("foo", "u1", "r1", "bar"),
	}
	s.apply(t, evs...)
	before, applied := s.dump(t), s.Applied()
	ch := s.Changed()

	s.apply(t, evs...)
	for _, ev := range evs {
		s.apply(t, ev)
	}
	s.apply(t, evs[1:3]...)
	s.apply(t)
	assert.Equal(t, before, s.dump(t))
	assert.Equal(t, applied, s.Applied())
	select {
	case <-ch:
		t.Fatal("a no-op Apply signalled a change")
	default:
	}

	// A batch overlapping the applied revision applies only its new suffix.
	more := append(slices.Clone(evs[3:]), l.next(plat, events.RolePermissionsAdded{RoleID: "r1", Permissions: []events.Permission{ep("A", 4)}}))
	s.apply(t, more...)
	assert.Equal(t, l.rev, s.Applied())
	v := s.Acquire()
	assert.Equal(t, []perm.Permission{pp("A", 7)}, v.Role("r1").Permissions)
	assert.Equal(t, []string{"foo/r1[bar]"}, assignmentsOf(v, "u1"))
	v.Release()
	<-ch // closed by the change
}

func TestReopenPreservesState(t *testing.T) {
	for name, fs := range map[string]vfs.FS{"disk": nil, "mem": vfs.NewMem()} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t, testOptions(t, fs))
			var l log
			s.apply(t,
				l.role("r1", "One", ep("NAMESPACE:{namespace}:CLIENT", 15)),
				l.role("r2", "Two", ep("A", 3)),
				l.next("game1", events.NamespaceCreated{Namespace: "game1", Parent: "studio1-", DefaultRoles: []string{"r2"}}),
				// Added in an order that differs from key order.
				l.assign("zz", "u1", "r2", "zz"),
				l.assign("foo", "u1", "r2", "foo"),
				l.assign("foo-bar", "u1", "r1", "x", "y"),
				l.assign("foo", "u1", "r1"),
				l.assign("foo", "u2", "r1", "foo"),
				l.next(plat, events.RoleUpdated{RoleID: "r2", RoleName: "Deux", Description: "d"}),
				l.next("zz", events.UserRoleAssigned{UserID: "u2", RoleID: "r2", AssignedNamespaces: []string{"zz", "foo"},
					NotBefore: ptr(t0.Add(time.Hour + time.Nanosecond)), NotAfter: ptr(t0.Add(48 * time.Hour))}),
				l.next("zz", events.UserRoleAssigned{UserID: "u3", RoleID: "r2", AssignedNamespaces: []string{"zz"},
					NotAfter: ptr(t0.Add(-time.Hour))}),
			)
			users := []string{"u1", "u2", "u3"}
			hint, err := s.get(keyUsers)
			require.NoError(t, err)
			assert.Equal(t, u64(3), hint, "the users hint counts users with assignments")
			nss := []string{"foo", "foo-bar", "zz", "game1", plat, "none"}
			roles := []string{"r1", "r2", "r3"}
			snap, dump, applied := s.snapshot(t, users, nss, roles), s.dump(t), s.Applied()
			require.Equal(t, uint64(11), applied)

			s = s.reopen(t)
			assert.Equal(t, applied, s.Applied())
			assert.Equal(t, dump, s.dump(t))
			assert.Equal(t, snap, s.snapshot(t, users, nss, roles))

			// The reopened store keeps applying, and keeps its answers after another reopen.
			s.apply(t, l.assign("foo", "u3", "r2", "foo"), l.next(plat, events.RoleDeleted{RoleID: "r1"}))
			snap, dump = s.snapshot(t, users, nss, roles), s.dump(t)
			s = s.reopen(t)
			assert.Equal(t, l.rev, s.Applied())
			assert.Equal(t, dump, s.dump(t))
			assert.Equal(t, snap, s.snapshot(t, users, nss, roles))
		})
	}
}

func TestClosed(t *testing.T) {
	s := newMemStore(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	var l log
	require.ErrorIs(t, s.Apply([]events.Event{l.role("r1", "One")}), ErrClosed)
	require.ErrorIs(t, s.Sync(), ErrClosed)
}

func TestSync(t *testing.T) {
	s := newDiskStore(t)
	var l log
	s.apply(t, l.role("r1", "One"))
	require.NoError(t, s.Sync())
}

func TestWaitApplied(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One"))

	require.NoError(t, s.WaitApplied(context.Background(), 0))
	require.NoError(t, s.WaitApplied(context.Background(), 1))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.WaitApplied(ctx, 2)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	require.ErrorIs(t, s.WaitApplied(ctx, 2), context.Canceled)

	// A waiter wakes when a later Apply reaches its revision, not before.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.WaitApplied(ctx, 3)
	}()
	s.apply(t, l.role("r2", "Two"))
	select {
	case err := <-done:
		t.Fatalf("woke at revision 2: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	s.apply(t, l.role("r3", "Three"))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken")
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One", ep("A", 1)))
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				v := s.Acquire()
				for _, a := range v.Assignments("u1") {
					_ = a.Role().Permissions
				}
				_, _, err := v.Members("r1", "", 10)
				_ = v.Roles()
				v.Release()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 200 {
		ns := fmt.Sprintf("ns%d", i%5)
		if i%3 == 2 {
			s.apply(t, l.unassign(ns, "u1", "r1"))
		} else {
			s.apply(t, l.assign(ns, "u1", "r1", ns))
		}
	}
	close(stop)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
}

// ---- randomized tests ----

var (
	randRoles = []string{"r1", "r2", "r3", "r4"}
	randNames = []string{"Alpha", "alpha", "Beta", "Gamma", "Delta"}
	randUsers = []string{"u1", "u2", "u3", "u4", "u5"}
	randNSs   = []string{"foo", "foo-bar", "baz", "studio1-game1"}
	// Resource spellings and their canonical forms ("" when invalid).
	randResources = []struct{ in, canonical string }{
		{"ADMIN:ROLE", "ADMIN:ROLE"},
		{"NAMESPACE:{namespace}:CLIENT", "NAMESPACE:{namespace}:CLIENT"},
		{"NAMESPACE:{NameSpace}:CLIENT", "NAMESPACE:{namespace}:CLIENT"},
		{"NAMESPACE:{namespace}:USER:{userId}:ORDER", "NAMESPACE:{namespace}:USER:{userId}:ORDER"},
		{"NAMESPACE:{namespace}:USER:{userid}:ORDER", "NAMESPACE:{namespace}:USER:{userId}:ORDER"},
		{"*", "*"},
		{"BAD::TAG", ""},
	}
)

func randomEvent(rng *rand.Rand, l *log) events.Event {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	perms := func(zeroOK bool) []events.Permission {
		n := rng.IntN(4)
		out := make([]events.Permission, n)
		for i := range out {
			a := uint8(1 + rng.IntN(15))
			if zeroOK && rng.IntN(4) == 0 {
				a = 0
			}
			out[i] = ep(randResources[rng.IntN(len(randResources))].in, a)
		}
		return out
	}
	nss := func() []string {
		n := rng.IntN(3)
		out := make([]string, n)
		for i := range out {
			out[i] = pick(randNSs)
		}
		return out
	}
	switch k := rng.IntN(100); {
	case k < 8:
		return l.next(plat, events.RoleCreated{RoleID: pick(randRoles), RoleName: pick(randNames), Permissions: perms(true)})
	case k < 12:
		return l.next(plat, events.RoleUpdated{RoleID: pick(randRoles), RoleName: pick(randNames), AdminRole: rng.IntN(2) == 0})
	case k < 22:
		return l.next(plat, events.RolePermissionsAdded{RoleID: pick(randRoles), Permissions: perms(true)})
	case k < 30:
		return l.next(plat, events.RolePermissionsRemoved{RoleID: pick(randRoles), Permissions: perms(true)})
	case k < 34:
		return l.next(plat, events.RolePermissionsReplaced{RoleID: pick(randRoles), Permissions: perms(true)})
	case k < 38:
		return l.next(plat, events.RoleDeleted{RoleID: pick(randRoles)})
	case k < 75:
		return l.assign(pick(randNSs), pick(randUsers), pick(randRoles), nss()...)
	case k < 95:
		return l.unassign(pick(randNSs), pick(randUsers), pick(randRoles))
	case k < 97:
		ns := pick(randNSs)
		return l.next(ns, events.NamespaceCreated{Namespace: ns})
	default:
		ns := pick(randNSs)
		return l.next(ns, events.NamespaceDeleted{Namespace: ns})
	}
}

func randomEvents(seed uint64, n int) []events.Event {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var l log
	out := make([]events.Event, n)
	for i := range out {
		out[i] = randomEvent(rng, &l)
	}
	return out
}

// model is a plain reference model of the index.
type model struct {
	roles   map[string]*modelRole
	assigns map[string]map[string][]string // user -> "ns/role" -> assigned namespaces
	lastRev map[string]uint64
}

type modelRole struct {
	name  string
	perms map[string]perm.Action
}

func newModel() *model {
	return &model{roles: map[string]*modelRole{}, assigns: map[string]map[string][]string{}, lastRev: map[string]uint64{}}
}

func canonical(res string) string {
	for _, r := range randResources {
		if r.in == res {
			return r.canonical
		}
	}
	panic("unknown resource " + res)
}

func (m *model) nameTaken(name, except string) bool {
	for id, r := range m.roles {
		if id != except && strings.EqualFold(r.name, name) {
			return true
		}
	}
	return false
}

func (m *model) add(r *modelRole, ps []events.Permission) {
	for _, p := range ps {
		if c := canonical(p.Resource); c != "" && p.Action >= 1 && p.Action <= 15 {
			r.perms[c] |= perm.Action(p.Action)
		}
	}
}

func (m *model) unassignWhere(match func(user, ns, role string) bool) {
	for u, as := range m.assigns {
		for k := range as {
			ns, role, _ := strings.Cut(k, "/")
			if match(u, ns, role) {
				delete(as, k)
			}
		}
		if len(as) == 0 {
			delete(m.assigns, u)
		}
	}
}

func (m *model) apply(ev events.Event) {
	m.lastRev[ev.Namespace] = ev.Revision
	switch p := ev.Data.(type) {
	case events.RoleCreated:
		if m.roles[p.RoleID] != nil || m.nameTaken(p.RoleName, "") {
			return
		}
		r := &modelRole{name: p.RoleName, perms: map[string]perm.Action{}}
		m.add(r, p.Permissions)
		m.roles[p.RoleID] = r
	case events.RoleUpdated:
		if r := m.roles[p.RoleID]; r != nil && !m.nameTaken(p.RoleName, p.RoleID) {
			r.name = p.RoleName
		}
	case events.RolePermissionsAdded:
		if r := m.roles[p.RoleID]; r != nil {
			m.add(r, p.Permissions)
		}
	case events.RolePermissionsRemoved:
		r := m.roles[p.RoleID]
		if r == nil {
			return
		}
		for _, rm := range p.Permissions {
			c := canonical(rm.Resource)
			if c == "" {
				continue
			}
			if _, ok := r.perms[c]; !ok {
				continue
			}
			if rm.Action == 0 {
				delete(r.perms, c)
				continue
			}
			r.perms[c] &^= perm.Action(rm.Action)
			if r.perms[c] == 0 {
				delete(r.perms, c)
			}
		}
	case events.RolePermissionsReplaced:
		if r := m.roles[p.RoleID]; r != nil {
			r.perms = map[string]perm.Action{}
			m.add(r, p.Permissions)
		}
	case events.RoleDeleted:
		delete(m.roles, p.RoleID)
		m.unassignWhere(func(_, _, role string) bool { return role == p.RoleID })
	case events.UserRoleAssigned:
		if m.roles[p.RoleID] == nil {
			return
		}
		if m.assigns[p.UserID] == nil {
			m.assigns[p.UserID] = map[string][]string{}
		}
		nss := p.AssignedNamespaces
		if len(nss) == 0 {
			nss = nil // the index holds an empty list as nil
		}
		m.assigns[p.UserID][ev.Namespace+"/"+p.RoleID] = nss
	case events.UserRoleUnassigned:
		m.unassignWhere(func(u, ns, role string) bool { return u == p.UserID && ns == ev.Namespace && role == p.RoleID })
	case events.NamespaceDeleted:
		m.unassignWhere(func(_, ns, _ string) bool { return ns == ev.Namespace })
	}
}

func (m *model) check(t *testing.T, s *testStore, where string) {
	t.Helper()
	v := s.Acquire()
	defer v.Release()
	for _, id := range randRoles {
		mr, r := m.roles[id], v.Role(id)
		if mr == nil {
			require.Nil(t, r, "%s: role %s", where, id)
			continue
		}
		require.NotNil(t, r, "%s: role %s", where, id)
		require.Equal(t, mr.name, r.Name, "%s: role %s", where, id)
		require.Same(t, r, v.RoleByName(strings.ToLower(mr.name)), where)
		want := make([]perm.Permission, 0, len(mr.perms))
		for res, a := range mr.perms {
			want = append(want, pp(res, a))
		}
		sort.Slice(want, func(i, j int) bool { return want[i].Resource < want[j].Resource })
		require.Equal(t, want, r.Permissions, "%s: permissions of %s", where, id)
		require.Len(t, r.Grants, len(want))

		var wantMembers []Member
		for u, as := range m.assigns {
			for k := range as {
				if ns, role, _ := strings.Cut(k, "/"); role == id {
					wantMembers = append(wantMembers, Member{Namespace: ns, UserID: u})
				}
			}
		}
		sort.Slice(wantMembers, func(i, j int) bool {
			a, b := wantMembers[i], wantMembers[j]
			return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.UserID < b.UserID)
		})
		got := allMembers(t, v, id)
		if len(wantMembers) == 0 {
			require.Empty(t, got, "%s: members of %s", where, id)
		} else {
			require.Equal(t, wantMembers, got, "%s: members of %s", where, id)
		}
	}
	require.Len(t, v.Roles(), len(m.roles), where)
	for _, u := range randUsers {
		want := map[string][]string{}
		for k, nss := range m.assigns[u] {
			want[k] = nss
		}
		got := map[string][]string{}
		for _, a := range v.Assignments(u) {
			require.Equal(t, u, a.UserID)
			require.Same(t, v.Role(a.RoleID()), a.Role(), where)
			got[a.Namespace+"/"+a.RoleID()] = a.AssignedNamespaces
		}
		require.Len(t, v.Assignments(u), len(got), "%s: duplicate assignment of %s", where, u)
		var iterated []Assignment
		for it := v.UserAssignments(u); ; {
			a, ok := it.Next()
			if !ok {
				break
			}
			require.Nil(t, a.AssignedNamespaces)
			a.AssignedNamespaces = slices.Clone(it.AssignedNamespaces())
			iterated = append(iterated, a)
		}
		require.Equal(t, v.Assignments(u), iterated, "%s: UserAssignments of %s", where, u)
		require.True(t, slices.IsSortedFunc(v.Assignments(u), func(x, y Assignment) int {
			if c := strings.Compare(x.Namespace, y.Namespace); c != 0 {
				return c
			}
			return strings.Compare(x.RoleID(), y.RoleID())
		}), "%s: assignments of %s not sorted by namespace, role", where, u)
		require.Equal(t, want, got, "%s: assignments of %s", where, u)
	}
	for ns, rev := range m.lastRev {
		info, ok := v.Namespace(ns)
		require.True(t, ok, where)
		require.Equal(t, rev, info.LastRevision, "%s: namespace %s", where, ns)
	}
}

// TestRandomAgainstModel applies a random event sequence in random batch
// sizes and compares the index with the reference model after each batch,
// and after reopening.
func TestRandomAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			evs := randomEvents(seed, 2000)
			rng := rand.New(rand.NewPCG(seed, 7))
			s := newMemStore(t)
			m := newModel()
			for i := 0; i < len(evs); {
				n := 1 + rng.IntN(60)
				if rng.IntN(8) == 0 {
					n = 1
				}
				j := min(i+n, len(evs))
				// Sometimes re-deliver part of the previous batch.
				from := i
				if rng.IntN(4) == 0 {
					from = max(0, i-rng.IntN(10))
				}
				s.apply(t, evs[from:j]...)
				for _, ev := range evs[i:j] {
					m.apply(ev)
				}
				require.Equal(t, evs[j-1].Revision, s.Applied())
				m.check(t, s, fmt.Sprintf("after revision %d", evs[j-1].Revision))
				i = j
			}
			dump := s.dump(t)
			s = s.reopen(t)
			m.check(t, s, "after reopen")
			require.Equal(t, dump, s.dump(t))
		})
	}
}

// TestBatchEqualsOneByOne checks that one Apply of many events leaves the
// same index as one Apply per event: the indexed batch sees its own writes.
func TestBatchEqualsOneByOne(t *testing.T) {
	for _, seed := range []uint64{11, 12, 13, 14} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			evs := randomEvents(seed, 600)
			one, batch := newMemStore(t), newMemStore(t)
			for _, ev := range evs {
				one.apply(t, ev)
			}
			batch.apply(t, evs...)
			require.Equal(t, one.dump(t), batch.dump(t))
			require.Equal(t, one.Applied(), batch.Applied())
			snap := func(s *testStore) string { return s.snapshot(t, randUsers, randNSs, randRoles) }
			require.Equal(t, snap(one), snap(batch))
			batch = batch.reopen(t)
			require.Equal(t, snap(one), snap(batch))
		})
	}
}

// The instant of the applied revision's event is kept with the index (a
// past check at that revision is evaluated at it, even after retention
// removed the event from the stream).
func TestRevisionTimeSurvivesReopen(t *testing.T) {
	s := newMemStore(t)
	v := s.Acquire()
	_, ok := v.RevisionTime()
	v.Release()
	assert.False(t, ok, "revision 0 has no instant")
	var l log
	evs := []events.Event{l.role("r1", "GameAdmin", ep("ADMIN:ROLE", 1)), l.role("r2", "viewer", ep("ADMIN:ROLE", 2))}
	s.apply(t, evs...)
	want := evs[1].OccurredAt.UTC()
	v = s.Acquire()
	at, ok := v.RevisionTime()
	v.Release()
	require.True(t, ok)
	assert.Equal(t, want, at)
	require.NoError(t, s.Close())
	st, err := Open(s.opts)
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	v = st.Acquire()
	defer v.Release()
	at, ok = v.RevisionTime()
	require.True(t, ok)
	assert.Equal(t, want, at)
}

// TestRoleDeletedAtSurvivesReopen: the index keeps the revision at which a
// role was deleted (command.AssignRole tells by it whether an assignment
// stored at a revision came after its role's deletion).
func TestRoleDeletedAtSurvivesReopen(t *testing.T) {
	s := newMemStore(t)
	var l log
	evs := []events.Event{l.role("r1", "GameAdmin", ep("ADMIN:ROLE", 1)), l.role("r2", "viewer", ep("ADMIN:ROLE", 2)),
		l.next(events.PlatformNamespace, events.RoleDeleted{RoleID: "r1"})}
	s.apply(t, evs...)
	check := func(st *Store) {
		t.Helper()
		v := st.Acquire()
		defer v.Release()
		at, ok := v.RoleDeletedAt("r1")
		assert.True(t, ok)
		assert.Equal(t, evs[2].Revision, at)
		_, ok = v.RoleDeletedAt("r2")
		assert.False(t, ok, "r2 was not deleted")
		assert.True(t, v.RoleDeleted("r1"))
	}
	check(s.Store)
	require.NoError(t, s.Close())
	st, err := Open(s.opts)
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	check(st)
}
