package index

import (
	"fmt"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

func ptr[T any](v T) *T { return &v }

func TestAssignmentRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	for _, tc := range []struct {
		name   string
		nb, na time.Time
		nss    []string
	}{
		{"plain", time.Time{}, time.Time{}, []string{"game1", "game2"}},
		{"no namespaces", time.Time{}, time.Time{}, nil},
		{"not before", at.Add(time.Hour), time.Time{}, []string{"a"}},
		{"not after", time.Time{}, at.Add(-time.Hour), []string{"a", "b", "c"}},
		{"window", at.Add(-time.Hour), at.Add(time.Hour), []string{"ns-with-dash", "ns_with_underscore"}},
		{"before the epoch", time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), time.Time{}, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, off := appendAssignmentRecord([]byte("prefix"), 42, at, tc.nb, tc.na, tc.nss)
			require.Equal(t, "prefix", string(raw[:6]))
			rec, err := decodeAssignmentRecord(raw[6:])
			require.NoError(t, err)
			assert.Equal(t, uint64(42), rec.rev)
			assert.Equal(t, at, rec.assignedAt)
			assert.Equal(t, tc.nb, rec.notBefore)
			assert.Equal(t, tc.na, rec.notAfter)
			assert.Equal(t, raw[off:], rec.raw)
			nss, err := recordNamespaces(&rec)
			require.NoError(t, err)
			if len(tc.nss) == 0 {
				assert.Nil(t, nss)
			} else {
				assert.Equal(t, tc.nss, nss)
			}
		})
	}
}

func TestAssignmentRecordJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	raw, err := gojson.Marshal(assignmentRecord{AssignedNamespaces: []string{"a", "b"}, AssignedAt: at, Revision: 7,
		NotAfter: ptr(at.Add(time.Minute))})
	require.NoError(t, err)
	rec, err := decodeAssignmentRecord(raw)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), rec.rev)
	assert.Equal(t, at, rec.assignedAt)
	assert.True(t, rec.notBefore.IsZero())
	assert.Equal(t, at.Add(time.Minute), rec.notAfter)
	nss, err := recordNamespaces(&rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, nss)
}

func TestAssignmentRecordMalformed(t *testing.T) {
	good, _ := appendAssignmentRecord(nil, 42, t0, t0, t0, []string{"game1", "game2"})
	for i := range len(good) {
		rec, err := decodeAssignmentRecord(good[:i])
		if err == nil {
			_, err = recordNamespaces(&rec)
		}
		assert.Error(t, err, "truncated to %d bytes", i)
	}
	for _, bad := range [][]byte{nil, {0x02, 0}, []byte("{not json"), append(append([]byte(nil), good...), 0)} {
		rec, err := decodeAssignmentRecord(bad)
		if err == nil {
			_, err = recordNamespaces(&rec)
		}
		assert.Error(t, err, "%q", bad)
	}
}

// recordNamespaces returns the assigned namespaces of an assignment
// record (nil for none), as load reads them.
func recordNamespaces(rec *record) ([]string, error) {
	if rec.json {
		return rec.namespaces, nil
	}
	st := newState()
	ids, err := st.rawIDs(rec.raw)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		out = append(out, st.names.list[id])
	}
	return out, nil
}

// Assignments share the index's namespace names and user ids; what a
// reader took is its own copy, which later changes leave alone.
func TestAssignmentsShareNamesAndCopyOut(t *testing.T) {
	s := newMemStore(t)
	var l log
	nss := []string{"game1", "game2"}
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"),
		l.assign("game1", "u1", "r1", nss...),
		l.assign("game1", "u2", "r1", nss...),
		l.assign("game1", "u2", "r2", "game1", "game2"))
	nss[0] = "changed" // the event's slice, after apply

	v := s.Acquire()
	u1, u2 := v.Assignments("u1"), v.Assignments("u2")
	require.Len(t, u1, 1)
	require.Len(t, u2, 2)
	assert.Equal(t, []string{"game1", "game2"}, u1[0].AssignedNamespaces)
	assert.Same(t, unsafe.StringData(u1[0].AssignedNamespaces[0]), unsafe.StringData(u2[0].AssignedNamespaces[0]),
		"namespace names are shared")
	assert.Same(t, unsafe.StringData(u1[0].Namespace), unsafe.StringData(u2[1].AssignedNamespaces[0]))
	v.Release()

	// Replacing u2's assignment of r1 leaves u1's and u2's other
	// assignment as they were, and so does removing one.
	s.apply(t, l.assign("game1", "u2", "r1", "game3"), l.unassign("game1", "u2", "r2"))
	v = s.Acquire()
	defer v.Release()
	assert.Equal(t, []string{"game1", "game2"}, v.Assignments("u1")[0].AssignedNamespaces)
	require.Len(t, v.Assignments("u2"), 1)
	assert.Equal(t, []string{"game3"}, v.Assignments("u2")[0].AssignedNamespaces)
	// What a reader took before is unchanged.
	assert.Equal(t, []string{"game1", "game2"}, u2[0].AssignedNamespaces)
	assert.Equal(t, "r2", u2[1].RoleID())
	assert.Equal(t, []string{"game1", "game2"}, u2[1].AssignedNamespaces)
	// The user id is stored once per user.
	assert.Same(t, unsafe.StringData(u1[0].UserID), unsafe.StringData(v.Assignments("u1")[0].UserID))
	// Appending to a copy's list never writes into another's.
	a := v.Assignments("u1")
	_ = append(a[0].AssignedNamespaces, "x")
	assert.Equal(t, []string{"game1", "game2"}, a[0].AssignedNamespaces)
}

// A layout 1 index (JSON assignment records) opens without a rebuild,
// answers as the index it was, and is marked layout 2.
func TestOpenLayout1(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"),
		l.assign("foo", "u1", "r1", "foo", "bar"),
		l.assign("foo-bar", "u1", "r2", "x"),
		l.assign("zz", "u1", "r2"),
		l.next("zz", events.UserRoleAssigned{UserID: "u2", RoleID: "r2", AssignedNamespaces: []string{"zz"},
			NotBefore: ptr(t0.Add(time.Hour)), NotAfter: ptr(t0.Add(2 * time.Hour))}))
	users, nss, roles := []string{"u1", "u2"}, []string{"foo", "foo-bar", "zz"}, []string{"r1", "r2"}
	snap := s.snapshot(t, users, nss, roles)

	// Rewrite it as layout 1 wrote it.
	b := s.db.NewBatch()
	n := 0
	require.NoError(t, s.Export("", func(k, v []byte) error {
		if _, _, _, ok := splitAssignmentKey(k); !ok {
			return nil
		}
		rec, err := decodeAssignmentRecord(v)
		require.NoError(t, err)
		nss, err := recordNamespaces(&rec)
		require.NoError(t, err)
		if nss == nil {
			nss = []string{} // layout 1 kept what the event carried
		}
		raw, err := gojson.Marshal(assignmentRecord{AssignedNamespaces: nss, AssignedAt: rec.assignedAt,
			Revision: rec.rev, NotBefore: optTime(rec.notBefore), NotAfter: optTime(rec.notAfter)})
		require.NoError(t, err)
		n++
		return b.Set(k, raw, nil)
	}))
	require.Equal(t, 4, n)
	require.NoError(t, b.Set(keyLayout, []byte("1"), nil))
	require.NoError(t, b.Commit(pebble.Sync))

	s = s.reopen(t)
	assert.Equal(t, snap, s.snapshot(t, users, nss, roles))
	layout, err := s.get(keyLayout)
	require.NoError(t, err)
	assert.Equal(t, "2", string(layout))
	// The JSON records were rewritten in binary as they were read.
	n = 0
	require.NoError(t, s.Export("", func(k, v []byte) error {
		if _, _, _, ok := splitAssignmentKey(k); ok {
			n++
			assert.Equal(t, byte(recordBinary), v[0], "%q", k)
		}
		return nil
	}))
	assert.Equal(t, 4, n)
	// It keeps applying (binary records from now on) and reopens alike.
	s.apply(t, l.assign("foo", "u1", "r1", "bar"), l.assign("foo", "u3", "r1", "foo"))
	users = append(users, "u3")
	snap = s.snapshot(t, users, nss, roles)
	s = s.reopen(t)
	assert.Equal(t, snap, s.snapshot(t, users, nss, roles))
}

func TestOpenRejectsNewerLayout(t *testing.T) {
	s := newMemStore(t)
	require.NoError(t, s.db.Set(keyLayout, []byte("3"), nil))
	require.NoError(t, s.Close())
	_, err := Open(s.opts)
	require.ErrorIs(t, err, ErrLayout)
}

// Writes buffered for a plain batch are added in key order; several writes
// of one key in one batch must keep their order (the last wins).
func TestBatchWritesOfOneKeyKeepTheirOrder(t *testing.T) {
	s := newMemStore(t)
	var l log
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"))
	s.apply(t,
		l.assign("foo", "u1", "r1", "a"),
		l.assign("foo", "u1", "r1", "b"),
		l.unassign("foo", "u2", "r1"),
		l.assign("foo", "u2", "r1", "c"),
		l.assign("foo", "u3", "r2", "d"),
		l.unassign("foo", "u3", "r2"),
	)
	want := s.dump(t)
	assert.Contains(t, want, `"n/foo/m/r1/u2"`)
	assert.NotContains(t, want, `"n/foo/a/u3/r2"`)
	snap := s.snapshot(t, []string{"u1", "u2", "u3"}, []string{"foo"}, []string{"r1", "r2"})
	s = s.reopen(t)
	assert.Equal(t, want, s.dump(t))
	assert.Equal(t, snap, s.snapshot(t, []string{"u1", "u2", "u3"}, []string{"foo"}, []string{"r1", "r2"}))
	v := s.Acquire()
	defer v.Release()
	assert.Equal(t, []string{"b"}, v.Assignments("u1")[0].AssignedNamespaces)
	assert.Equal(t, []string{"c"}, v.Assignments("u2")[0].AssignedNamespaces)
	assert.Empty(t, v.Assignments("u3"))
}

// The iterator answers what Assignments answers, also for assignments
// with more assigned namespaces than it holds inline, and windows.
func TestUserAssignmentsIterator(t *testing.T) {
	s := newMemStore(t)
	var l log
	many := make([]string, 0, 20)
	for i := range 20 {
		many = append(many, fmt.Sprintf("ns%02d", i))
	}
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"), l.role("r3", "Three"),
		l.assign("b", "u1", "r1", many...),
		l.assign("a", "u1", "r2", "x"),
		l.next("a", events.UserRoleAssigned{UserID: "u1", RoleID: "r3", AssignedNamespaces: many[:3],
			NotBefore: ptr(time.Date(1900, 1, 1, 0, 0, 0, 5, time.UTC)), NotAfter: ptr(t0.Add(time.Hour))}),
		l.assign("c", "u1", "r2"))
	check := func(s *testStore) {
		v := s.Acquire()
		defer v.Release()
		want := v.Assignments("u1")
		require.Len(t, want, 4)
		assert.Equal(t, []string{"a/r2", "a/r3", "b/r1", "c/r2"}, []string{want[0].Namespace + "/" + want[0].RoleID(),
			want[1].Namespace + "/" + want[1].RoleID(), want[2].Namespace + "/" + want[2].RoleID(), want[3].Namespace + "/" + want[3].RoleID()})
		assert.Equal(t, many, want[2].AssignedNamespaces)
		assert.Nil(t, want[3].AssignedNamespaces)
		assert.True(t, want[1].Bounded())
		assert.Equal(t, time.Date(1900, 1, 1, 0, 0, 0, 5, time.UTC), want[1].NotBefore())
		assert.Equal(t, t0.Add(time.Hour), want[1].NotAfter())
		assert.False(t, want[1].InForce(t0.Add(time.Hour)))
		assert.True(t, want[1].InForce(t0))
		assert.False(t, want[0].Bounded())
		var got []Assignment
		for it := v.UserAssignments("u1"); ; {
			a, ok := it.Next()
			if !ok {
				break
			}
			a.AssignedNamespaces = slices.Clone(it.AssignedNamespaces())
			got = append(got, a)
		}
		assert.Equal(t, want, got)
		it := v.UserAssignments("nobody")
		_, ok := it.Next()
		assert.False(t, ok)
	}
	check(s)
	check(s.reopen(t))
}

// TestUserAssignmentsThroughOverlay: with an overlay (a transaction's
// staged steps, a what-if) the check path's iterator yields the overlay's
// assignments — staged ones in, unassigned ones out, namespace lists kept —
// as Assignments lists them.
func TestUserAssignmentsThroughOverlay(t *testing.T) {
	s := newMemStore(t)
	var l log
	many := make([]string, 0, 12)
	for i := range 12 {
		many = append(many, fmt.Sprintf("ns%02d", i))
	}
	s.apply(t, l.role("r1", "One"), l.role("r2", "Two"), l.assign("a", "u1", "r1", "x"), l.assign("b", "u1", "r2"))
	v := s.Acquire()
	defer v.Release()
	o := NewOverlay()
	for _, ev := range []events.Event{l.assign("c", "u1", "r1", many...), l.unassign("a", "u1", "r1"), l.assign("a", "u2", "r2", "y")} {
		o.Stage(v, &ev)
	}
	w := v.With(o)
	for user, want := range map[string][]string{"u1": {"b/r2", "c/r1"}, "u2": {"a/r2"}} {
		listed := w.Assignments(user)
		var got []Assignment
		for it := w.UserAssignments(user); ; {
			a, ok := it.Next()
			if !ok {
				break
			}
			a.AssignedNamespaces = slices.Clone(it.AssignedNamespaces())
			got = append(got, a)
		}
		require.Equal(t, listed, got, user)
		keys := make([]string, 0, len(got))
		for _, a := range got {
			keys = append(keys, a.Namespace+"/"+a.RoleID())
		}
		assert.Equal(t, want, keys, user)
	}
	assert.Equal(t, many, w.Assignments("u1")[1].AssignedNamespaces)
	// The view without the overlay is unchanged.
	assert.Len(t, v.Assignments("u1"), 2)
	assert.Empty(t, v.Assignments("u2"))
}
