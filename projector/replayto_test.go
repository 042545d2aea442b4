package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// TestReplayTo: a bounded replay applies exactly up to its bound, never
// part of a transaction (a bound inside one stops before it), resumes
// from where it stopped, and reports a stream that no longer holds the
// next event as ErrGap.
func TestReplayTo(t *testing.T) {
	dir := t.TempDir()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: dir, NoListen: true})
	require.NoError(t, err)
	defer e.Close()
	js, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	cfg := eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1)
	cfg.DenyPurge = false // only so that the test can make a gap
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := eventlog.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	log := &testutil.Log{Embedded: e, JS: js, Stream: stream}
	d := smallDataset()
	evs := d.Events[:30]
	for i := 10; i < 14; i++ { // revisions 11..14: one transaction
		evs[i].Tx = &events.Tx{ID: "tx1", Index: i - 10, Count: 4}
	}
	log.Publish(t, evs)

	st := openIndex(t)
	p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet, BatchSize: 4}, js, st)
	for _, step := range []struct{ upTo, want uint64 }{
		{5, 5}, {5, 5}, {10, 10}, {12, 10}, {13, 10}, {14, 14}, {20, 20}, {30, 30},
	} {
		require.NoError(t, p.ReplayTo(ctx, step.upTo))
		assert.Equal(t, step.want, st.Applied(), "ReplayTo(%d)", step.upTo)
	}
	// A fresh index straight to a revision inside the transaction.
	st2 := openIndex(t)
	require.NoError(t, projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, js, st2).ReplayTo(ctx, 11))
	assert.Equal(t, uint64(10), st2.Applied())
	assert.Equal(t, testutil.Dump(t, mustAt(t, js, 10)), testutil.Dump(t, st2), "the index at 10, whatever the bound inside the transaction")

	require.NoError(t, stream.Purge(ctx, jetstream.WithPurgeSequence(20)))
	st3 := openIndex(t)
	err = projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, js, st3).ReplayTo(ctx, 25)
	require.ErrorIs(t, err, projector.ErrGap)
}

func mustAt(t *testing.T, js jetstream.JetStream, rev uint64) *index.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := openIndex(t)
	require.NoError(t, projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, js, st).ReplayTo(ctx, rev))
	require.Equal(t, rev, st.Applied())
	return st
}
