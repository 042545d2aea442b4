package index

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

// loadShape applies grantbench's shape to s: 200 roles of 20 permissions
// (every 50th a wildcard role) and users each holding 1-3 roles made in a
// home namespace among 100, applying in 1-5 namespaces, in bulk events of
// 1,000 assignments. It returns the number of assignments.
func loadShape(t testing.TB, s *testStore, users int) int {
	t.Helper()
	var l log
	var evs []events.Event
	for i := range 200 {
		ps := make([]events.Permission, 0, 20)
		for j := range 20 {
			ps = append(ps, ep(fmt.Sprintf("NAMESPACE:{namespace}:USER:{userId}:OBJ%d", (i+j)%40), 15))
		}
		ev := l.role(fmt.Sprintf("role-%03d", i), fmt.Sprintf("Role%d", i), ps...)
		if i%50 == 0 {
			p := ev.Data.(events.RoleCreated)
			p.IsWildcard = true
			ev.Data = p
		}
		evs = append(evs, ev)
	}
	require.NoError(t, s.Apply(evs))
	r := rand.New(rand.NewPCG(1, 7))
	ns := func(i int) string { return fmt.Sprintf("game%03d", i) }
	byNS := map[string][]events.UserRoleAssigned{}
	total := 0
	flush := func(home string) {
		ev := l.next(home, events.UserRolesAssignedBatch{Assignments: byNS[home]})
		require.NoError(t, s.Apply([]events.Event{ev}))
		total += len(byNS[home])
		byNS[home] = byNS[home][:0]
	}
	for u := range users {
		home := ns(r.IntN(100))
		seen := map[int]bool{}
		for range 1 + r.IntN(3) {
			role := r.IntN(200)
			if seen[role] {
				continue
			}
			seen[role] = true
			var nss []string
			if role%50 != 0 {
				for range 1 + r.IntN(5) {
					nss = append(nss, ns(r.IntN(100)))
				}
			}
			byNS[home] = append(byNS[home], events.UserRoleAssigned{UserID: fmt.Sprintf("user%07d", u),
				RoleID: fmt.Sprintf("role-%03d", role), AssignedNamespaces: nss})
		}
		if len(byNS[home]) >= 1000 {
			flush(home)
		}
	}
	for home, list := range byNS {
		if len(list) > 0 {
			flush(home)
		}
	}
	return total
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPerUser measures the live heap an index holds per user after
// a reopen (what a replica holds after starting from a snapshot), on
// grantbench's shape. GRANTLOG_MEM_USERS sets the users (default 50,000);
// GRANTLOG_MEM_PROFILE writes a heap profile there
// (go tool pprof -sample_index=inuse_space), GRANTLOG_MEM_CPUPROFILE a CPU
// profile of the reopen alone. The bound guards the compact
// layout: a regression to per-assignment pointers and strings would double
// it.
func TestMemoryPerUser(t *testing.T) {
	users := 50_000
	if testing.Short() {
		users = 10_000
	}
	if v := os.Getenv("GRANTLOG_MEM_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		users = n
	}
	opts := testOptions(t, nil)
	opts.CacheSize, opts.MemTableSize = 16<<20, 64<<20
	s := openStore(t, opts)
	assignments := loadShape(t, s, users)
	require.NoError(t, s.Close())
	before := heapInUse()
	if p := os.Getenv("GRANTLOG_MEM_CPUPROFILE"); p != "" { // the reopen's CPU profile
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		defer f.Close()
	}
	start := time.Now()
	s2, err := Open(opts)
	opened := time.Since(start)
	pprof.StopCPUProfile()
	require.NoError(t, err)
	defer s2.Close()
	after := heapInUse()
	v := s2.Acquire()
	n := v.UserCount()
	v.Release()
	require.Equal(t, users, n)
	perUser := float64(after-before) / float64(users)
	t.Logf("%d users, %d assignments: reopened (loaded into memory) in %v; heap %.1f MiB after reopen, %.0f bytes per user, %.0f per assignment",
		users, assignments, opened.Round(time.Millisecond), float64(after-before)/(1<<20), perUser, float64(after-before)/float64(assignments))
	if p := os.Getenv("GRANTLOG_MEM_PROFILE"); p != "" {
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, pprof.WriteHeapProfile(f))
		require.NoError(t, f.Close())
	}
	// 407 bytes per user with an Assignment struct, a pointer and a namespace
	// list each (at 1M users); about 150 with records in a Go map; 89 at
	// 500,000 users with records in the users table (141 in the map).
	if raceEnabled {
		t.Log("not asserting the heap per user: the race detector inflates it")
		return
	}
	if users < 50_000 {
		// The index's fixed costs (tables, buffers) dominate a small one:
		// -short's 10,000 users measure ~340 bytes each.
		t.Log("not asserting the heap per user below 50,000 users")
		return
	}
	require.Less(t, perUser, 175.0, "bytes per user")
	runtime.KeepAlive(s2)
}
