package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// HistoryReplayer feeds the query engine's past views (query.HistoryConfig)
// with the node's own projector, bounded (projector.ReplayTo): every
// event is authenticated as the live index's are. A stream that no longer
// holds the next event is query.ErrGone (410 revisionCompacted).
func HistoryReplayer(js jetstream.JetStream, stream string, logger *slog.Logger) query.Replayer {
	return func(ctx context.Context, idx query.ReplayIndex, upTo uint64) error {
		err := projector.New(projector.Config{Stream: stream, Logger: logger}, js, idx).ReplayTo(ctx, upTo)
		if errors.Is(err, projector.ErrGap) {
			return fmt.Errorf("%w: %w", query.ErrGone, err)
		}
		return err
	}
}

// HistorySnapshots lets past views start from the index's stored
// snapshots (query.HistoryConfig.Snapshots): bucket is read through js;
// a snapshot is restored only as a starting node restores one
// (eventlog.RestoreSnapshotForStream against stream), also trusting the
// log signing keys trusted returns (the live index's, for a stream that
// no longer holds their announcements).
func HistorySnapshots(js jetstream.JetStream, bucket string, stream jetstream.Stream, trusted func() (map[string]ed25519.PublicKey, error),
	logger *slog.Logger,
) query.SnapshotSource {
	return &historySnapshots{js: js, bucket: bucket, stream: stream, trusted: trusted, log: logger}
}

type historySnapshots struct {
	js      jetstream.JetStream
	bucket  string
	stream  jetstream.Stream
	trusted func() (map[string]ed25519.PublicKey, error)
	log     *slog.Logger

	mu     sync.Mutex
	revs   []uint64  // the last listing
	listed time.Time // when; zero: never
}

// snapshotListTTL is how long a listing of the bucket is reused: a bucket
// this node cannot reach answers only after a timeout, and snapshots come
// minutes apart.
const snapshotListTTL = 10 * time.Second

func (h *historySnapshots) Revisions(ctx context.Context) ([]uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.listed.IsZero() && time.Since(h.listed) < snapshotListTTL {
		return h.revs, nil
	}
	all, err := eventlog.ListSnapshots(ctx, h.js, h.bucket)
	if err != nil && !errors.Is(err, eventlog.ErrNoSnapshot) {
		return nil, err
	}
	revs := make([]uint64, len(all))
	for i, s := range all {
		revs[i] = s.Revision
	}
	h.revs, h.listed = revs, time.Now()
	return revs, nil
}

func (h *historySnapshots) Restore(ctx context.Context, maxRev uint64, dir string) (uint64, error) {
	var keys logsig.Keys
	if h.trusted != nil {
		m, err := h.trusted()
		if err != nil {
			return 0, err
		}
		keys = logsig.Keys(m)
	}
	info, err := eventlog.RestoreSnapshotForStream(ctx, h.js, h.bucket, dir, h.stream,
		eventlog.RestoreSnapshotOptions{Logger: h.log, TrustedKeys: keys, MaxRevision: maxRev})
	if err != nil {
		return 0, err
	}
	return info.Revision, nil
}
