package query_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// fakeClock is the only fake of these tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// histEnv is a node (JetStream, projector, Pebble index, command service)
// whose query engine answers past questions.
type histEnv struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	st     *index.Store
	cmd    *command.Service
	eng    *query.Engine
	clock  *fakeClock
	key    *logsig.Key // signs events and snapshots (startHistEnvWith)
}

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// startHistEnv starts a node on a stream that allows purging (only so that
// a test can make the stream start after revision 1).
func startHistEnv(t *testing.T) *histEnv { return startHistEnvWith(t, false, 0) }

// startHistEnvWith: with snapshots, the command side signs its events (a
// snapshot is restored only when signed by a key the log announced), and
// past views start from the snapshots h.snapshot takes whenever that
// saves gain events.
func startHistEnvWith(t *testing.T, snapshots bool, gain uint64) *histEnv {
	t.Helper()
	dir := t.TempDir()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: dir, NoListen: true})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	js, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	cfg := eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1)
	cfg.DenyPurge = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := eventlog.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: testutil.Quiet, CacheSize: 4 << 20, MemTableSize: 8 << 20})
	require.NoError(t, err)
	clock := &fakeClock{t: t0}
	proj := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, js, st)
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proj.Run(pctx) }()
	az := auth.NewAuthorizer(query.New(query.Config{Now: clock.Now}, st, nil))
	hc := query.HistoryConfig{
		JS: js, Stream: eventlog.DefaultStream, Logger: testutil.Quiet, Views: 2,
		Replay: server.HistoryReplayer(js, eventlog.DefaultStream, testutil.Quiet),
	}
	var key *logsig.Key
	if snapshots {
		key, err = logsig.Generate()
		require.NoError(t, err)
		hc.Snapshots = server.HistorySnapshots(js, "", stream, st.SigningKeys, testutil.Quiet)
		hc.Dir = filepath.Join(dir, "past")
		hc.SnapshotGain = gain
	}
	eng := query.New(query.Config{MaxWait: 2 * time.Second, Now: clock.Now, History: hc}, st, nil)
	t.Cleanup(func() {
		eng.Close()
		pcancel()
		require.NoError(t, <-done)
		require.NoError(t, st.Close())
	})
	h := &histEnv{js: js, stream: stream, st: st, clock: clock, eng: eng, key: key,
		cmd: command.New(command.Config{ApplyWait: 5 * time.Second, Now: clock.Now, Signer: key}, js, stream, st, az)}
	if key != nil {
		_, _, err := h.cmd.AnnounceSigningKey(ctx, testutil.Root())
		require.NoError(t, err)
	}
	return h
}

// snapshot stores a snapshot of the live index (signed with the log's
// key) and returns its revision.
func (h *histEnv) snapshot(t *testing.T) uint64 {
	t.Helper()
	info, err := eventlog.TakeSnapshot(context.Background(), h.st, h.js, "", eventlog.WithSnapshotKeep(10),
		eventlog.WithSnapshotTempDir(t.TempDir()), eventlog.WithSnapshotSigner(h.key, h.stream))
	require.NoError(t, err)
	return info.Revision
}

// replayed returns a fresh index holding exactly the stream's events 1..n,
// read and applied directly (not through the projector), and the instant
// of event n.
func replayed(t *testing.T, stream jetstream.Stream, n uint64) (*index.Store, time.Time) {
	t.Helper()
	st, err := index.Open(index.Options{Dir: "/ref", FS: vfs.NewMem(), Logger: testutil.Quiet, CacheSize: 1 << 20, MemTableSize: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	reg := events.NewRegistry()
	var evs []events.Event
	var at time.Time
	ctx := context.Background()
	for seq := uint64(1); seq <= n; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		ev, err := reg.Decode(msg.Data)
		require.NoError(t, err)
		ev.Revision, ev.Hash = seq, sha256.Sum256(msg.Data)
		evs = append(evs, ev)
		at = ev.OccurredAt
	}
	if len(evs) > 0 {
		require.NoError(t, st.Apply(evs))
	}
	require.Equal(t, n, st.Applied())
	return st, at
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

var (
	hUsers = []string{"u1", "u2", "u3"}
	hNSs   = []string{"ns1", "ns2"}
	hSegs  = []string{"NAMESPACE", "{namespace}", "USER", "{userId}", "*", "ns1", "ns2", "BUILD", "ORDER"}
	hReq   = []string{"NAMESPACE", "USER", "ns1", "ns2", "u1", "u2", "BUILD", "ORDER", "{namespace}"}
)

func hTag(r *rand.Rand, segs []string) string {
	n := 1 + r.IntN(4)
	out := segs[r.IntN(len(segs))]
	for i := 1; i < n; i++ {
		out += ":" + segs[r.IntN(len(segs))]
	}
	return out
}

// randomHistory runs steps random commands at a fake clock that moves on
// between them; assignments may carry windows. Refused commands are fine.
func randomHistory(t *testing.T, h *histEnv, r *rand.Rand, steps int) {
	t.Helper()
	randomHistoryHook(t, h, r, steps, nil)
}

// randomHistoryHook is randomHistory calling after(i) after step i.
func randomHistoryHook(t *testing.T, h *histEnv, r *rand.Rand, steps int, after func(i int)) {
	t.Helper()
	ctx := context.Background()
	m := testutil.Root()
	roles := []string{}
	for i := 0; i < 3; i++ {
		ev, _, err := h.cmd.CreateRole(ctx, m, command.CreateRole{RoleName: fmt.Sprintf("role%d", i), IsWildcard: i == 0,
			Permissions: []perm.Permission{{Resource: hTag(r, hSegs), Action: perm.Action(1 + r.IntN(15))}}})
		require.NoError(t, err)
		roles = append(roles, ev.RoleID)
	}
	for i := 0; i < steps; i++ {
		h.clock.Add(time.Duration(1+r.IntN(90)) * time.Minute)
		role := roles[r.IntN(len(roles))]
		user := hUsers[r.IntN(len(hUsers))]
		ns := hNSs[r.IntN(len(hNSs))]
		var err error
		switch k := r.IntN(10); {
		case k < 4:
			var o command.AssignOptions
			if r.IntN(3) == 0 {
				na := h.clock.Now().Add(time.Duration(1+r.IntN(120)) * time.Minute)
				o.NotAfter = &na
			}
			_, err = h.cmd.AssignRole(ctx, m, ns, user, role, []string{ns}, o)
		case k < 6:
			_, err = h.cmd.UnassignRole(ctx, m, ns, user, role)
		case k < 8:
			_, err = h.cmd.ChangePermissions(ctx, m, role, command.AddPermissions,
				[]perm.Permission{{Resource: hTag(r, hSegs), Action: perm.Action(1 + r.IntN(15))}})
		case k < 9:
			_, err = h.cmd.ChangePermissions(ctx, m, role, command.RemovePermissions,
				[]perm.Permission{{Resource: hTag(r, hSegs), Action: 0}})
		default:
			ev, _, cerr := h.cmd.CreateRole(ctx, m, command.CreateRole{RoleName: fmt.Sprintf("extra%d", i),
				Permissions: []perm.Permission{{Resource: hTag(r, hSegs), Action: perm.Action(1 + r.IntN(15))}}})
			err = cerr
			if cerr == nil {
				roles = append(roles, ev.RoleID)
			}
		}
		_ = err // refusals (unknown assignment, invalid tag) are part of a random history
		if after != nil {
			after(i)
		}
	}
}

// TestPastCheckEqualsReplay: for random command sequences, a check
// atRevision N answers what a fresh index holding exactly events 1..N
// answers at event N's instant, for every sampled N (each sampled in a
// random order, so past views are built, reused and rolled forward).
func TestPastCheckEqualsReplay(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := startHistEnv(t)
			r := rand.New(rand.NewPCG(seed, 17))
			randomHistory(t, h, r, 60)
			head := h.st.Applied()
			require.Greater(t, head, uint64(20))
			revs := []uint64{1, head, head - 1}
			for len(revs) < 10 {
				revs = append(revs, 1+r.Uint64N(head))
			}
			ctx := context.Background()
			allowed := 0
			for _, n := range revs {
				ref, at := replayed(t, h.stream, n)
				refEng := query.New(query.Config{Now: fixed(at)}, ref, nil)
				for i := 0; i < 30; i++ {
					req := query.CheckRequest{
						Subject: query.Subject{Type: query.SubjectUser, ID: hUsers[r.IntN(len(hUsers))]}, Namespace: hNSs[r.IntN(len(hNSs))],
						Resource: hTag(r, hReq), Action: perm.Action(1 << r.IntN(4)),
					}
					want, werr := refEng.Check(ctx, &req)
					past := req
					past.AtRevision = n
					got, gerr := h.eng.Check(ctx, &past)
					if werr != nil {
						require.Error(t, gerr, "revision %d %+v", n, req)
						continue
					}
					require.NoError(t, gerr, "revision %d %+v", n, req)
					require.Equal(t, want.Allowed, got.Allowed, "revision %d %+v", n, req)
					require.Equal(t, n, got.Revision)
					if got.Allowed {
						allowed++
					}
				}
			}
			require.Positive(t, allowed, "the random checks never hit a grant: the test compares nothing")
		})
	}
}

// TestPastCheckAsOfAcrossWindow: asOf picks the last revision at or before
// the instant and evaluates the assignment's window at the instant itself.
func TestPastCheckAsOfAcrossWindow(t *testing.T) {
	h := startHistEnv(t)
	ctx := context.Background()
	m := testutil.Root()
	ev, roleRev, err := h.cmd.CreateRole(ctx, m, command.CreateRole{RoleName: "BuildDeleter",
		Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:BUILD", Action: perm.Delete}}})
	require.NoError(t, err)
	h.clock.Set(t0.Add(time.Hour)) // 10:00
	until := t0.Add(2 * time.Hour) // 11:00
	assigned, err := h.cmd.AssignRole(ctx, m, "game1", "alice", ev.RoleID, []string{"game1"}, command.AssignOptions{NotAfter: &until})
	require.NoError(t, err)
	h.clock.Set(t0.Add(5 * time.Hour)) // 14:00
	_, later, err := h.cmd.CreateRole(ctx, m, command.CreateRole{RoleName: "Other"})
	require.NoError(t, err)
	h.clock.Set(t0.Add(6 * time.Hour))

	ask := func(asOf time.Time) query.CheckResult {
		t.Helper()
		req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "alice"}, Namespace: "game1",
			Resource: "NAMESPACE:game1:BUILD", Action: perm.Delete, AsOf: &asOf, Explain: true}
		res, err := h.eng.Check(ctx, &req)
		require.NoError(t, err)
		return res
	}
	before := ask(t0.Add(30 * time.Minute))
	assert.False(t, before.Allowed, "before the assignment")
	assert.Equal(t, roleRev, before.Revision)
	in := ask(t0.Add(90 * time.Minute))
	assert.True(t, in.Allowed, "inside the window")
	assert.Equal(t, assigned, in.Revision)
	assert.Equal(t, t0.Add(90*time.Minute), in.Explanation.EvaluatedAt)
	out := ask(t0.Add(150 * time.Minute))
	assert.False(t, out.Allowed, "after notAfter, same revision")
	assert.Equal(t, assigned, out.Revision)
	last := ask(t0.Add(5*time.Hour + time.Minute))
	assert.False(t, last.Allowed)
	assert.Equal(t, later, last.Revision)
	none := ask(t0.Add(-time.Hour))
	assert.False(t, none.Allowed)
	assert.Zero(t, none.Revision, "before the first event: revision 0")

	// atRevision evaluates at the event's own instant (10:00: in force).
	req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "alice"}, Namespace: "game1",
		Resource: "NAMESPACE:game1:BUILD", Action: perm.Delete, AtRevision: assigned}
	res, err := h.eng.Check(ctx, &req)
	require.NoError(t, err)
	assert.True(t, res.Allowed)
	// The current state at 15:00: the window has ended.
	req.AtRevision = 0
	res, err = h.eng.Check(ctx, &req)
	require.NoError(t, err)
	assert.False(t, res.Allowed)

	// Refusals: both fields, with atLeastRevision, a future instant.
	future := h.clock.Now().Add(time.Hour)
	for _, bad := range []query.CheckRequest{
		{AtRevision: 1, AsOf: &future},
		{AtRevision: 1, AtLeastRevision: 1},
		{AsOf: &future},
	} {
		bad.Subject, bad.Namespace, bad.Resource, bad.Action = req.Subject, req.Namespace, req.Resource, req.Action
		_, err := h.eng.Check(ctx, &bad)
		require.ErrorIs(t, err, query.ErrInvalid)
	}
	// Beyond the head: not yet applied (after the bounded wait).
	beyond := req
	beyond.AtRevision = later + 100
	_, err = h.eng.Check(ctx, &beyond)
	require.ErrorIs(t, err, query.ErrNotYet)
}

// TestPastCheckCompacted: once the stream no longer starts at revision 1,
// a revision no past view reaches is 410 revisionCompacted naming the
// oldest answerable revision, which answers.
func TestPastCheckCompacted(t *testing.T) {
	h := startHistEnv(t)
	r := rand.New(rand.NewPCG(5, 5))
	randomHistory(t, h, r, 10)
	ctx := context.Background()
	head := h.st.Applied()
	require.NoError(t, h.stream.Purge(ctx, jetstream.WithPurgeSequence(5)))
	req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "u1"}, Namespace: "ns1",
		Resource: "NAMESPACE:ns1:BUILD", Action: perm.Read, AtRevision: 3}
	_, err := h.eng.Check(ctx, &req)
	var qe *query.Error
	require.ErrorAs(t, err, &qe)
	require.ErrorIs(t, err, query.ErrGone)
	assert.Equal(t, "revisionCompacted", qe.Code)
	assert.Equal(t, head, qe.Oldest)
	req.AtRevision = qe.Oldest
	res, err := h.eng.Check(ctx, &req)
	require.NoError(t, err)
	assert.Equal(t, head, res.Revision)

	// In a batch: the item says so, the others answer.
	batch := query.BatchRequest{Checks: []query.CheckRequest{req, req}}
	batch.Checks[0].AtRevision = 2
	out, err := h.eng.CheckBatch(ctx, &batch)
	require.NoError(t, err)
	assert.Equal(t, "revisionCompacted", out.Results[0].ErrorCode)
	assert.Equal(t, head, out.Results[0].OldestRevision)
	assert.Empty(t, out.Results[1].ErrorCode)
	assert.Equal(t, head, out.Results[1].Revision)
}

// refSet is what the subject holds at revision n by a fresh replay: the
// permissions SubjectPermissions lists (windows ignored: Now is the zero
// instant), as resource → action.
func refSet(t *testing.T, stream jetstream.Stream, n uint64, ns, user string) map[string]perm.Action {
	t.Helper()
	st, _ := replayed(t, stream, n)
	defer st.Close()
	eng := query.New(query.Config{Now: fixed(time.Time{})}, st, nil)
	out := map[string]perm.Action{}
	after := ""
	for {
		p, err := eng.SubjectPermissions(context.Background(), query.ReadOptions{}, ns, query.LookupSubject{Type: query.SubjectUser, ID: user}, after, query.MaxLimit)
		require.NoError(t, err)
		for _, e := range p.Data {
			out[e.Resource] = e.Action
		}
		if p.Next == "" {
			return out
		}
		after = p.Next
	}
}

func diffOf(a, b map[string]perm.Action) []perm.Permission {
	out := []perm.Permission{}
	for res, act := range b {
		if d := act &^ a[res]; d != 0 {
			out = append(out, perm.Permission{Resource: res, Action: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// TestTimelineEqualsReplayDiffs: on random histories, a user's timeline
// (walked page by page) is exactly the list of revisions at which the
// permissions a fresh replay gives differ from the revision before, with
// those differences.
func TestTimelineEqualsReplayDiffs(t *testing.T) {
	h := startHistEnv(t)
	r := rand.New(rand.NewPCG(3, 9))
	randomHistory(t, h, r, 40)
	head := h.st.Applied()
	ctx := context.Background()
	for _, user := range hUsers[:2] {
		for _, ns := range hNSs[:1] {
			var want []query.TimelineEntry
			prev := map[string]perm.Action{}
			for n := uint64(1); n <= head; n++ {
				cur := refSet(t, h.stream, n, ns, user)
				g, l := diffOf(prev, cur), diffOf(cur, prev)
				if len(g)+len(l) > 0 {
					want = append(want, query.TimelineEntry{Revision: n, Gained: g, Lost: l})
				}
				prev = cur
			}
			var got []query.TimelineEntry
			after := uint64(0)
			for pages := 0; ; pages++ {
				require.Less(t, pages, 1000)
				p, err := h.eng.Timeline(ctx, query.ReadOptions{}, query.TimelineRequest{Namespace: ns, SubjectType: query.SubjectUser,
					SubjectID: user, After: after, Limit: 2})
				require.NoError(t, err)
				require.LessOrEqual(t, len(p.Data), 2)
				got = append(got, p.Data...)
				if p.Paging.Next == 0 {
					assert.Equal(t, head, p.Revision)
					break
				}
				after = p.Paging.Next
			}
			require.NotEmpty(t, want, "user %s never held anything: the test compares nothing", user)
			require.Len(t, got, len(want), "user %s", user)
			for i := range want {
				assert.Equal(t, want[i].Revision, got[i].Revision, "entry %d", i)
				assert.Equal(t, want[i].Gained, got[i].Gained, "entry %d at %d", i, want[i].Revision)
				assert.Equal(t, want[i].Lost, got[i].Lost, "entry %d at %d", i, want[i].Revision)
				assert.NotEmpty(t, got[i].EventType)
				assert.Equal(t, auth.Bootstrap().Type, got[i].Actor.Type, "the bootstrap caller made them")
			}
		}
	}
}

// TestPastChecksConcurrent: many questions about random revisions at once,
// on an engine keeping only two past views (so views are evicted while in
// use and rolled forward under each other), all answer as a fresh replay
// does.
func TestPastChecksConcurrent(t *testing.T) {
	h := startHistEnv(t)
	r := rand.New(rand.NewPCG(11, 4))
	randomHistory(t, h, r, 40)
	head := h.st.Applied()
	type q struct {
		req  query.CheckRequest
		want bool
	}
	var qs []q
	ctx := context.Background()
	for range 12 {
		n := 1 + r.Uint64N(head)
		ref, at := replayed(t, h.stream, n)
		refEng := query.New(query.Config{Now: fixed(at)}, ref, nil)
		for range 4 {
			req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: hUsers[r.IntN(len(hUsers))]},
				Namespace: hNSs[r.IntN(len(hNSs))], Resource: hTag(r, hReq), Action: perm.Action(1 << r.IntN(4))}
			want, err := refEng.Check(ctx, &req)
			if err != nil {
				continue
			}
			req.AtRevision = n
			qs = append(qs, q{req: req, want: want.Allowed})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(qs))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range qs {
				c := qs[(i*7+g*5)%len(qs)]
				got, err := h.eng.Check(ctx, &c.req)
				switch {
				case err != nil:
					errs <- err
				case got.Allowed != c.want || got.Revision != c.req.AtRevision:
					errs <- fmt.Errorf("revision %d %+v: got %v at %d, want %v", c.req.AtRevision, c.req, got.Allowed, got.Revision, c.want)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPastCheckFromSnapshot: past views start from the nearest snapshot.
// After retention removed the stream's head up to the first snapshot,
// every revision from that snapshot on still answers what a fresh replay
// of events 1..N answers (which needs the snapshot: the events before it
// are gone), and an older revision is 410 revisionCompacted naming the
// snapshot's revision.
func TestPastCheckFromSnapshot(t *testing.T) {
	h := startHistEnvWith(t, true, 1)
	r := rand.New(rand.NewPCG(9, 17))
	var snaps []uint64
	randomHistoryHook(t, h, r, 60, func(i int) {
		if i == 19 || i == 39 {
			snaps = append(snaps, h.snapshot(t))
		}
	})
	head := h.st.Applied()
	s1, s2 := snaps[0], snaps[1]
	require.Less(t, s1, s2)
	require.Less(t, s2, head)
	revs := []uint64{s1, s1 + 1, s2, s2 + 1, head - 1}
	for len(revs) < 12 {
		revs = append(revs, s1+r.Uint64N(head-s1))
	}
	ctx := context.Background()
	type probe struct {
		req  query.CheckRequest
		want bool
	}
	probes := map[uint64][]probe{}
	for _, n := range revs {
		if probes[n] != nil {
			continue
		}
		ref, at := replayed(t, h.stream, n)
		refEng := query.New(query.Config{Now: fixed(at)}, ref, nil)
		for i := 0; i < 30; i++ {
			req := query.CheckRequest{
				Subject: query.Subject{Type: query.SubjectUser, ID: hUsers[r.IntN(len(hUsers))]}, Namespace: hNSs[r.IntN(len(hNSs))],
				Resource: hTag(r, hReq), Action: perm.Action(1 << r.IntN(4)),
			}
			want, err := refEng.Check(ctx, &req)
			if err != nil {
				continue
			}
			probes[n] = append(probes[n], probe{req: req, want: want.Allowed})
		}
	}

	// Retention: the stream now starts right after the first snapshot.
	require.NoError(t, h.stream.Purge(ctx, jetstream.WithPurgeSequence(s1+1)))
	info, err := h.stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, s1+1, info.State.FirstSeq)

	r.Shuffle(len(revs), func(i, j int) { revs[i], revs[j] = revs[j], revs[i] })
	allowed := 0
	for _, n := range revs {
		for _, p := range probes[n] {
			past := p.req
			past.AtRevision = n
			got, err := h.eng.Check(ctx, &past)
			require.NoError(t, err, "revision %d %+v", n, p.req)
			require.Equal(t, p.want, got.Allowed, "revision %d %+v", n, p.req)
			require.Equal(t, n, got.Revision)
			if got.Allowed {
				allowed++
			}
		}
	}
	require.Positive(t, allowed, "the random checks never hit a grant: the test compares nothing")

	req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "u1"}, Namespace: "ns1",
		Resource: "NAMESPACE:ns1:BUILD", Action: perm.Read, AtRevision: s1 - 1}
	_, err = h.eng.Check(ctx, &req)
	var qe *query.Error
	require.ErrorAs(t, err, &qe)
	require.ErrorIs(t, err, query.ErrGone)
	assert.Equal(t, "revisionCompacted", qe.Code)
	assert.Equal(t, s1, qe.Oldest, "the oldest answerable revision is the oldest snapshot's: %s", qe.Message)
}

// TestPastViewBehindRetention: a kept view that retention left behind
// (the stream no longer holds the events after it) gives way to a
// snapshot that reaches the revision asked, even when the snapshot saves
// fewer events than SnapshotGain.
func TestPastViewBehindRetention(t *testing.T) {
	h := startHistEnvWith(t, true, 1_000_000)
	r := rand.New(rand.NewPCG(11, 3))
	var s1 uint64
	randomHistoryHook(t, h, r, 40, func(i int) {
		if i == 19 {
			s1 = h.snapshot(t)
		}
	})
	head := h.st.Applied()
	ctx := context.Background()
	req := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "u1"}, Namespace: "ns1",
		Resource: "NAMESPACE:ns1:BUILD", Action: perm.Read}
	// A kept view before the snapshot (no snapshot at or below it: a replay).
	early := req
	early.AtRevision = s1 - 3
	_, err := h.eng.Check(ctx, &early)
	require.NoError(t, err)

	ref, at := replayed(t, h.stream, head-1)
	refEng := query.New(query.Config{Now: fixed(at)}, ref, nil)
	var probes []query.CheckRequest
	var wants []bool
	for i := 0; i < 40; i++ {
		p := query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: hUsers[r.IntN(len(hUsers))]}, Namespace: hNSs[r.IntN(len(hNSs))],
			Resource: hTag(r, hReq), Action: perm.Action(1 << r.IntN(4))}
		want, err := refEng.Check(ctx, &p)
		if err != nil {
			continue
		}
		probes, wants = append(probes, p), append(wants, want.Allowed)
	}
	require.NoError(t, h.stream.Purge(ctx, jetstream.WithPurgeSequence(s1+1)))
	allowed := 0
	for i, p := range probes {
		p.AtRevision = head - 1
		got, err := h.eng.Check(ctx, &p)
		require.NoError(t, err, "%+v", p)
		require.Equal(t, wants[i], got.Allowed, "%+v", p)
		require.Equal(t, head-1, got.Revision)
		if got.Allowed {
			allowed++
		}
	}
	require.Positive(t, allowed, "the random checks never hit a grant: the test compares nothing")
}
