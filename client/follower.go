package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// FollowerConfig configures a Follower. Zero fields take the documented
// defaults.
type FollowerConfig struct {
	// NATS is a connection to the NATS server holding the event stream,
	// with a user allowed to read it (e.g. the replica user of
	// <data-dir>/nats-replica.creds). The caller owns it: Close leaves it
	// open. Give either NATS or URL.
	NATS *nats.Conn
	// URL is the NATS server to connect to when NATS is nil (comma-separated
	// for several); the Follower owns that connection, which reconnects
	// forever, and Close closes it.
	URL string
	// CredsFile authenticates to URL: a Grantlog credentials file
	// (<data-dir>/nats-follower.creds of the node with the embedded NATS:
	// the follower user may read the event stream's mirror and the
	// snapshots, nothing else) or a NATS JWT .creds file. Excludes User and
	// Password. A connection passed in NATS must use the inbox prefix of its
	// user (nats.CustomInboxPrefix("_INBOX_follower")): that user may read
	// no other inbox.
	CredsFile string
	// User and Password authenticate to URL; default none.
	User, Password string

	// Dir is the directory of the follower's Pebble index. Required. It is
	// the follower's own: no other process (nor Follower) may use it at
	// the same time. A follower restarted on the same Dir resumes from the
	// revision it had applied.
	Dir string
	// Stream is the stream to follow; default "GRANTLOG_MIRROR", the
	// readers' mirror of the event stream (the follower user's account).
	// "GRANTLOG" follows the event stream itself, for a connection in the
	// command account.
	Stream string
	// MaxWait bounds how long a check with AtLeastRevision waits for the
	// index to apply it; default 5s.
	MaxWait time.Duration
	// CacheSize is Pebble's block cache in bytes; default 16 MiB (checks
	// are answered from memory, not from Pebble).
	CacheSize int64
	// MemTableSize is Pebble's largest memtable in bytes; default 64 MiB.
	MemTableSize uint64
	// Logger receives warnings (NATS trouble, events that cannot apply);
	// default slog.Default().
	Logger *slog.Logger
	// Progress, when set, is called during catch-up after each applied
	// batch with the applied revision and the stream head seen at start.
	Progress func(applied, head uint64)
	// SnapshotBucket is the JetStream Object Store bucket of index
	// snapshots (taken by a grantlog node); default "GRANTLOG_SNAPSHOTS".
	// A follower whose Dir is empty starts from the newest snapshot there
	// and replays only the events after it; without a snapshot it replays
	// the stream from the start.
	SnapshotBucket string
	// NoSnapshot makes a follower with an empty Dir replay the stream from
	// the start even when a snapshot exists.
	NoSnapshot bool
}

func (c *FollowerConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = eventlog.ReaderStream
	}
	if c.MaxWait == 0 {
		c.MaxWait = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SnapshotBucket == "" {
		c.SnapshotBucket = eventlog.DefaultSnapshotBucket
	}
}

// Validate reports every problem of the configuration at once.
func (c *FollowerConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("client: FollowerConfig.Dir is required (the follower's index directory)"))
	}
	switch {
	case c.NATS == nil && c.URL == "":
		errs = append(errs, errors.New("client: FollowerConfig needs NATS (a connection) or URL"))
	case c.NATS != nil && (c.URL != "" || c.CredsFile != "" || c.User != "" || c.Password != ""):
		errs = append(errs, errors.New("client: FollowerConfig: give either NATS, or URL with its credentials, not both"))
	}
	if c.CredsFile != "" && (c.User != "" || c.Password != "") {
		errs = append(errs, errors.New("client: FollowerConfig: give either CredsFile or User and Password, not both"))
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("client: FollowerConfig.MaxWait %v is negative", c.MaxWait))
	}
	return errors.Join(errs...)
}

// Follower is an embedded read replica: a Pebble copy of the permission
// index in the caller's process, kept up to date from the JetStream event
// stream by a goroutine of its own, answering checks with no network hop.
//
// Its checks are the caller's own: they need no credential and are not
// authorized (any subject may be asked about). Answers are the same as a
// Grantlog node's at the same revision. A Follower is safe for concurrent
// use; Close it when done.
type Follower struct {
	cfg    FollowerConfig
	nc     *nats.Conn
	ownNC  bool
	store  *index.Store
	proj   *projector.Projector
	engine *query.Engine

	runCtx context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the projector goroutine has returned
	runErr error         // the projector's error; read only after done is closed

	closed atomic.Bool
	// inflight is held shared by checks and exclusively by Close before it
	// closes the index.
	inflight sync.RWMutex
	// restoredFrom is the revision of the snapshot NewFollower restored.
	restoredFrom uint64
	closeOnce    sync.Once
	closeErr     error
	// checks are the follower's check metrics (Collector).
	checks *metrics.Checks
}

// NewFollower opens (creating if needed) the index in cfg.Dir, connects to
// NATS when given a URL, makes sure the event stream exists, and starts
// following it. ctx bounds only this setup; the Follower runs until Close.
// Use WaitReady before relying on answers: until it has caught up, checks
// answer from an older revision.
func NewFollower(ctx context.Context, cfg FollowerConfig) (f *Follower, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f = &Follower{cfg: cfg, nc: cfg.NATS, done: make(chan struct{}), checks: metrics.NewChecks(metrics.Follower)}
	partial := f // "return nil, err" clears f before this runs
	defer func() {
		if err != nil {
			partial.release()
		}
	}()
	if f.nc == nil {
		if f.nc, err = eventlog.Connect(eventlog.ConnectConfig{URL: cfg.URL, User: cfg.User, Password: cfg.Password,
			CredsFile: cfg.CredsFile, Name: "grantlog-follower"}); err != nil {
			return nil, fmt.Errorf("client: follower: %w", err)
		}
		f.ownNC = true
	}
	var (
		js     jetstream.JetStream
		stream jetstream.Stream
	)
	if cfg.Stream == eventlog.ReaderStream {
		// The mirror lives in an account of its own: the follower reads it
		// through the read-only subjects that account exports, and refuses
		// a stream of that name that is not the mirror of the event stream.
		if js, err = jetstream.NewWithAPIPrefix(f.nc, eventlog.MirrorAPIPrefix); err != nil {
			return nil, fmt.Errorf("client: follower: jetstream: %w", err)
		}
		if stream, err = eventlog.OpenReaderMirror(ctx, js); err != nil {
			return nil, fmt.Errorf("client: follower: %w", err)
		}
	} else {
		if js, err = jetstream.New(f.nc); err != nil {
			return nil, fmt.Errorf("client: follower: jetstream: %w", err)
		}
		if stream, err = js.Stream(ctx, cfg.Stream); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return nil, fmt.Errorf("client: follower: no event stream %s on this NATS: start grantlog serve (role all or command) first: %w", cfg.Stream, err)
			}
			return nil, fmt.Errorf("client: follower: stream %s: %w", cfg.Stream, err)
		}
	}
	if !cfg.NoSnapshot {
		// The snapshot bucket is in the command account: a follower in the
		// readers' account reads it through what that account exports.
		sjs := js
		if cfg.Stream != eventlog.DefaultStream {
			if sjs, err = jetstream.NewWithAPIPrefix(f.nc, eventlog.CommandAPIPrefix); err != nil {
				return nil, fmt.Errorf("client: follower: jetstream: %w", err)
			}
		}
		if err := f.bootstrap(ctx, sjs, stream); err != nil {
			return nil, err
		}
	}
	if f.store, err = index.Open(index.Options{Dir: cfg.Dir, Logger: cfg.Logger,
		CacheSize: cfg.CacheSize, MemTableSize: cfg.MemTableSize}); err != nil {
		return nil, fmt.Errorf("client: follower: %w", err)
	}
	f.proj = projector.New(projector.Config{Stream: cfg.Stream, Logger: cfg.Logger, Progress: cfg.Progress}, js, f.store)
	f.engine = query.New(query.Config{MaxWait: cfg.MaxWait}, f.store, nil)
	f.runCtx, f.cancel = context.WithCancel(context.Background())
	go f.follow()
	return f, nil
}

// bootstrap restores the newest snapshot into an empty Dir when the stream
// holds events, so that the follower replays only the tail. With no
// snapshot (or none usable while the stream still starts at its first
// event) it leaves Dir empty: the follower replays from the start.
func (f *Follower) bootstrap(ctx context.Context, js jetstream.JetStream, events jetstream.Stream) error {
	stream := events.CachedInfo()
	empty, err := eventlog.EmptyDir(f.cfg.Dir)
	if err != nil {
		return fmt.Errorf("client: follower: %w", err)
	}
	if !empty || projector.StreamHead(stream) == 0 {
		return nil
	}
	start := time.Now()
	info, err := eventlog.RestoreSnapshotForStream(ctx, js, f.cfg.SnapshotBucket, f.cfg.Dir, events, eventlog.RestoreSnapshotOptions{Logger: f.cfg.Logger})
	switch {
	case errors.Is(err, eventlog.ErrNoSnapshot):
		f.cfg.Logger.Info("grantlog follower: no snapshot to start from; replaying the stream from the start", "why", err)
		return nil
	case err != nil && stream.State.FirstSeq <= 1:
		f.cfg.Logger.Warn("grantlog follower: could not restore the newest snapshot; replaying the stream from the start", "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("client: follower: the stream no longer starts at its first event, and %w", err)
	}
	f.restoredFrom = info.Revision
	f.cfg.Logger.Info("grantlog follower: restored the index from a snapshot; replaying the events after it",
		"object", info.Object, "revision", info.Revision, "bytes", info.Bytes, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// RestoredFrom returns the revision of the snapshot the follower's index
// was restored from when it started on an empty Dir, or 0.
func (f *Follower) RestoredFrom() uint64 { return f.restoredFrom }

// follow runs the projector until Close or a failure it cannot retry.
func (f *Follower) follow() {
	defer close(f.done)
	if err := f.proj.Run(f.runCtx); err != nil {
		f.runErr = fmt.Errorf("client: follower stopped following: %w", err)
		f.cfg.Logger.Error("grantlog follower stopped following the stream", "err", err)
	}
}

// release closes what a failed NewFollower opened.
func (f *Follower) release() {
	if f.store != nil {
		_ = f.store.Close()
	}
	if f.ownNC && f.nc != nil {
		f.nc.Close()
	}
}

// Ready reports whether the follower has caught up with the stream head
// seen when it started, and still follows the stream (not closed, not
// stopped by an error).
func (f *Follower) Ready() bool { return f.proj.Ready() && !f.closed.Load() }

// Revision returns the revision the follower's index has applied.
func (f *Follower) Revision() uint64 { return f.store.Applied() }

// Err returns the error that stopped the follower from following the
// stream (the stream no longer holds the events it needs, an event type
// newer than this binary, a failing disk), or nil while it follows. Checks
// then keep answering at the last applied revision.
func (f *Follower) Err() error {
	select {
	case <-f.done:
		if f.closed.Load() && f.runErr == nil {
			return ErrClosed
		}
		return f.runErr
	default:
		return nil
	}
}

// stopped is the error of a follower that no longer follows.
func (f *Follower) stopped() error {
	if f.runErr != nil {
		return f.runErr
	}
	return ErrClosed
}

// WaitReady waits until the follower is Ready, ctx ends (its error), or
// the follower stops (Err, or ErrClosed).
func (f *Follower) WaitReady(ctx context.Context) error {
	return f.wait(ctx, f.Ready)
}

// WaitFor waits until the follower has applied revision rev (e.g. a
// command's answer), ctx ends (its error), or the follower stops (Err, or
// ErrClosed). Unlike a check's AtLeastRevision it has no bound but ctx.
func (f *Follower) WaitFor(ctx context.Context, rev uint64) error {
	return f.wait(ctx, func() bool { return f.store.Applied() >= rev })
}

func (f *Follower) wait(ctx context.Context, done func() bool) error {
	// The projector reports readiness without a change of the index when
	// the stream is empty: poll as well as wait for changes.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		changed := f.store.Changed()
		if done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			if done() {
				return nil
			}
			return f.stopped()
		case <-changed:
		case <-tick.C:
		}
	}
}

// enter admits a check unless the follower is closed; the caller must
// call f.inflight.RUnlock when admitted.
func (f *Follower) enter() bool {
	f.inflight.RLock()
	if f.closed.Load() {
		f.inflight.RUnlock()
		return false
	}
	return true
}

// bound makes ctx end when the follower closes, for checks that wait.
func (f *Follower) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(f.runCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Check answers req from the local index. A check about the past
// (AtRevision, AsOf) is refused with ErrNoHistory: a follower keeps no
// past views; ask a node. With req.AtLeastRevision it
// waits, bounded by MaxWait, for that revision, else fails with ErrNotYet
// (an *APIError whose Revision is the follower's). Refusals are *APIError
// values as a node would answer them (ErrInvalid, ErrNotFound for an
// unknown catalog endpoint); after Close it returns ErrClosed.
func (f *Follower) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	if !f.enter() {
		return CheckResult{}, ErrClosed
	}
	defer f.inflight.RUnlock()
	if req.AtLeastRevision > f.store.Applied() {
		var done func()
		ctx, done = f.bound(ctx)
		defer done()
	}
	start := time.Now()
	res, err := f.engine.Check(ctx, req)
	f.checks.Check(metrics.Follower, metrics.DecisionOf(res.Allowed, err), start)
	if err != nil {
		return CheckResult{}, f.translate(err)
	}
	return res, nil
}

// Explain is Check with an explanation.
func (f *Follower) Explain(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	return f.Check(ctx, explained(req))
}

// CheckBatch answers every check of req at one revision of the local
// index, as a node's batch check does.
func (f *Follower) CheckBatch(ctx context.Context, req *BatchRequest) (BatchResult, error) {
	if !f.enter() {
		return BatchResult{}, ErrClosed
	}
	defer f.inflight.RUnlock()
	want := req.AtLeastRevision
	for i := range req.Checks {
		want = max(want, req.Checks[i].AtLeastRevision)
	}
	if want > f.store.Applied() {
		var done func()
		ctx, done = f.bound(ctx)
		defer done()
	}
	start := time.Now()
	res, err := f.engine.CheckBatch(ctx, req)
	allowed, denied, errored := checkjson.Decisions(&res)
	f.checks.Batch(metrics.Follower, allowed, denied, errored, err != nil, start)
	if err != nil {
		return BatchResult{}, f.translate(err)
	}
	return res, nil
}

// translate turns the engine's refusals into the *APIError a node answers
// with; a check cut short by Close is ErrClosed.
func (f *Follower) translate(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		e, _ := api.ErrorOf(err)
		return &APIError{Status: e.Status, Code: e.Code, Message: e.Message, Revision: e.Revision, OldestRevision: e.OldestRevision}
	}
	if f.closed.Load() && errors.Is(err, context.Canceled) {
		return ErrClosed
	}
	return fmt.Errorf("client: follower check: %w", err)
}

// Close stops following the stream, waits for checks in progress (those
// waiting for a revision are cut short with ErrClosed), closes the index
// and, when the Follower made it, the NATS connection. It is idempotent
// and returns the same error each time: the one that had stopped the
// follower early (see Err), if any, and any error closing the index.
func (f *Follower) Close() error {
	f.closeOnce.Do(func() {
		f.closed.Store(true)
		f.cancel()
		<-f.done
		f.inflight.Lock()
		err := f.store.Close()
		f.inflight.Unlock()
		if f.ownNC {
			f.nc.Close()
		}
		if err != nil {
			err = fmt.Errorf("client: follower: close index: %w", err)
		}
		f.closeErr = errors.Join(f.runErr, err)
	})
	return f.closeErr
}
