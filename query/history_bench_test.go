package query_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/dataset"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// historyBench is a stream of a generated dataset (GRANTLOG_HISTORY_USERS
// users, default 60,000: ~2 assignments each, ~120k events) followed by
// busy events assigning and unassigning one role to user "busy", and the
// live index at its head.
type historyBench struct {
	log  *testutil.Log
	st   *index.Store
	head uint64
	busy int
}

func newHistoryBench(b *testing.B) *historyBench {
	b.Helper()
	users := 60_000
	if v, err := strconv.Atoi(os.Getenv("GRANTLOG_HISTORY_USERS")); err == nil && v > 0 {
		users = v
	}
	if testing.Short() {
		users = 2_000
	}
	d := testutil.GenerateDataset(testutil.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: users,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1})
	evs := d.Events
	rev := uint64(len(evs))
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	const busy = 2_000
	for i := range busy {
		rev++
		var p events.Payload = events.UserRoleAssigned{UserID: "busy", RoleID: dataset.RoleID(1 + i%7), AssignedNamespaces: []string{"game000"}}
		if i%2 == 1 {
			p = events.UserRoleUnassigned{UserID: "busy", RoleID: dataset.RoleID(1 + (i-1)%7)}
		}
		evs = append(evs, events.Event{Revision: rev, Data: p, Envelope: events.Envelope{
			EventID: fmt.Sprintf("busy-%d", i), Type: p.EventType(), Namespace: "game000", AggregateID: "busy",
			OccurredAt: at.Add(time.Duration(i) * time.Minute), Actor: events.Actor{Type: events.ActorUser, ID: "ops"},
			CommandID: fmt.Sprintf("busy-cmd-%d", i), Reason: "rotation",
		}})
	}
	log := testutil.StartLogWith(b, b.TempDir(), false)
	log.Publish(b, evs)
	n := testutil.StartNode(b, log, b.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := n.Store.WaitApplied(ctx, rev); err != nil {
		b.Fatalf("the index did not reach %d: %v", rev, err)
	}
	return &historyBench{log: log, st: n.Store, head: rev, busy: busy}
}

func (h *historyBench) engine() *query.Engine {
	return query.New(query.Config{History: query.HistoryConfig{JS: h.log.JS, Stream: eventlog.DefaultStream, Logger: testutil.Quiet,
		Replay: server.HistoryReplayer(h.log.JS, eventlog.DefaultStream, testutil.Quiet)}}, h.st, nil)
}

// BenchmarkPastCheck: a check at revision head-back. "first" asks each
// time of a new engine (no past view kept: a replay of head-back events
// into a fresh in-memory index); "repeated" asks one engine the same
// revision again (its kept view); "nearby" asks one revision later each
// time (the kept view rolled forward by one event).
func BenchmarkPastCheck(b *testing.B) {
	h := newHistoryBench(b)
	ctx := context.Background()
	req := pastBenchRequest()
	for _, back := range []uint64{1_000, 100_000, 1_000_000} {
		if back >= h.head {
			b.Logf("back=%d skipped: the stream holds %d events", back, h.head)
			continue
		}
		at := h.head - back
		b.Run(fmt.Sprintf("back=%d/first", back), func(b *testing.B) {
			for b.Loop() {
				e := h.engine()
				r := req
				r.AtRevision = at
				if _, err := e.Check(ctx, &r); err != nil {
					b.Fatal(err)
				}
				e.Close()
			}
			b.ReportMetric(float64(at), "events-replayed")
		})
		b.Run(fmt.Sprintf("back=%d/repeated", back), func(b *testing.B) {
			e := h.engine()
			defer e.Close()
			r := req
			r.AtRevision = at
			if _, err := e.Check(ctx, &r); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Check(ctx, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("back=%d/nearby", back), func(b *testing.B) {
			e := h.engine()
			defer e.Close()
			r := req
			r.AtRevision = at - 1_000
			if _, err := e.Check(ctx, &r); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if r.AtRevision < h.head {
					r.AtRevision++
				}
				if _, err := e.Check(ctx, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTimelineBusyUser: the timeline of a user changed by 2,000
// events at the end of the stream (2,000 entries): "first" is its first
// page of 1,000 from a new engine (a replay of the whole stream, one index
// commit per busy event); "pages of 100": the same timeline walked page
// by page on one engine (each next page starts from the view the page
// before left).
func BenchmarkTimelineBusyUser(b *testing.B) {
	h := newHistoryBench(b)
	ctx := context.Background()
	req := query.TimelineRequest{Namespace: "game000", SubjectType: query.SubjectUser, SubjectID: "busy", Limit: query.MaxLimit}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			e := h.engine()
			p, err := e.Timeline(ctx, query.ReadOptions{}, req)
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Data) != query.MaxLimit {
				b.Fatalf("%d entries, want %d", len(p.Data), query.MaxLimit)
			}
			e.Close()
		}
		b.ReportMetric(float64(h.head), "events")
	})
	b.Run("pages of 100", func(b *testing.B) {
		pages := 0
		for b.Loop() {
			e := h.engine()
			r := req
			r.Limit = 100
			for {
				p, err := e.Timeline(ctx, query.ReadOptions{}, r)
				if err != nil {
					b.Fatal(err)
				}
				pages++
				if p.Paging.Next == 0 {
					break
				}
				r.After = p.Paging.Next
			}
			e.Close()
		}
		b.ReportMetric(float64(pages)/float64(b.N), "pages")
	})
}

// deepHistory is a signed stream of the generated dataset at
// GRANTLOG_HISTORY_USERS users (default 100,000) followed by churn
// (assignments and unassignments of random users) up to
// GRANTLOG_HISTORY_EVENTS events (default 1,300,000), with a snapshot of
// the live index stored every 250,000 events, as a node taking snapshots
// at that interval would have left them.
type deepHistory struct {
	log   *testutil.SignedLog
	st    *index.Store
	head  uint64
	snaps []uint64
}

func newDeepHistory(b *testing.B) *deepHistory {
	b.Helper()
	if os.Getenv("GRANTLOG_BENCH_HEAVY") == "" {
		b.Skip("builds a stream of 1.3M signed events (minutes): set GRANTLOG_BENCH_HEAVY=1")
	}
	users, total := 100_000, 1_300_000
	if v, err := strconv.Atoi(os.Getenv("GRANTLOG_HISTORY_USERS")); err == nil && v > 0 {
		users = v
	}
	if v, err := strconv.Atoi(os.Getenv("GRANTLOG_HISTORY_EVENTS")); err == nil && v > 0 {
		total = v
	}
	const interval = 250_000
	d := testutil.GenerateDataset(testutil.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: users,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1})
	evs := d.Events
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 3))
	type pair struct{ user, role, ns string }
	var open []pair
	for i := 0; len(evs)+1 < total; i++ {
		var p events.Payload
		var a pair
		if len(open) > 0 && rng.IntN(2) == 0 {
			k := rng.IntN(len(open))
			a = open[k]
			open[k] = open[len(open)-1]
			open = open[:len(open)-1]
			p = events.UserRoleUnassigned{UserID: a.user, RoleID: a.role}
		} else {
			a = pair{dataset.UserID(rng.IntN(users)), dataset.RoleID(1 + rng.IntN(200)), dataset.NSName(rng.IntN(100))}
			open = append(open, a)
			p = events.UserRoleAssigned{UserID: a.user, RoleID: a.role, AssignedNamespaces: []string{a.ns}}
		}
		evs = append(evs, events.Event{Data: p, Envelope: events.Envelope{
			EventID: fmt.Sprintf("churn-%d", i), Type: p.EventType(), Namespace: a.ns, AggregateID: a.user,
			OccurredAt: at.Add(time.Duration(i) * time.Second), Actor: events.Actor{Type: events.ActorUser, ID: "ops"},
			CommandID: fmt.Sprintf("churn-cmd-%d", i), Reason: "churn",
		}})
	}
	log := testutil.StartLogWith(b, b.TempDir(), false)
	s := log.Signed(b, nil)
	s.Announce(b)
	n := testutil.StartNode(b, log, b.TempDir())
	h := &deepHistory{log: s, st: n.Store}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	for i := 0; i < len(evs); i += interval {
		h.head = s.AppendAsync(b, evs[i:min(i+interval, len(evs))])
		if err := n.Store.WaitApplied(ctx, h.head); err != nil {
			b.Fatalf("the index did not reach %d: %v", h.head, err)
		}
		if i+interval < len(evs) {
			info, err := eventlog.TakeSnapshot(ctx, n.Store, log.JS, "", eventlog.WithSnapshotKeep(100),
				eventlog.WithSnapshotTempDir(b.TempDir()), eventlog.WithSnapshotSigner(s.Key, log.Stream))
			if err != nil {
				b.Fatal(err)
			}
			h.snaps = append(h.snaps, info.Revision)
		}
	}
	b.Logf("stream of %d events (%d users), snapshots at %v, built in %s", h.head, users, h.snaps, time.Since(start).Round(time.Second))
	return h
}

func (h *deepHistory) engine(b *testing.B, snapshots bool) *query.Engine {
	hc := query.HistoryConfig{JS: h.log.JS, Stream: eventlog.DefaultStream, Logger: testutil.Quiet,
		Replay: server.HistoryReplayer(h.log.JS, eventlog.DefaultStream, testutil.Quiet)}
	if snapshots {
		hc.Snapshots = server.HistorySnapshots(h.log.JS, "", h.log.Stream, h.st.SigningKeys, testutil.Quiet)
		hc.Dir = b.TempDir()
	}
	return query.New(query.Config{History: hc}, h.st, nil)
}

// BenchmarkPastCheckDeep: a check at revision head-back on the deep
// stream. "first" asks a new engine each time: the newest snapshot at or
// below the revision restored, then the events after it replayed;
// "first-replay" the same without snapshots (a replay from the stream's
// first event); "repeated" asks one engine the same revision again.
//
//	GRANTLOG_BENCH_HEAVY=1 go test ./query/ -run '^$' -bench PastCheckDeep -benchtime 3x -timeout 60m
func BenchmarkPastCheckDeep(b *testing.B) {
	h := newDeepHistory(b)
	ctx := context.Background()
	req := pastBenchRequest()
	for _, back := range []uint64{1_000, 100_000, 1_000_000} {
		if back >= h.head {
			b.Logf("back=%d skipped: the stream holds %d events", back, h.head)
			continue
		}
		at := h.head - back
		var snap uint64
		for _, s := range h.snaps {
			if s <= at {
				snap = s
			}
		}
		for _, mode := range []string{"first", "first-replay"} {
			b.Run(fmt.Sprintf("back=%d/%s", back, mode), func(b *testing.B) {
				for b.Loop() {
					e := h.engine(b, mode == "first")
					r := req
					r.AtRevision = at
					if _, err := e.Check(ctx, &r); err != nil {
						b.Fatal(err)
					}
					e.Close()
				}
				replayed := at
				if mode == "first" {
					replayed = at - snap
				}
				b.ReportMetric(float64(replayed), "events-replayed")
			})
		}
		b.Run(fmt.Sprintf("back=%d/repeated", back), func(b *testing.B) {
			e := h.engine(b, true)
			defer e.Close()
			r := req
			r.AtRevision = at
			if _, err := e.Check(ctx, &r); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Check(ctx, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pastBenchRequest is the check the past-check benchmarks ask.
func pastBenchRequest() query.CheckRequest {
	return query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: dataset.UserID(7)}, Namespace: dataset.NSName(3),
		Resource: "NAMESPACE:" + dataset.NSName(3) + ":USER:" + dataset.UserID(7) + ":ORDER", Action: perm.Read}
}
