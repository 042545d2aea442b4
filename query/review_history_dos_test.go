package query_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// countingIndex counts the events a replay applies.
type countingIndex struct {
	query.ReplayIndex
	n *atomic.Uint64
}

func (c countingIndex) Apply(evs []events.Event) error {
	c.n.Add(uint64(len(evs)))
	return c.ReplayIndex.Apply(evs)
}

// TestPastBatchReplaysOnce (security review): the rate limiter counts a
// batch as one request, so one batch of past checks must not buy a
// replay per item. A batch asking about every revision, newest first
// (each item older than every kept view), should replay the stream about
// once — answered in revision order on one view — not once per item
// (quadratic in the stream's length: with 1,000 items on a long stream,
// one request replays it 1,000 times).
func TestPastBatchReplaysOnce(t *testing.T) {
	h := startHistEnv(t)
	randomHistory(t, h, rand.New(rand.NewPCG(9, 9)), 30)
	head := h.st.Applied()
	require.Greater(t, head, uint64(20))

	var replayed atomic.Uint64
	inner := server.HistoryReplayer(h.js, eventlog.DefaultStream, testutil.Quiet)
	eng := query.New(query.Config{MaxWait: 2 * time.Second, Now: h.clock.Now, History: query.HistoryConfig{
		JS: h.js, Stream: eventlog.DefaultStream, Logger: testutil.Quiet, Views: 2,
		Replay: func(ctx context.Context, idx query.ReplayIndex, upTo uint64) error {
			return inner(ctx, countingIndex{idx, &replayed}, upTo)
		},
	}}, h.st, nil)
	t.Cleanup(eng.Close)

	var batch query.BatchRequest
	for rev := head - 1; rev >= 1; rev-- {
		batch.Checks = append(batch.Checks, query.CheckRequest{Subject: query.Subject{Type: query.SubjectUser, ID: "u1"},
			Namespace: "ns1", Resource: "NAMESPACE:ns1:BUILD", Action: perm.Read, AtRevision: rev})
	}
	out, err := eng.CheckBatch(context.Background(), &batch)
	require.NoError(t, err)
	for i, r := range out.Results {
		require.Empty(t, r.ErrorCode, "item %d: %s", i, r.ErrorMessage)
	}
	assert.LessOrEqual(t, replayed.Load(), 2*head,
		"one batch of %d past checks replayed %d events of a %d-event stream", len(batch.Checks), replayed.Load(), head)
}
