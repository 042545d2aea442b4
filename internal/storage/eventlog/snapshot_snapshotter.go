package eventlog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// DefaultSnapshotInterval is how often a Snapshotter takes a snapshot.
const DefaultSnapshotInterval = 10 * time.Minute

// SnapshotterConfig configures a Snapshotter. Zero fields take the documented defaults.
type SnapshotterConfig struct {
	// Store is the index to snapshot. Required.
	Store *index.Store
	// JS is where the bucket lives. Required.
	JS jetstream.JetStream
	// Bucket is the Object Store bucket; default DefaultSnapshotBucket.
	Bucket string
	// Interval between periodic snapshots in Run; default DefaultSnapshotInterval.
	Interval time.Duration
	// Keep is how many snapshots to keep; default DefaultSnapshotKeep.
	Keep int
	// Node names the node in the snapshots' metadata; default the host name.
	Node string
	// TempDir holds temporary checkpoints; put it on the index's file system
	// (so sstables are hard-linked, not copied). Default os.TempDir().
	TempDir string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Signer signs each snapshot's manifest (the log signing key), and
	// Events is the event stream (see WithSnapshotSigner). Without a Signer,
	// snapshots are unsigned: restorers refuse them.
	Signer *logsig.Key
	Events jetstream.Stream
}

// Snapshotter takes snapshots of one index: on demand with Take, and
// periodically with Run. Snapshots are serialized; it is safe for
// concurrent use.
type Snapshotter struct {
	cfg SnapshotterConfig
	// taken is the last snapshot this Snapshotter took (metrics).
	taken atomic.Pointer[SnapshotInfo]

	mu struct {
		sync.Mutex
		last    uint64 // revision of the last snapshot taken (0: none yet)
		hasLast bool
	}
}

// NewSnapshotter returns a Snapshotter for cfg.
func NewSnapshotter(cfg SnapshotterConfig) *Snapshotter {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultSnapshotBucket
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultSnapshotInterval
	}
	if cfg.Keep < 1 {
		cfg.Keep = DefaultSnapshotKeep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Snapshotter{cfg: cfg}
}

// Take takes a snapshot now, whether or not the index moved, and logs its
// size and duration.
func (s *Snapshotter) Take(ctx context.Context) (SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.take(ctx)
}

func (s *Snapshotter) take(ctx context.Context) (SnapshotInfo, error) {
	start := time.Now()
	opts := []SnapshotOption{WithSnapshotNode(s.cfg.Node), WithSnapshotKeep(s.cfg.Keep), WithSnapshotTempDir(s.cfg.TempDir)}
	if s.cfg.Signer != nil {
		opts = append(opts, WithSnapshotSigner(s.cfg.Signer, s.cfg.Events))
	}
	info, err := TakeSnapshot(ctx, s.cfg.Store, s.cfg.JS, s.cfg.Bucket, opts...)
	if info.Object == "" {
		return SnapshotInfo{}, err
	}
	s.mu.last, s.mu.hasLast = info.Revision, true
	s.taken.Store(&info)
	s.cfg.Logger.Info("snapshot taken", "object", info.Object, "revision", info.Revision,
		"bytes", info.Bytes, "duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		// The snapshot is stored; only pruning failed.
		s.cfg.Logger.Warn("snapshot: could not delete old snapshots", "err", err)
	}
	return info, nil
}

// Last is the last snapshot this Snapshotter took (ok false: none yet).
// It does not wait for a snapshot being taken.
func (s *Snapshotter) Last() (info SnapshotInfo, ok bool) {
	if p := s.taken.Load(); p != nil {
		return *p, true
	}
	return SnapshotInfo{}, false
}

// Run takes a snapshot every Interval when the applied revision moved since
// the last one (or, for the first, when the bucket holds no snapshot at
// the current revision), until ctx ends. Failures are logged and retried at
// the next tick; Run returns nil when ctx ends.
func (s *Snapshotter) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.tick(ctx)
	}
}

func (s *Snapshotter) tick(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	applied := s.cfg.Store.Applied()
	if applied == 0 || (s.mu.hasLast && s.mu.last == applied) {
		return
	}
	if !s.mu.hasLast {
		// After a restart: skip if the newest stored snapshot is current.
		if latest, err := LatestSnapshot(ctx, s.cfg.JS, s.cfg.Bucket); err == nil && latest.Revision == applied {
			s.mu.last, s.mu.hasLast = applied, true
			return
		}
	}
	if _, err := s.take(ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.cfg.Logger.Warn("snapshot failed; retrying at the next interval", "err", err, "in", s.cfg.Interval)
	}
}
