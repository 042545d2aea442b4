package projector_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

func openIndex(t testing.TB) *index.Store {
	t.Helper()
	st, err := index.Open(index.Options{Dir: filepath.Join(t.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// run starts p and returns a func that stops it and returns Run's error.
func run(p *projector.Projector) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func smallDataset() *testutil.Dataset {
	return testutil.GenerateDataset(testutil.Shape{Namespaces: 5, Roles: 10, PermsPerRole: 3, Users: 200,
		MaxRolesPerUse: 2, MaxNSPerAssign: 2, WildcardEvery: 4, Seed: 3})
}

func TestCatchUpResumeAndReady(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	half := len(d.Events) / 2
	log.Publish(t, d.Events[:half])

	st := openIndex(t)
	var progress []uint64
	p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet, BatchSize: 50,
		Progress: func(applied, _ uint64) { progress = append(progress, applied) }}, log.JS, st)
	stop := run(p)
	require.Eventually(t, p.Ready, 10*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, half, st.Applied())
	assert.EqualValues(t, half, p.Head())
	require.NotEmpty(t, progress, "catch-up reports progress")
	require.NoError(t, stop())

	// Events appended while stopped are applied on the next run, from
	// exactly where the index stopped.
	log.Publish(t, d.Events[half:])
	p2 := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st)
	stop = run(p2)
	testutil.WaitApplied(t, st, uint64(len(d.Events)))
	require.NoError(t, stop())

	fresh := openIndex(t)
	p3 := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, fresh)
	stop = run(p3)
	testutil.WaitApplied(t, fresh, uint64(len(d.Events)))
	require.NoError(t, stop())
	assert.Equal(t, testutil.Dump(t, fresh), testutil.Dump(t, st), "resumed projection equals replay from zero")
}

func TestUndecodableEventIsSkipped(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	_, err := log.JS.Publish(context.Background(), events.Subject(events.DefaultSubjectPrefix, "g1", "x"), []byte(`not json`))
	require.NoError(t, err)
	log.Publish(t, d.Events[:5])

	st := openIndex(t)
	stop := run(projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st))
	testutil.WaitApplied(t, st, 6)
	require.NoError(t, stop())
	v := st.Acquire()
	defer v.Release()
	assert.NotNil(t, v.Role(testutil.RoleID(0)), "events after the undecodable one apply")
}

// TestGapIsReported: when the stream no longer holds the event after the
// index's applied revision, the projector stops with ErrGap instead of
// silently starting at the first event it has.
func TestGapIsReported(t *testing.T) {
	dir := t.TempDir()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: dir, NoListen: true})
	require.NoError(t, err)
	defer e.Close()
	jsx, err := jetstream.New(e.Conn)
	require.NoError(t, err)
	cfg := eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1)
	cfg.DenyPurge = false // only so that the test can make a gap
	ctx := context.Background()
	stream, err := eventlog.EnsureStream(ctx, jsx, cfg)
	require.NoError(t, err)
	log := &testutil.Log{Embedded: e, JS: jsx, Stream: stream}
	d := smallDataset()
	log.Publish(t, d.Events[:10])
	require.NoError(t, stream.Purge(ctx))
	log.Publish(t, d.Events[10:12])

	st := openIndex(t)
	err = projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, jsx, st).Run(ctx)
	require.ErrorIs(t, err, projector.ErrGap)
	assert.Zero(t, st.Applied())
}

// TestTransactionAppliedWhole: the events of a transaction are applied
// together, never some of them: not when the batch size would cut it,
// and not while its last events have yet to reach the stream (a mirror
// copies a batch's messages one by one).
func TestTransactionAppliedWhole(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	evs := append([]events.Event(nil), d.Events[:8]...)
	// Events 2..6 (revisions 3..7) are one transaction, made with an
	// Idempotency-Key (its id a version 5 UUID).
	txID := uuid.NewSHA1(uuid.NameSpaceOID, []byte("tx-1")).String()
	for i := 2; i <= 6; i++ {
		evs[i].Tx = &events.Tx{ID: txID, Index: i - 2, Count: 5}
	}
	log.Publish(t, evs[:5]) // the transaction's first three events only

	st := openIndex(t)
	var progress []uint64
	p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet, BatchSize: 3,
		Progress: func(applied, _ uint64) { progress = append(progress, applied) }}, log.JS, st)
	stop := run(p)
	testutil.WaitApplied(t, st, 2)
	require.Never(t, func() bool { return st.Applied() > 2 }, 300*time.Millisecond, 10*time.Millisecond,
		"no event of an incomplete transaction is applied")

	log.Publish(t, evs[5:])
	testutil.WaitApplied(t, st, 8)
	require.NoError(t, stop())
	for _, rev := range progress {
		assert.False(t, rev >= 3 && rev < 7, "applied revision %d is inside the transaction", rev)
	}
	v := st.Acquire()
	defer v.Release()
	rev, ok := v.Keyed(txID)
	assert.True(t, ok)
	assert.EqualValues(t, 7, rev, "the index remembers the keyed transaction at its last event")
}
