package index

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// testRecord is a record of user id with a body of n bytes (the table
// reads only the id).
func testRecord(id string, n int) string {
	b := appendUser(nil, id)
	for i := range n {
		b = append(b, byte(i))
	}
	return string(b)
}

// TestUserTableMatchesMap runs random puts, replacements and removals on a
// table and on a Go map, and compares every lookup, the count and the
// iteration after each step. A small table with a few hash bits in use
// collides often: the probe, the growth and the backward shift of removal
// all run many times.
func TestUserTableMatchesMap(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			tab := newUserTable()
			if seed%2 == 0 {
				tab.reserve(300)
			}
			ref := map[string]string{}
			ids := make([]string, 600)
			for i := range ids {
				ids[i] = fmt.Sprintf("u%d", i)
			}
			for step := range 20_000 {
				id := ids[rng.IntN(len(ids))]
				switch op := rng.IntN(10); {
				case op < 6:
					rec := testRecord(id, rng.IntN(40))
					tab.put(rec)
					ref[id] = rec
				case op < 9:
					tab.remove(id)
					delete(ref, id)
				default:
					tab.remove("absent")
				}
				require.Equal(t, len(ref), tab.len(), "step %d", step)
				probe := ids[rng.IntN(len(ids))]
				rec, ok := tab.lookup(probe)
				want, wantOK := ref[probe]
				require.Equal(t, wantOK, ok, "step %d: %s", step, probe)
				require.Equal(t, want, rec, "step %d: %s", step, probe)
				if step%1000 == 0 {
					requireSameUsers(t, ref, &tab)
				}
			}
			requireSameUsers(t, ref, &tab)
			for id := range ref {
				tab.remove(id)
			}
			require.Zero(t, tab.len())
			for _, id := range ids {
				require.Empty(t, tab.get(id))
			}
		})
	}
}

func requireSameUsers(t *testing.T, ref map[string]string, tab *userTable) {
	t.Helper()
	got := map[string]string{}
	for id, rec := range tab.all() {
		_, dup := got[id]
		require.False(t, dup, "user %s yielded twice", id)
		got[id] = rec
	}
	require.Equal(t, ref, got)
	for id, rec := range ref {
		require.Equal(t, rec, tab.get(id))
	}
	require.LessOrEqual(t, tab.len()*4, len(tab.slots)*3, "load above 3/4")
}

// TestUserTableEmpty: lookups and removals on a table that never held a
// record, and one emptied again, find nothing and change nothing.
func TestUserTableEmpty(t *testing.T) {
	tab := newUserTable()
	require.Empty(t, tab.get("x"))
	_, ok := tab.lookup("")
	require.False(t, ok)
	tab.remove("x")
	require.Zero(t, tab.len())
	tab.put(testRecord("x", 3))
	tab.remove("x")
	require.Empty(t, tab.get("x"))
	require.Zero(t, tab.len())
	for range tab.all() {
		t.Fatal("an empty table yielded a user")
	}
}
