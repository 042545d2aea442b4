package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
)

// soakConfig is read from the environment:
//
//	GRANTLOG_SOAK_DURATION  how long the load runs (required; unset skips)
//	GRANTLOG_SOAK_SEED      seed of every random choice (default: the clock; logged)
//	GRANTLOG_SOAK_WRITERS   writers sending commands (default 4)
//	GRANTLOG_SOAK_REPLICAS  replica processes (default 2)
//	GRANTLOG_SOAK_KILLS     most SIGKILLs (default one per 10s of duration)
//	GRANTLOG_SOAK_GAP       mean time between kills (default 8s)
//	GRANTLOG_SOAK_RATE      commands per second of each writer, at most (default 20; 0 unpaced)
//	GRANTLOG_SOAK_ABANDON   percent of commands whose first attempt is abandoned after
//	                        1-20ms and retried with the same key (default 5)
//	GRANTLOG_SOAK_STRICT_RETRIES  1: a retry refused (4xx) although an earlier attempt
//	                        stored the command fails the soak (idempotency that holds,
//	                        issue 14 item 4); default: counted in the report only
//	GRANTLOG_SOAK_BIN       run this grantlog binary instead of building cmd/grantlog
//	GRANTLOG_SOAK_ROUTE     sticky (default): a writer stays on one command node until
//	                        it fails; random: every attempt to a random command node
//	GRANTLOG_SOAK_DIR       keep the data and logs here (default a temp dir)
//	GRANTLOG_SOAK_REPORT    write the figures as JSON to this file
type soakConfig struct {
	duration time.Duration
	seed     uint64
	writers  int
	replicas int
	kills    int
	gap      time.Duration
	rate     int
	abandon  int
	random   bool
	strict   bool
	bin      string
	dir      string
	report   string
}

func loadConfig(t *testing.T) soakConfig {
	d := os.Getenv("GRANTLOG_SOAK_DURATION")
	if d == "" {
		t.Skip("set GRANTLOG_SOAK_DURATION (e.g. 2m) to run the soak test")
	}
	c := soakConfig{writers: 4, replicas: 2, rate: 20, abandon: 5, gap: 8 * time.Second, seed: uint64(time.Now().UnixNano() % 1_000_000),
		dir: os.Getenv("GRANTLOG_SOAK_DIR"), report: os.Getenv("GRANTLOG_SOAK_REPORT")}
	var err error
	c.duration, err = time.ParseDuration(d)
	require.NoError(t, err, "GRANTLOG_SOAK_DURATION: use a duration such as 2m")
	c.kills = int(c.duration / (10 * time.Second))
	ints := map[string]*int{"GRANTLOG_SOAK_WRITERS": &c.writers, "GRANTLOG_SOAK_REPLICAS": &c.replicas, "GRANTLOG_SOAK_KILLS": &c.kills, "GRANTLOG_SOAK_RATE": &c.rate, "GRANTLOG_SOAK_ABANDON": &c.abandon}
	for name, p := range ints {
		if v := os.Getenv(name); v != "" {
			*p, err = strconv.Atoi(v)
			require.NoError(t, err, "%s: use a whole number", name)
		}
	}
	if v := os.Getenv("GRANTLOG_SOAK_SEED"); v != "" {
		c.seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "GRANTLOG_SOAK_SEED: use a whole number")
	}
	if v := os.Getenv("GRANTLOG_SOAK_GAP"); v != "" {
		c.gap, err = time.ParseDuration(v)
		require.NoError(t, err, "GRANTLOG_SOAK_GAP: use a duration such as 8s")
	}
	c.strict = os.Getenv("GRANTLOG_SOAK_STRICT_RETRIES") == "1"
	c.bin = os.Getenv("GRANTLOG_SOAK_BIN")
	switch r := os.Getenv("GRANTLOG_SOAK_ROUTE"); r {
	case "", "sticky":
	case "random":
		c.random = true
	default:
		t.Fatalf("GRANTLOG_SOAK_ROUTE %q: use sticky or random", r)
	}
	require.True(t, c.writers >= 1 && c.replicas >= 1 && c.kills >= 0 && c.gap > 0 && c.rate >= 0 && c.abandon >= 0 && c.abandon <= 100,
		"GRANTLOG_SOAK_WRITERS and _REPLICAS must be at least 1, _KILLS and _RATE at least 0, _ABANDON 0 to 100, _GAP positive")
	if c.dir == "" {
		c.dir = t.TempDir()
	} else {
		require.NoError(t, os.MkdirAll(c.dir, 0o700))
	}
	return c
}

// chaosEvent is one kill and restart of the schedule.
type chaosEvent struct {
	At      string  `json:"at"`
	Node    string  `json:"node"`
	PID     int     `json:"pid"`
	Down    string  `json:"down"`
	Recover float64 `json:"recoverSeconds"` // from restart to /readyz 200
	// Cluster: from restart until every node is ready again.
	Cluster float64 `json:"clusterRecoverSeconds"`
}

// TestSoak runs mixed load against real grantlog serve processes (an all
// node with the embedded NATS, a command node and replicas on it, an
// embedded follower in this process) while SIGKILLing and restarting them
// at random, then proves what docs/ARCHITECTURE.md promises: every
// acknowledged command is in the stream exactly once, no command is stored
// twice, every index equals a replay of the stream from zero, and the audit
// hash chains verify.
func TestSoak(t *testing.T) {
	cfg := loadConfig(t)
	t.Logf("soak: seed %d, duration %v, %d writers (at most %d commands/s each, %d%% first attempts abandoned, random routing %v), %d replicas, at most %d kills about every %v, data in %s",
		cfg.seed, cfg.duration, cfg.writers, cfg.rate, cfg.abandon, cfg.random, cfg.replicas, cfg.kills, cfg.gap, cfg.dir)
	bin := cfg.bin
	if bin == "" {
		bin = buildGrantlog(t, cfg.dir)
	}

	// The nodes: one all node (the embedded NATS with the stream), one
	// command node and the replicas against its NATS, each on fixed ports
	// kept across restarts.
	natsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	natsURL := "nats://" + natsAddr
	newProc := func(name string, args ...string) *proc {
		dir := filepath.Join(cfg.dir, name)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		p := &proc{name: name, bin: bin, dataDir: dir, http: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
			logPath: filepath.Join(cfg.dir, name+".log")}
		p.args = append([]string{"--data-dir", dir, "--http-addr", p.http, "--node-name", "soak-" + name}, args...)
		t.Cleanup(func() { _ = p.kill() })
		return p
	}
	all := newProc("all", "--nats-listen", natsAddr)
	require.NoError(t, all.start())
	_, err := all.waitReady(context.Background(), 60*time.Second)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(all.dataDir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	creds := func(file string) string { return filepath.Join(all.dataDir, file) }

	cmdNode := newProc("command", "--role", "command", "--nats-url", natsURL, "--nats-creds", creds(eventlog.CommandCredsFile))
	procs := []*proc{all, cmdNode}
	for i := range cfg.replicas {
		procs = append(procs, newProc(fmt.Sprintf("replica%d", i+1), "--role", "replica", "--nats-url", natsURL,
			"--nats-creds", creds(eventlog.ReplicaCredsFile)))
	}
	for _, p := range procs[1:] {
		require.NoError(t, p.start())
	}
	for _, p := range procs[1:] {
		_, err := p.waitReady(context.Background(), 60*time.Second)
		require.NoError(t, err)
	}

	// The clients.
	hc := &http.Client{Timeout: 8 * time.Second}
	cl := &cluster{}
	for _, p := range []*proc{all, cmdNode} {
		cl.writers = append(cl.writers, client.New(p.base(), token, client.WithHTTPClient(hc)))
	}
	for _, p := range procs {
		if p != cmdNode {
			cl.checkers = append(cl.checkers, client.New(p.base(), token, client.WithHTTPClient(hc)))
		}
	}
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: natsURL, CredsFile: creds(eventlog.ClientCredsFile), Name: "soak-checks"})
	require.NoError(t, err)
	defer nc.Close()
	cl.nats = client.NewNATS(nc, token)
	cl.nats.Timeout = 5 * time.Second
	followerDir := filepath.Join(cfg.dir, "follower")
	cl.follower, err = client.NewFollower(context.Background(), client.FollowerConfig{URL: natsURL,
		CredsFile: creds(eventlog.FollowerCredsFile), Dir: followerDir, Logger: testutil.Quiet, MaxWait: 5 * time.Second})
	require.NoError(t, err)
	followerClosed := false
	defer func() {
		if !followerClosed {
			_ = cl.follower.Close()
		}
	}()

	// The load.
	st := newStats()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.writers {
		w := newWriter(i, cfg.seed, cl, st, 30*time.Second)
		w.random, w.abandon = cfg.random, cfg.abandon
		if cfg.rate > 0 {
			w.pace = time.Second / time.Duration(cfg.rate)
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				w.step()
			}
		})
	}
	var bg sync.WaitGroup
	bgStop := make(chan struct{})
	for i := range 2 {
		bg.Go(func() { background(cl, st, cfg.seed, i, cfg.writers, bgStop) })
	}

	// The chaos: one node down at a time, so that a restarted replica or
	// command node always finds the NATS of the all node.
	rng := rand.New(rand.NewPCG(cfg.seed, 42))
	var schedule []chaosEvent
	end := start.Add(cfg.duration)
	for len(schedule) < cfg.kills {
		wait := cfg.gap/2 + time.Duration(rng.Int64N(int64(cfg.gap)))
		down := time.Duration(rng.Int64N(int64(3 * time.Second)))
		victim := procs[rng.IntN(len(procs))]
		if time.Now().Add(wait + down + 5*time.Second).After(end) {
			break
		}
		time.Sleep(wait)
		ev := chaosEvent{At: fmt.Sprintf("%.1fs", time.Since(start).Seconds()), Node: victim.name, PID: victim.pid(),
			Down: down.Round(time.Millisecond).String()}
		t.Logf("soak chaos: t=%s SIGKILL %s (pid %d), down %s", ev.At, ev.Node, ev.PID, ev.Down)
		require.NoError(t, victim.kill())
		time.Sleep(down)
		require.NoError(t, victim.start())
		restarted := time.Now()
		d, err := victim.waitReady(context.Background(), 90*time.Second)
		require.NoError(t, err, "seed %d: %s did not come back after SIGKILL", cfg.seed, victim.name)
		ev.Recover = d.Seconds()
		for _, p := range procs {
			_, err := p.waitReady(context.Background(), 90*time.Second)
			require.NoError(t, err, "seed %d: %s not ready after %s's restart", cfg.seed, p.name, victim.name)
		}
		ev.Cluster = time.Since(restarted).Seconds()
		t.Logf("soak chaos: %s ready %.2fs after restart, every node ready after %.2fs", victim.name, ev.Recover, ev.Cluster)
		schedule = append(schedule, ev)
	}
	time.Sleep(time.Until(end))
	close(stop)
	wg.Wait() // every command in flight is settled (acknowledged or given up)
	close(bgStop)
	bg.Wait()
	loadTime := time.Since(start)
	t.Logf("soak: load stopped after %v", loadTime.Round(time.Millisecond))

	var exits []string
	for _, p := range procs {
		p.mu.Lock()
		exits = append(exits, p.unexpected...)
		p.mu.Unlock()
	}
	if len(exits) > 0 {
		t.Fatalf("seed %d: nodes exited that the soak did not kill (logs in %s):\n%s", cfg.seed, cfg.dir, strings.Join(exits, "\n"))
	}

	// Converge: every node and the follower at the stream's head.
	head, err := all.status()
	require.NoError(t, err)
	for _, p := range procs {
		require.NoError(t, p.waitRevision(head.Head, 60*time.Second), "seed %d", cfg.seed)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 60*time.Second)
	require.NoError(t, cl.follower.WaitFor(fctx, head.Head), "seed %d: the follower did not reach %d", cfg.seed, head.Head)
	fcancel()

	// The audit hash chains verify, read from the all node and a replica.
	for _, p := range []*proc{all, procs[2]} {
		out, err := auditVerify(bin, p.base(), token)
		if err != nil {
			st.finding("seed %d: grantlog audit verify on %s: %v\n%s", cfg.seed, p.name, err, out)
		} else {
			t.Logf("soak: audit verify on %s: %s", p.name, strings.TrimSpace(out))
		}
	}

	// Stop everything gracefully, then read the stream and the indexes.
	require.NoError(t, cl.follower.Close())
	followerClosed = true
	nc.Close()
	for _, p := range slices.Backward(procs) {
		require.NoError(t, p.signal(syscall.SIGTERM, 30*time.Second))
	}

	report := verifyStore(t, cfg, st, procs, followerDir)
	report.Seed, report.Duration, report.Writers, report.Replicas = cfg.seed, loadTime.Round(time.Millisecond).String(), cfg.writers, cfg.replicas
	report.Schedule = schedule
	for _, ev := range schedule {
		report.RecoverSeconds = append(report.RecoverSeconds, ev.Recover)
		report.ClusterRecoverSeconds = append(report.ClusterRecoverSeconds, ev.Cluster)
	}
	report.Kills = len(schedule)
	for _, p := range procs {
		report.Starts = append(report.Starts, fmt.Sprintf("%s:%d", p.name, p.starts))
	}
	report.ChecksAnswered = map[string]int64{}
	report.CheckErrors = map[string]int64{}
	for _, tr := range transports {
		report.ChecksAnswered[tr] = st.checksAnswered[tr].Load()
		report.CheckErrors[tr] = st.checksErrors[tr].Load()
	}
	report.ChecksVerified = st.checksVerified.Load()
	report.Batches = st.batchesAnswered.Load()
	report.RetriedErrors = st.retryErrs
	report.UnackedErrors = st.errCodes
	report.Findings = st.findings
	report.RefusedRetries, report.RefusedRetryExamples = st.refusedCount, st.refusedRetries
	out, err := json.MarshalIndent(report, "", "  ")
	require.NoError(t, err)
	t.Logf("soak report:\n%s", out)
	if cfg.report != "" {
		require.NoError(t, os.WriteFile(cfg.report, append(out, '\n'), 0o600))
	}
	if len(st.findings) > 0 {
		t.Errorf("seed %d: the soak found %d problems (logs in %s; rerun with GRANTLOG_SOAK_SEED=%d):\n%s",
			cfg.seed, len(st.findings), cfg.dir, cfg.seed, strings.Join(st.findings, "\n"))
	}
}

// auditVerify runs `grantlog audit verify` against the node at base.
func auditVerify(bin, base, token string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "audit", "verify")
	cmd.Env = append(os.Environ(), "GRANTLOG_URL="+base, "GRANTLOG_TOKEN="+token, "HOME="+os.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// soakReport is the figures of a run.
type soakReport struct {
	Seed                  uint64             `json:"seed"`
	Duration              string             `json:"duration"`
	Writers               int                `json:"writers"`
	Replicas              int                `json:"replicas"`
	StreamEvents          uint64             `json:"streamEvents"`
	CommandsSent          int                `json:"commandsSent"`
	CommandsAcked         int                `json:"commandsAcked"`
	AckedByOp             map[string]int     `json:"ackedByOp"`
	Unacked               int                `json:"unacked"`
	UnackedStored         int                `json:"unackedStoredOnce"`
	Retries               int                `json:"retries"`
	RetriedAckSeconds     map[string]float64 `json:"retriedAckSeconds"`
	RetriedErrors         map[string]int     `json:"retriedErrors"`
	UnackedErrors         map[string]int     `json:"unackedErrors"`
	ChecksAnswered        map[string]int64   `json:"checksAnswered"`
	CheckErrors           map[string]int64   `json:"checkErrors"`
	ChecksVerified        int64              `json:"checksVerified"`
	Batches               int64              `json:"batchesAnswered"`
	Kills                 int                `json:"kills"`
	Starts                []string           `json:"starts"`
	RecoverSeconds        []float64          `json:"recoverSeconds"`
	ClusterRecoverSeconds []float64          `json:"clusterRecoverSeconds"`
	IndexesCompared       []string           `json:"indexesCompared"`
	Schedule              []chaosEvent       `json:"schedule"`
	RefusedRetries        int                `json:"refusedRetries"`
	RefusedButStored      int                `json:"refusedButStored"`
	RefusedRetryExamples  []string           `json:"refusedRetryExamples"`
	Findings              []string           `json:"findings"`
}

// verifyStore reads the whole stream from the all node's data directory
// and checks every command the load sent against it, then compares every
// node's index (and the follower's) with a replay from zero.
func verifyStore(t *testing.T, cfg soakConfig, st *stats, procs []*proc, followerDir string) *soakReport {
	t.Helper()
	rep := &soakReport{AckedByOp: map[string]int{}}
	log := testutil.StartLog(t, procs[0].dataDir)
	ctx := context.Background()
	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	last := info.State.LastSeq
	rep.StreamEvents = last

	bySeq := make(map[uint64]stored, last)
	byID := map[string][]uint64{}
	for seq := uint64(1); seq <= last; seq++ {
		msg, err := log.Stream.GetMsg(ctx, seq)
		if err != nil {
			st.finding("seed %d: stream message %d unreadable: %v", cfg.seed, seq, err)
			continue
		}
		var s stored
		s.msgID = msg.Header.Get(jetstream.MsgIDHeader)
		if err := json.Unmarshal(msg.Data, &s.env); err != nil {
			st.finding("seed %d: stream message %d is not an event: %v", cfg.seed, seq, err)
		}
		bySeq[seq] = s
		if s.msgID != "" {
			byID[s.msgID] = append(byID[s.msgID], seq)
		}
	}
	checkSent(cfg.seed, cfg.strict, st, rep, bySeq, byID)

	// A replay from zero, and every index compared with it.
	compareIndexes(t, cfg.seed, st, rep, log, last, procs, followerDir)
	return rep
}

// stored is one message of the stream: its Nats-Msg-Id (the command id)
// and its event.
type stored struct {
	msgID string
	env   events.Envelope
}

// checkSent checks every command the load sent against the stream read
// into bySeq (revision → message) and byID (command id → revisions): an
// acknowledged command is stored once, at the revision it was answered
// with; an unacknowledged one at most once; no command id twice.
//
// A command whose retry was refused although an earlier attempt stored it
// is counted (RefusedButStored); with strict it is a finding.
func checkSent(seed uint64, strict bool, st *stats, rep *soakReport, bySeq map[uint64]stored, byID map[string][]uint64) {
	for id, seqs := range byID {
		if len(seqs) > 1 {
			st.finding("seed %d: command id %s is stored %d times, at revisions %v", seed, id, len(seqs), seqs)
		}
	}

	// The caller every writer sent as (the bootstrap credential): learned
	// from the first acknowledged command, then confirmed by every other.
	var caller *events.Caller
	var retriedTook []float64
	defer func() {
		// How long a command that needed retries took to be acknowledged:
		// what a client sees of a crash.
		if len(retriedTook) > 0 {
			sort.Float64s(retriedTook)
			rep.RetriedAckSeconds = map[string]float64{"p50": retriedTook[len(retriedTook)/2],
				"p90": retriedTook[len(retriedTook)*9/10], "max": retriedTook[len(retriedTook)-1]}
		}
	}()
	sort.Slice(st.sent, func(i, j int) bool { return st.sent[i].key < st.sent[j].key })
	for _, s := range st.sent {
		if !s.acked || caller != nil {
			continue
		}
		env := bySeq[s.revision].env
		for _, root := range []bool{true, false} {
			c := events.Caller{Actor: env.Actor, OnBehalfOf: env.OnBehalfOf, Root: root}
			if command.DeriveCommandID(c, s.key) == bySeq[s.revision].msgID {
				caller = &c
				break
			}
		}
		if caller == nil {
			st.finding("seed %d: acknowledged %s (key %s) at revision %d, which holds command %s of %s (%s)",
				seed, s.op, s.key, s.revision, bySeq[s.revision].msgID, env.Type, env.AggregateID)
		}
	}
	rep.CommandsSent = len(st.sent)
	for _, s := range st.sent {
		rep.Retries += s.attempts - 1
		if s.attempts > 1 && s.acked {
			retriedTook = append(retriedTook, s.took.Seconds())
		}
		if caller == nil {
			break
		}
		id := command.DeriveCommandID(*caller, s.key)
		seqs := byID[id]
		if !s.acked {
			rep.Unacked++
			if len(seqs) == 1 {
				rep.UnackedStored++
				if s.refused {
					rep.RefusedButStored++
					if strict {
						st.finding("seed %d: %s (key %s) is stored at revision %d, but its retry was refused: %s",
							seed, s.op, s.key, seqs[0], s.lastErr)
					}
				}
			}
			continue // twice is reported above
		}
		rep.CommandsAcked++
		rep.AckedByOp[s.op]++
		got := bySeq[s.revision]
		switch {
		case len(seqs) == 0:
			st.finding("seed %d: acknowledged %s (key %s, revision %d) is not in the stream; revision %d holds command %s (%s)",
				seed, s.op, s.key, s.revision, s.revision, got.msgID, got.env.Type)
		case got.msgID != id:
			st.finding("seed %d: acknowledged %s (key %s) answered revision %d, but it is stored at %v; revision %d holds command %s (%s)",
				seed, s.op, s.key, s.revision, seqs, s.revision, got.msgID, got.env.Type)
		case s.roleID != "" && got.env.AggregateID != s.roleID:
			st.finding("seed %d: acknowledged role.create (key %s) of role %s stored role %s", seed, s.key, s.roleID, got.env.AggregateID)
		}
	}

}

// compareIndexes replays the stream (at revision last) from zero into a
// fresh index and compares every node's index and the follower's with it.
func compareIndexes(t *testing.T, seed uint64, st *stats, rep *soakReport, log *testutil.Log, last uint64, procs []*proc, followerDir string) {
	t.Helper()
	ctx := context.Background()
	fresh := testutil.StartNode(t, log, t.TempDir())
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	require.NoError(t, fresh.Store.WaitApplied(wctx, last), "seed %d: the replay did not reach %d", seed, last)
	cancel()
	want := testutil.Dump(t, fresh.Store)
	require.NoError(t, fresh.Stop())
	dirs := map[string]string{"follower": followerDir}
	for _, p := range procs {
		dirs[p.name] = filepath.Join(p.dataDir, "index")
	}
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s, err := index.Open(index.Options{Dir: dirs[name], Logger: testutil.Quiet})
		require.NoError(t, err, "open the index of %s", name)
		if s.Applied() != last {
			st.finding("seed %d: the index of %s is at revision %d, the stream at %d", seed, name, s.Applied(), last)
		}
		got := testutil.Dump(t, s)
		require.NoError(t, s.Close())
		if diff := dumpDiff(want, got); diff != "" {
			st.finding("seed %d: the index of %s differs from a replay from zero: %s", seed, name, diff)
		}
		rep.IndexesCompared = append(rep.IndexesCompared, fmt.Sprintf("%s (%d keys)", name, len(got)))
	}
}

// dumpDiff describes the first differences between two index dumps.
func dumpDiff(want, got map[string]string) string {
	var out []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %q", k))
		case g != v:
			out = append(out, fmt.Sprintf("%q = %q, replay has %q", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("extra %q", k))
		}
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("… %d differences in all", len(out)))
	}
	return strings.Join(out, "; ")
}
