package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/projector"
)

// snapshotState is the node's part in snapshots: the snapshotter behind
// POST /v1/admin/snapshots and --snapshot-interval, and the revision of the
// snapshot the index was restored from at start.
type snapshotState struct {
	taker        *eventlog.Snapshotter
	restoredFrom atomic.Uint64
	// restoreTook and loadTook are how long this start spent restoring a
	// snapshot (fetch, verify, unpack) and opening the index (loading it
	// into memory), in nanoseconds.
	restoreTook, loadTook atomic.Int64
}

// StartTimes is where a node's start went: restoring a snapshot into an
// empty index directory (finding, fetching, verifying and unpacking it;
// when no snapshot was found, the time spent looking) and opening the
// index, which loads it into memory. Replaying the stream follows.
type StartTimes struct {
	Restore, Load time.Duration
}

// StartTimes returns where this node's start went (see StartTimes).
func (s *Server) StartTimes() StartTimes {
	return StartTimes{Restore: time.Duration(s.snapshots.restoreTook.Load()), Load: time.Duration(s.snapshots.loadTook.Load())}
}

// openTimed opens the index with opts, recording and logging how long
// loading it into memory took.
func (s *Server) openTimed(opts index.Options) (*index.Store, error) {
	start := time.Now()
	release := holdGC()
	st, err := index.Open(opts)
	release()
	took := time.Since(start)
	s.snapshots.loadTook.Add(int64(took))
	if err == nil {
		s.log.Info("opened the index", "dir", opts.Dir, "revision", st.Applied(), "duration", took.Round(time.Millisecond))
	}
	return st, err
}

// RestoredFrom is the revision of the snapshot the index was restored from
// when the node started (0: it was not; the index was opened as found, or
// replayed from the start).
func (s *Server) RestoredFrom() uint64 { return s.snapshots.restoredFrom.Load() }

// indexDir is the directory of the node's index.
func (s *Server) indexDir() string { return filepath.Join(s.cfg.DataDir, "index") }

// pastDir is where past views restored from snapshots are unpacked
// (query.HistoryConfig.Dir); what a previous run left there is removed.
func (s *Server) pastDir() string {
	dir := filepath.Join(s.cfg.DataDir, "past")
	if err := os.RemoveAll(dir); err != nil {
		s.log.Warn("could not empty the past views' directory", "dir", dir, "err", err)
	}
	return dir
}

// newSnapshotter returns the node's snapshotter; its temporary checkpoints
// go under the data directory, on the index's file system.
func (s *Server) newSnapshotter(store *index.Store) *eventlog.Snapshotter {
	return eventlog.NewSnapshotter(eventlog.SnapshotterConfig{
		Store: store, JS: s.js, Bucket: s.cfg.SnapshotBucket, Interval: s.cfg.SnapshotInterval,
		Node: s.cfg.NodeName, TempDir: s.cfg.DataDir, Logger: s.log,
		Signer: s.signKey, Events: s.stream,
	})
}

// openIndex opens the node's index. A node that answers checks (role all
// or replica) first restores it from the newest snapshot when
//   - the index directory is empty and the stream holds events (a new
//     replica: it then replays only the tail after the snapshot; without a
//     snapshot it replays the stream from the start), or
//   - the stream no longer holds the event after the index's applied
//     revision (what the projector reports as projector.ErrGap): the old
//     index is moved aside to <data-dir>/index.broken-<unix seconds>. With no
//     usable snapshot, openIndex fails and says to take one.
//
// An index written in a layout this binary does not read (index.ErrLayout:
// a newer binary wrote it, or it is damaged) is moved aside to
// <data-dir>/index.layout-<unix seconds> and rebuilt as for an empty
// directory: it is only a projection of the stream.
func (s *Server) openIndex(ctx context.Context, stream *jetstream.StreamInfo) (*index.Store, error) {
	st, err := s.openIndexAsFound(ctx, stream)
	if !errors.Is(err, index.ErrLayout) {
		return st, err
	}
	aside := filepath.Join(s.cfg.DataDir, fmt.Sprintf("index.layout-%d", time.Now().Unix()))
	s.log.Warn("the index was written in a layout this binary does not read: rebuilding it",
		"err", err, "movedAsideTo", aside)
	if err := os.Rename(s.indexDir(), aside); err != nil {
		return nil, fmt.Errorf("move the index aside: %w", err)
	}
	return s.openIndexAsFound(ctx, stream)
}

// openIndexAsFound is openIndex without the layout check.
func (s *Server) openIndexAsFound(ctx context.Context, stream *jetstream.StreamInfo) (*index.Store, error) {
	dir := s.indexDir()
	opts := index.Options{Dir: dir, Logger: s.log, IdempotencyWindow: s.cfg.IdempotencyWindow}
	if !s.cfg.NodeRole.checks() {
		return s.openTimed(opts)
	}
	fresh, err := eventlog.EmptyDir(dir)
	if err != nil {
		return nil, err
	}
	if fresh && stream.State.LastSeq > 0 {
		err := s.restoreIndex(ctx, dir, stream, nil)
		switch {
		case errors.Is(err, eventlog.ErrNoSnapshot):
			s.log.Info("empty index and no snapshot: replaying the stream from the start",
				"bucket", s.cfg.SnapshotBucket, "head", stream.State.LastSeq, "why", err)
		case err != nil && stream.State.FirstSeq <= 1:
			s.log.Warn("could not restore the index from a snapshot: replaying the stream from the start", "err", err)
		case err != nil:
			return nil, err
		}
	}
	st, err := s.openTimed(opts)
	if err != nil {
		return nil, err
	}
	applied := st.Applied()
	if !gap(stream, applied) {
		return st, nil
	}
	// The stream may no longer hold the events that announced the log's
	// signing keys: the keys this index trusted still vouch for snapshots.
	trusted, err := st.SigningKeys()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("close index: %w", err)
	}
	broken := filepath.Join(s.cfg.DataDir, fmt.Sprintf("index.broken-%d", time.Now().Unix()))
	s.log.Warn("the stream no longer holds the events after the index's revision: rebuilding from the newest snapshot",
		"applied", applied, "streamFirst", stream.State.FirstSeq, "movedAsideTo", broken)
	if _, err := eventlog.LatestSnapshot(ctx, s.snapJS, s.cfg.SnapshotBucket); err != nil {
		return nil, s.gapError(applied, stream.State.FirstSeq, err)
	}
	if err := os.Rename(dir, broken); err != nil {
		return nil, fmt.Errorf("move the index aside: %w", err)
	}
	if err := s.restoreIndex(ctx, dir, stream, trusted); err != nil {
		return nil, s.gapError(applied, stream.State.FirstSeq, err)
	}
	return s.openTimed(opts)
}

// gapError says why an index with a gap cannot be rebuilt and what to do.
func (s *Server) gapError(applied, first uint64, cause error) error {
	return fmt.Errorf("%w: the index is at revision %d but the stream starts at %d, and no usable snapshot is in bucket %s (%w); "+
		"take a snapshot on a healthy node (POST /v1/admin/snapshots, or run it with --snapshot-interval) and restart this node",
		projector.ErrGap, applied, first, s.cfg.SnapshotBucket, cause)
}

// restoreIndex restores the newest authentic snapshot into dir (absent or
// empty), logging progress and why any newer one was refused (see
// eventlog.RestoreSnapshotForStream: verified against the stream the node reads).
func (s *Server) restoreIndex(ctx context.Context, dir string, stream *jetstream.StreamInfo, trusted logsig.Keys) error {
	start := time.Now()
	lastPct := int64(-1)
	progress := func(done, total int64) {
		pct := int64(100)
		if total > 0 {
			pct = done * 100 / total
		}
		if pct/10 > lastPct/10 || lastPct < 0 {
			lastPct = pct
			s.log.Info("restoring the index from a snapshot", "bytes", done, "of", total, "percent", pct)
		}
	}
	info, err := eventlog.RestoreSnapshotForStream(ctx, s.snapJS, s.cfg.SnapshotBucket, dir, s.stream,
		eventlog.RestoreSnapshotOptions{Progress: progress, Logger: s.log, TrustedKeys: trusted})
	s.snapshots.restoreTook.Add(int64(time.Since(start)))
	if err != nil {
		return err
	}
	s.snapshots.restoredFrom.Store(info.Revision)
	s.log.Info("restored the index from a snapshot; replaying the tail of the stream",
		"object", info.Object, "revision", info.Revision, "bytes", info.Bytes, "node", info.Node, "createdAt", info.CreatedAt,
		"signedBy", info.SignedBy,
		"duration", time.Since(start).Round(time.Millisecond), "tail", stream.State.LastSeq-min(stream.State.LastSeq, info.Revision))
	return nil
}

// gap reports whether the stream lacks the event after applied.
func gap(stream *jetstream.StreamInfo, applied uint64) bool {
	return stream.State.Msgs > 0 && stream.State.FirstSeq > applied+1
}

// projectorFailed wraps the projector's error; a gap that opened while the
// node ran (the stream dropped events the index had not applied) says how
// to recover.
func projectorFailed(err error) error {
	if errors.Is(err, projector.ErrGap) {
		return fmt.Errorf("projector: %w (restart the node: it rebuilds its index from the newest snapshot)", err)
	}
	return fmt.Errorf("projector: %w", err)
}
