package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/server"
)

// replicaChildCmd is the hidden first argument that makes grantbench run
// one replica node (the server's own code, role replica) as a separate
// process, so that its start-up time and memory are its own.
const replicaChildCmd = "replica-child"

// childReport is what a replica child prints on its standard output, one
// JSON line, once it has applied the head it was given.
type childReport struct {
	HTTPAddr     string `json:"httpAddr"`
	ReadyMillis  int64  `json:"readyMillis"`
	RestoredFrom uint64 `json:"restoredFrom"`
	Applied      uint64 `json:"applied"`
	// RestoreMillis and LoadMillis split ReadyMillis: restoring the
	// snapshot, and opening (loading) the index (server.StartTimes).
	RestoreMillis int64 `json:"restoreMillis"`
	LoadMillis    int64 `json:"loadMillis"`
}

// runReplicaChild runs a replica node against --nats-url until its standard
// input closes (or a signal), reporting on standard output when its index
// reached --head.
func runReplicaChild(args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	fs := flag.NewFlagSet(replicaChildCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var head uint64
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", "", "")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "")
	fs.StringVar(&cfg.SnapshotBucket, "snapshot-bucket", "", "")
	fs.Uint64Var(&head, "head", 0, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.NodeRole, cfg.HTTPAddr = server.NodeRoleReplica, "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { // the parent closes our standard input to stop us
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	stopProfile, err := childProfile(os.Getenv(childProfileEnv))
	if err != nil {
		fmt.Fprintf(stderr, "replica: %v\n", err)
		return 1
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		stopProfile()
		fmt.Fprintf(stderr, "replica: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if err := srv.Store().WaitApplied(ctx, head); err != nil {
		fmt.Fprintf(stderr, "replica: waiting for revision %d: %v\n", head, err)
		return 1
	}
	stopProfile()
	times := srv.StartTimes()
	raw, _ := json.Marshal(childReport{HTTPAddr: srv.HTTPAddr(), ReadyMillis: time.Since(start).Milliseconds(),
		RestoredFrom: srv.RestoredFrom(), Applied: srv.Store().Applied(),
		RestoreMillis: times.Restore.Milliseconds(), LoadMillis: times.Load.Milliseconds()})
	fmt.Fprintf(stdout, "%s\n", raw)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "replica: %v\n", err)
		return 1
	}
	return 0
}

// childProfileEnv names a file prefix: each replica child writes a CPU
// profile of its start (from its first instruction to the head applied) to
// <prefix>-<pid>.prof.
const childProfileEnv = "GRANTBENCH_CHILD_CPUPROFILE"

// childProfile starts a CPU profile to prefix-<pid>.prof (nothing when
// prefix is empty) and returns what stops it.
func childProfile(prefix string) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%d.prof", prefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// replicaProc is a running replica child.
type replicaProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	report childReport
}

// startReplica starts a replica child on a fresh data directory and waits
// (bounded) until it applied head.
func (b *bench) startReplica(ctx context.Context, dir, bucket string, head uint64) (*replicaProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, replicaChildCmd,
		"--nats-url", b.srv.NATSURL(),
		"--nats-creds", filepath.Join(b.dataDir, "nats-replica.creds"),
		"--data-dir", dir,
		"--snapshot-bucket", bucket,
		"--head", fmt.Sprint(head))
	cmd.Stderr = b.progress
	if b.cfg.replicaLimit != "" {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+b.cfg.replicaLimit)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &replicaProc{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			p.stop()
			return nil, fmt.Errorf("the replica process exited before it caught up (see its messages above)")
		}
		if err := json.Unmarshal([]byte(l), &p.report); err != nil {
			p.stop()
			return nil, fmt.Errorf("replica process said %q: %w", l, err)
		}
	case <-time.After(10 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("the replica process did not catch up to revision %d within 10 minutes", head)
	}
	return p, nil
}

// memory returns the process's resident set now and at its peak, in MiB.
func (p *replicaProc) memory() (rss, peak float64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		var kb float64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			_, err = fmt.Sscanf(strings.TrimSpace(line[6:]), "%f kB", &kb)
			rss = kb / 1024
		case strings.HasPrefix(line, "VmHWM:"):
			_, err = fmt.Sscanf(strings.TrimSpace(line[6:]), "%f kB", &kb)
			peak = kb / 1024
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return rss, peak, nil
}

func (p *replicaProc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// coldstart measures a replica as its own process: start-up to the stream
// head from the newest snapshot and from zero (full replay), and its memory
// after answering checks over HTTP.
func (b *bench) coldstart(ctx context.Context) error {
	var snap struct {
		Revision uint64 `json:"revision"`
		Bytes    int64  `json:"bytes"`
	}
	t0 := time.Now()
	if _, err := b.call(ctx, "POST", "/v1/admin/snapshots", nil, &snap); err != nil {
		return fmt.Errorf("take a snapshot: %w", err)
	}
	b.add("coldstart", "snapshot taken", float64(time.Since(t0).Milliseconds()), "ms",
		fmt.Sprintf("%.1f MiB at revision %d, into the Object Store", float64(snap.Bytes)/(1<<20), snap.Revision))
	head := b.srv.Store().Applied()
	if err := b.followerFromSnapshot(ctx, head, snap.Revision); err != nil {
		return err
	}
	for _, run := range []struct {
		name, bucket, note string
	}{
		{"replica cold start from snapshot", "", "new process, empty data directory: newest snapshot + the tail, index loaded"},
		{"replica cold start from zero", "GRANTBENCH_NO_SNAPSHOTS", "new process, empty data directory, no snapshot: replays the whole stream"},
	} {
		if run.bucket != "" && b.cfg.noReplayZero {
			continue
		}
		dir, err := os.MkdirTemp("", "grantbench-replica-")
		if err != nil {
			return err
		}
		b.say("  %s (revision %d)", run.name, head)
		p, err := b.startReplica(ctx, dir, run.bucket, head)
		if err != nil {
			_ = os.RemoveAll(dir)
			return err
		}
		b.add("coldstart", run.name, float64(p.report.ReadyMillis), "ms", run.note)
		b.add("coldstart", run.name+": index load", float64(p.report.LoadMillis), "ms", "of which opening the index (loading it into memory)")
		restoreNote := "of which finding, fetching, verifying and unpacking the snapshot"
		if run.bucket != "" {
			restoreNote = "of which looking for a snapshot in a bucket the replica cannot reach (JetStream's request timeout)"
		}
		b.add("coldstart", run.name+": snapshot restore", float64(p.report.RestoreMillis), "ms", restoreNote)
		if run.bucket == "" {
			if p.report.RestoredFrom == 0 {
				p.stop()
				_ = os.RemoveAll(dir)
				return fmt.Errorf("the replica did not restore from the snapshot")
			}
			if err := b.replicaMemory(ctx, p); err != nil {
				p.stop()
				_ = os.RemoveAll(dir)
				return err
			}
		}
		p.stop()
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// followerFromSnapshot times an embedded follower (the SDK's, in this
// process) on an empty directory from NewFollower to the stream head: it
// restores the snapshot and replays the tail.
func (b *bench) followerFromSnapshot(ctx context.Context, head, snapRev uint64) error {
	dir, err := os.MkdirTemp("", "grantbench-follower-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	b.say("  embedded follower cold start from snapshot (revision %d)", head)
	start := time.Now()
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: b.srv.NATSURL(), CredsFile: b.followerCreds(),
		Dir: filepath.Join(dir, "index"), Logger: b.log})
	if err != nil {
		return err
	}
	err = f.WaitFor(ctx, head)
	el := time.Since(start)
	restored := f.RestoredFrom()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if restored != snapRev {
		return fmt.Errorf("the follower restored revision %d, not the snapshot's %d", restored, snapRev)
	}
	b.add("coldstart", "follower cold start from snapshot", float64(el.Milliseconds()), "ms",
		"client.NewFollower on an empty directory → WaitFor(head): snapshot + tail, in this process")
	return nil
}

// replicaMemory loads the replica with HTTP checks from 4 keep-alive
// clients (enough garbage for several GC cycles), then records its RSS and
// peak RSS.
func (b *bench) replicaMemory(ctx context.Context, p *replicaProc) error {
	reqs := b.checkRequests(20_000, 4)
	bodies := make([][]byte, len(reqs))
	for i := range reqs {
		bodies[i], _ = json.Marshal(&reqs[i])
	}
	n := b.cfg.replicaChecks
	_, el, err := b.postChecks(ctx, "http://"+p.report.HTTPAddr+"/v1/check", bodies, 4, n)
	if err != nil {
		return err
	}
	rss, peak, err := p.memory()
	if err != nil {
		return err
	}
	b.add("coldstart", "replica HTTP checks", float64(n)/el.Seconds(), "checks/s", fmt.Sprintf("%d checks, 4 clients, before the RSS rows", n))
	b.add("coldstart", "replica RSS", rss, "MiB", "replica process after those checks")
	b.add("coldstart", "replica peak RSS", peak, "MiB", "VmHWM of the replica process: start-up and checks")
	heap, err := b.replicaHeap(ctx, p)
	if err != nil {
		return err
	}
	note := "go_memstats_heap_inuse_bytes of the replica's /metrics, after those checks"
	if b.cfg.replicaLimit != "" {
		note += ", GOMEMLIMIT=" + b.cfg.replicaLimit
	}
	b.add("coldstart", "replica heap in use", heap["go_memstats_heap_inuse_bytes"]/(1<<20), "MiB", note)
	b.add("coldstart", "replica heap live", heap["go_memstats_heap_alloc_bytes"]/(1<<20), "MiB",
		"go_memstats_heap_alloc_bytes: reachable objects and garbage not yet swept")
	return nil
}

// replicaHeap reads the Go heap gauges of the replica's GET /metrics.
func (b *bench) replicaHeap(ctx context.Context, p *replicaProc) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.report.HTTPAddr+"/metrics", http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replica GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_memstats_heap_") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
