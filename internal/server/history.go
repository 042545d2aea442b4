package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

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
