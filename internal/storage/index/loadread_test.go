package index

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// userAssignments returns every user's assignments as the view shows them.
func userAssignments(t *testing.T, s *Store, users int) map[string]string {
	t.Helper()
	v := s.Acquire()
	defer v.Release()
	require.Equal(t, users, v.UserCount())
	out := make(map[string]string, users)
	for u := range users {
		id := fmt.Sprintf("user%07d", u)
		var rec []string
		for _, a := range v.Assignments(id) {
			rec = append(rec, fmt.Sprintf("%s %s %v %d %v %v %v", a.Namespace, a.RoleID(), a.AssignedNamespaces, a.Revision,
				a.AssignedAt(), a.NotBefore(), a.NotAfter()))
		}
		require.NotEmpty(t, rec, "user %s", id)
		out[id] = fmt.Sprint(rec)
	}
	return out
}

// TestReopenLoadsEveryUser: an index whose namespaces span many of the
// loader's chunks (read on one goroutine, folded on another) reopens with
// every user's assignments as they were.
func TestReopenLoadsEveryUser(t *testing.T) {
	const users = 6000
	opts := testOptions(t, nil)
	s := openStore(t, opts)
	loadShape(t, s, users)
	want := userAssignments(t, s.Store, users)
	require.NoError(t, s.Close())

	s2, err := Open(opts)
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, want, userAssignments(t, s2, users))
}

// TestLoadRefusesDamage: a damaged record or key after many good ones
// (in a later chunk than the first) fails the open with an error naming
// it, and nothing hangs.
func TestLoadRefusesDamage(t *testing.T) {
	for name, kv := range map[string][2]string{
		"damaged assignment record": {"n/zzz/a/user0000001/role-001", "garbage"},
		"malformed key":             {"n/zzz", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t, nil)
			s := openStore(t, opts)
			loadShape(t, s, 3000)
			require.NoError(t, s.db.Set([]byte(kv[0]), []byte(kv[1]), pebble.Sync))
			require.NoError(t, s.Close())
			_, err := Open(opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), "index: load")
			require.Contains(t, err.Error(), "n/zzz")
		})
	}
}
