package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/dataset"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

type bench struct {
	cfg      config
	out      io.Writer
	progress io.Writer
	log      *slog.Logger
	report   Report

	srv        *server.Server
	stopServer func()
	dataDir    string
	base       string
	token      string
	hc         *http.Client
	d          *dataset.Dataset
	roleIDs    map[string]string // dataset role id → server role id
	imported   int               // assignments loaded in bulk events
	batches    int               // bulk events appended
}

func (b *bench) add(phase, name string, v float64, unit, note string) {
	b.report.Results = append(b.report.Results, Result{Phase: phase, Name: name, Value: v, Unit: unit, Note: note})
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.progress, "grantbench: "+format+"\n", args...)
}

func (b *bench) run(ctx context.Context) error {
	c := b.cfg
	b.report = Report{Label: c.label, Started: time.Now().UTC(), Machine: map[string]string{
		"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(),
	}, Shape: map[string]int{"users": c.users, "namespaces": c.namespaces, "roles": c.roles, "permsPerRole": c.perms,
		"maxRolesPerUser": c.maxRoles, "maxNamespacesPerAssignment": c.maxNS, "wildcardEvery": c.wildcardEvery, "tokens": c.tokens}}
	b.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}
	if c.url == "" {
		if err := b.startServer(ctx); err != nil {
			return err
		}
		defer b.stopServer()
		if c.dataDir == "" {
			defer func() { _ = os.RemoveAll(b.dataDir) }()
		}
	} else {
		b.base, b.token = strings.TrimRight(c.url, "/"), c.token
	}
	b.say("generating %d users, %d roles x %d permissions, %d namespaces", c.users, c.roles, c.perms, c.namespaces)
	b.d = dataset.Generate(dataset.Shape{Namespaces: c.namespaces, Roles: c.roles, PermsPerRole: c.perms, Users: c.users,
		MaxRolesPerUse: c.maxRoles, MaxNSPerAssign: c.maxNS, WildcardEvery: c.wildcardEvery, Seed: c.seed,
		NoAssignmentEvents: true}) // load sends them from Users

	steps := []struct {
		name string
		fn   func(context.Context) error
		only bool // needs the in-process server
	}{
		{"load", b.load, false},
		{"tokens", b.tokens, true},
		{"commands", b.commands, false},
		{"visible", b.visible, true},
		{"inproc", b.inproc, true},
		{"http", b.httpChecks, false},
		{"nats", b.natsChecks, true},
		{"batch", b.batchChecks, true},
		{"follower", b.follower, true},
		{"replay", b.replay, true},
		{"coldstart", b.coldstart, true},
		{"resources", b.resources, true},
	}
	for _, s := range steps {
		if !c.phases[s.name] && (s.name != "replay" || !c.phases["reopen"]) {
			continue
		}
		if s.only && b.srv == nil {
			b.say("phase %s needs the in-process server; skipped with --url", s.name)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.say("phase %s", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("phase %s: %w", s.name, err)
		}
	}
	return nil
}

func (b *bench) startServer(ctx context.Context) error {
	dir := b.cfg.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "grantbench-"); err != nil {
			return err
		}
	}
	b.dataDir = dir
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: b.log})
	if err != nil {
		return err
	}
	b.srv = srv
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(sctx); err != nil {
			b.say("server: %v", err)
		}
	}()
	b.stopServer = func() { cancel(); <-done }
	deadline := time.Now().Add(30 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the in-process server did not become ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	raw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	if err != nil {
		return err
	}
	b.base, b.token = "http://"+srv.HTTPAddr(), strings.TrimSpace(string(raw))
	return nil
}

// call sends a JSON request and decodes the answer into out (if not nil).
func (b *bench) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}

// load creates the roles and then every assignment with bulk assignments.
func (b *bench) load(ctx context.Context) error {
	b.roleIDs = map[string]string{}
	start := time.Now()
	for i := range b.d.Events {
		ev := &b.d.Events[i]
		if p, ok := ev.Data.(events.RoleCreated); ok {
			ps := index.FromEvent(p.Permissions)
			var out struct {
				RoleID string `json:"roleId"`
			}
			if _, err := b.call(ctx, "POST", "/v1/roles", map[string]any{"roleName": fmt.Sprintf("Bench%s", p.RoleName),
				"isWildcard": p.IsWildcard, "permissions": ps}, &out); err != nil {
				return err
			}
			b.roleIDs[p.RoleID] = out.RoleID
		}
	}
	rolesDone := time.Since(start)
	b.add("load", "roles created", float64(len(b.roleIDs))/rolesDone.Seconds(), "roles/s", fmt.Sprintf("%d roles, one command each", len(b.roleIDs)))
	// The assignments go out in batches of 10,000 of one namespace (each
	// user's are made in its home namespace), built from the users as they
	// are sent: at 10M users, building every body first does not fit in
	// memory. A user may hold the same role twice in the generated data
	// (different namespaces); a batch refuses repeats, so keep the first.
	type assignment struct {
		UserID             string   `json:"userId"`
		RoleID             string   `json:"roleId"`
		AssignedNamespaces []string `json:"assignedNamespaces"`
	}
	type nsBatch struct {
		ns  string
		set []assignment
	}
	roleIDs := make([]string, b.cfg.roles)
	for i := range roleIDs {
		roleIDs[i] = b.roleIDs[dataset.RoleID(i)]
	}
	start = time.Now()
	work := make(chan nsBatch, 4)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		total    int
		batches  int
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range work {
				if _, err := b.call(ctx, "POST", "/v1/namespaces/"+bt.ns+"/assignments:batch", map[string]any{"assignments": bt.set}, nil); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
				mu.Lock()
				total += len(bt.set)
				done := total
				mu.Unlock()
				if done%500_000 < len(bt.set) {
					b.say("  %d assignments loaded", done)
				}
			}
		}()
	}
	byNS := make([][]assignment, b.cfg.namespaces)
	send := func(h int) {
		work <- nsBatch{dataset.NSName(h), byNS[h]}
		batches++
		byNS[h] = nil
	}
	var held []int
	for u, as := range b.d.Users {
		h := int(b.d.Homes[u])
		uid := dataset.UserID(u)
		held = held[:0]
		if len(byNS[h])+len(as) > 10_000 {
			send(h)
		}
		for _, a := range as {
			if slices.Contains(held, a.Role) {
				continue
			}
			held = append(held, a.Role)
			byNS[h] = append(byNS[h], assignment{UserID: uid, RoleID: roleIDs[a.Role], AssignedNamespaces: a.Namespaces})
		}
		if u%65536 == 0 && ctx.Err() != nil {
			break
		}
	}
	for h := range byNS {
		if len(byNS[h]) > 0 {
			send(h)
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	el := time.Since(start)
	b.imported, b.batches = total, batches
	b.add("load", "bulk import", float64(total)/el.Seconds(), "grants/s", fmt.Sprintf("%d assignments in %d batches, 4 writers, fsync on", total, batches))
	return nil
}

// commands measures single commands, one writer and several.
func (b *bench) commands(ctx context.Context) error {
	var role struct {
		RoleID string `json:"roleId"`
	}
	if _, err := b.call(ctx, "POST", "/v1/roles", map[string]any{"roleName": fmt.Sprintf("BenchCmd%d", time.Now().UnixNano()),
		"permissions": []perm.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:SAVE", Action: perm.CRUD}}}, &role); err != nil {
		return err
	}
	for _, writers := range b.cfg.writers {
		n := b.cfg.commands
		before := b.srv.Commands.PhaseStats()
		lat, el, err := timed(writers, n*writers, func(w, i int) error {
			ns := fmt.Sprintf("cmd%d-%d", writers, w)
			_, err := b.call(ctx, "POST", fmt.Sprintf("/v1/namespaces/%s/users/u%d/roles", ns, i),
				map[string]any{"roleId": role.RoleID, "assignedNamespaces": []string{ns}}, nil)
			return err
		})
		if err != nil {
			return err
		}
		b.addTimed("commands", fmt.Sprintf("commands, %d writer(s)", writers), len(lat), el, lat,
			"commands/s", "fsync on every write; each in its own namespace")
		// Where a command's time went on the server (command.PhaseStats):
		// the mean of each phase over this run's commands.
		phases := b.srv.Commands.PhaseStats().Sub(before)
		for _, p := range command.Phases() {
			b.add("commands", fmt.Sprintf("commands, %d writer(s): %s mean", writers, p), us(phases[p].Mean()), "µs",
				fmt.Sprintf("server side, %d passes (command.PhaseStats)", phases[p].Count))
		}
	}
	return nil
}

// visible measures write-to-visible at the local replica: from the
// JetStream ack of an event to the index having applied it.
func (b *bench) visible(ctx context.Context) error {
	js := b.srv.JetStream()
	st := b.srv.Store()
	n := max(b.cfg.commands, 50)
	ackToVisible := make([]time.Duration, n)
	publishToVisible := make([]time.Duration, n)
	roleID := ""
	for _, id := range b.roleIDs {
		roleID = id
		break
	}
	if roleID == "" {
		return fmt.Errorf("no role loaded: run the load phase first")
	}
	// Events are appended as a command node does: chained and signed with
	// the node's log signing key (the index refuses anything else).
	key, err := logsig.LoadKey(ctx, b.srv.AccountJetStream(), "")
	if err != nil {
		return err
	}
	for i := range n {
		ns := "visible"
		prev, _, err := st.ChainHead(ns)
		if err != nil {
			return err
		}
		p := events.UserRoleAssigned{UserID: fmt.Sprintf("vis%d", i), RoleID: roleID, AssignedNamespaces: []string{ns}}
		data, err := events.Encode(events.Envelope{EventID: fmt.Sprintf("vis-%d-%d", time.Now().UnixNano(), i), Namespace: ns,
			AggregateID: p.UserID, OccurredAt: time.Now(), Actor: events.Actor{Type: events.ActorUser, ID: "grantbench"},
			CommandID: fmt.Sprintf("vis-%d-%d", time.Now().UnixNano(), i), PrevHash: prev}, p)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, ns, events.KindUser))
		msg.Data = data
		t0 := time.Now()
		if key != nil {
			msg.Header.Set(logsig.Header, key.SignEvent(msg.Subject, data))
		}
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			return err
		}
		t1 := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = st.WaitApplied(wctx, ack.Sequence)
		cancel()
		if err != nil {
			return err
		}
		t2 := time.Now()
		ackToVisible[i], publishToVisible[i] = t2.Sub(t1), t2.Sub(t0)
	}
	p := percentiles(ackToVisible)
	b.add("visible", "ack to visible p50", us(p[0]), "µs", "local replica (projector + index)")
	b.add("visible", "ack to visible p99", us(p[1]), "µs", "")
	p = percentiles(publishToVisible)
	b.add("visible", "write to visible p50", us(p[0]), "µs", "publish (fsync) + projection")
	b.add("visible", "write to visible p99", us(p[1]), "µs", "")
	return nil
}

func (b *bench) checkRequests(n int, seed uint64) []query.CheckRequest {
	checks := b.d.Checks(min(n, 100_000), seed)
	reqs := make([]query.CheckRequest, len(checks))
	for i, c := range checks {
		reqs[i] = query.CheckRequest{Subject: query.Subject{Type: "user", ID: c.User}, Namespace: c.Namespace,
			Resource: c.Resource, Action: perm.Action(c.Action)}
	}
	return reqs
}

// inproc measures checks in-process, on the server's own query engine.
func (b *bench) inproc(ctx context.Context) error {
	return b.localChecks(ctx, "inproc", "", b.srv.Query.Check)
}

// localChecks measures in-process checks through check: per-call latency on
// one goroutine, then throughput on every core. note prefixes the
// allowed-share note of the p50 row.
func (b *bench) localChecks(ctx context.Context, phase, note string,
	check func(context.Context, *query.CheckRequest) (query.CheckResult, error),
) error {
	n := b.cfg.inprocCheck
	reqs := compactStrings(b.checkRequests(n, 2))
	allowed := 0
	b.settle()
	// Start from a collected heap, as testing.B does before each benchmark:
	// otherwise a cycle owed to the previous phase (the follower's catch-up
	// allocates gigabytes at 1M users) runs during the timed checks.
	runtime.GC()
	lat, el, err := timed(1, n, func(_, i int) error {
		res, err := check(ctx, &reqs[i%len(reqs)])
		if res.Allowed {
			allowed++
		}
		return err
	})
	if err != nil {
		return err
	}
	p := percentiles(lat)
	b.addDist(phase, "check, 1 goroutine", lat)
	b.add(phase, "check p50", us(p[0]), "µs", fmt.Sprintf("%s%d%% allowed", note, allowed*100/n))
	b.add(phase, "check p99", us(p[1]), "µs", "")
	b.add(phase, "check p99.9", us(p[2]), "µs", "")
	b.add(phase, "checks, 1 goroutine", float64(n)/el.Seconds(), "checks/s", "")
	workers := runtime.NumCPU()
	_, el, _ = timed(workers, n, func(_, i int) error {
		_, _ = check(ctx, &reqs[i%len(reqs)])
		return nil
	})
	b.add(phase, fmt.Sprintf("checks, %d goroutines", workers), float64(n)/el.Seconds(), "checks/s", "")
	return nil
}

// settle waits (at most a minute) until this process is nearly idle: after
// a large load, Pebble compacts for a while in the background, and on two
// cores that would be measured as check latency.
func (b *bench) settle() {
	cpu := func() time.Duration {
		raw, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			return -1
		}
		// Fields after the command name (which may hold spaces): utime is
		// the 12th and stime the 13th of them, in clock ticks (1/100 s).
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(f) < 13 {
			return -1
		}
		var ut, st int64
		_, _ = fmt.Sscan(f[11], &ut)
		_, _ = fmt.Sscan(f[12], &st)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	const window = 500 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	said := false
	for time.Now().Before(deadline) {
		c0 := cpu()
		time.Sleep(window)
		c1 := cpu()
		if c0 < 0 || c1 < 0 || c1-c0 <= window/10 {
			return
		}
		if !said {
			b.say("  waiting for background work (index compactions) to settle before timing")
			said = true
		}
	}
	b.say("  background work still running after a minute; measuring anyway")
}

// compactStrings gives each request's strings one allocation of their
// own, in request order, as a request decoded from the wire (or built just
// before the call) has them: side by side, not scattered over a heap the
// load phase filled. Otherwise the first read of a request's strings
// (validating its namespace) is a cache miss costing a fifth of a check at
// 1M users, a cost of the tool's own data layout.
func compactStrings(reqs []query.CheckRequest) []query.CheckRequest {
	for i := range reqs {
		r := &reqs[i]
		all := r.Subject.Type + r.Subject.ID + r.Namespace + r.Resource
		cut := func(s string) string {
			out := all[:len(s)]
			all = all[len(s):]
			return out
		}
		r.Subject.Type = cut(r.Subject.Type)
		r.Subject.ID = cut(r.Subject.ID)
		r.Namespace = cut(r.Namespace)
		r.Resource = cut(r.Resource)
	}
	return reqs
}

// addTimed records the rate of ops operations over el and the p50, p99 and
// p99.9 of their latencies, as name, name p50, name p99 and name p99.9.
func (b *bench) addTimed(phase, name string, ops int, el time.Duration, lat []time.Duration, unit, note string) {
	p := percentiles(lat)
	if phase != "commands" {
		b.addDist(phase, name, lat)
	}
	b.add(phase, name, float64(ops)/el.Seconds(), unit, note)
	b.add(phase, name+" p50", us(p[0]), "µs", "")
	b.add(phase, name+" p99", us(p[1]), "µs", "")
	b.add(phase, name+" p99.9", us(p[2]), "µs", "")
}

// httpChecks measures POST /v1/check with keep-alive clients.
func (b *bench) httpChecks(ctx context.Context) error {
	reqs := b.checkRequests(b.cfg.checks, 3)
	bodies := make([][]byte, len(reqs))
	for i := range reqs {
		bodies[i], _ = json.Marshal(reqs[i])
	}
	for _, conc := range b.cfg.concurrency {
		n := b.cfg.checks
		lat, el, err := b.postChecks(ctx, b.base+"/v1/check", bodies, conc, n)
		if err != nil {
			return err
		}
		b.addTimed("http", fmt.Sprintf("HTTP check, %d client(s)", conc), n, el, lat,
			"checks/s", "keep-alive, load generator on the same machine")
	}
	return nil
}

// postChecks sends n keep-alive POSTs of bodies (in turn) to url from conc
// clients, each timed; any answer but 200 is an error.
func (b *bench) postChecks(ctx context.Context, url string, bodies [][]byte, conc, n int) ([]time.Duration, time.Duration, error) {
	return timed(conc, n, func(_, i int) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Authorization", "Bearer "+b.token)
		resp, err := b.hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("check at %s answered %d", url, resp.StatusCode)
		}
		return nil
	})
}

// replay projects the whole stream from zero into a fresh index, then
// measures reopening that index (loading it into memory).
func (b *bench) replay(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "grantbench-replay-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: b.log})
	if err != nil {
		return err
	}
	stream, err := b.srv.JetStream().Stream(ctx, eventlog.DefaultStream)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	head := info.State.LastSeq
	p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: b.log}, b.srv.JetStream(), st)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(pctx) }()
	err = st.WaitApplied(ctx, head)
	el := time.Since(start)
	cancel()
	if perr := <-done; perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		_ = st.Close()
		return err
	}
	b.add("replay", "replay from zero", float64(head)/el.Seconds(), "events/s", fmt.Sprintf("%d events in %s", head, el.Round(time.Millisecond)))
	if b.imported > 0 {
		// A bulk event holds up to 10,000 assignments: count what was applied.
		records := int(head) - b.batches + b.imported
		b.add("replay", "replay from zero, applied changes", float64(records)/el.Seconds(), "changes/s",
			fmt.Sprintf("%d changes: each assignment of a bulk event counts", records))
	}
	if err := st.Close(); err != nil {
		return err
	}
	if !b.cfg.phases["reopen"] {
		return nil
	}
	start = time.Now()
	st, err = index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: b.log})
	if err != nil {
		return err
	}
	b.add("reopen", "index reopen (load into memory)", float64(time.Since(start).Milliseconds()), "ms", "cold start of a replica whose index is on disk")
	return st.Close()
}

// resources reports RSS of this process (server, dataset and all) and disk.
func (b *bench) resources(context.Context) error {
	runtime.GC()
	if raw, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
				var kb float64
				if _, err := fmt.Sscanf(strings.TrimSpace(line[6:]), "%f kB", &kb); err == nil {
					name := map[string]string{"VmRSS:": "RSS now", "VmHWM:": "peak RSS"}[line[:6]]
					b.add("resources", name, kb/1024, "MiB", "whole grantbench process: server, generator and dataset")
				}
			}
		}
	}
	for _, sub := range []string{"jetstream", "index"} {
		size, err := dirSize(filepath.Join(b.dataDir, sub))
		if err != nil {
			return err
		}
		b.add("resources", "disk "+sub, float64(size)/(1<<20), "MiB", "")
	}
	return nil
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// timed runs n operations over workers goroutines (worker w runs i = w,
// w+workers, ...), timing each; it returns the latencies, the elapsed time
// and the first error.
func timed(workers, n int, op func(w, i int) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				t0 := time.Now()
				err := op(w, i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

// percentiles returns p50, p99 and p99.9.
func percentiles(d []time.Duration) [3]time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	return [3]time.Duration{at(0.50), at(0.99), at(0.999)}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func (b *bench) print() {
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PHASE\tMEASURE\tVALUE\tUNIT\tNOTE\n")
	for _, r := range b.report.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Phase, r.Name, format(r.Value), r.Unit, r.Note)
	}
	_ = tw.Flush()
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
