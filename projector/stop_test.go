package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// TestRunStopsWhenStreamDeletedUnderIt: when the stream is deleted under a
// running projector, its ordered consumer tries to recreate itself over and
// over inside Next; Run must still return once its context ends.
func TestRunStopsWhenStreamDeletedUnderIt(t *testing.T) {
	log := testutil.StartLog(t, t.TempDir())
	d := smallDataset()
	log.Publish(t, d.Events[:10])

	st := openIndex(t)
	p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testutil.WaitApplied(t, st, 10)

	// Watch the JetStream API for the ordered consumer's attempts to
	// recreate itself: once one is seen after the delete, the projector is
	// inside the consumer's reset loop.
	creates, err := log.Embedded.StoreConn.SubscribeSync("$JS.API.CONSUMER.CREATE." + eventlog.DefaultStream + ".>")
	require.NoError(t, err)
	defer func() { _ = creates.Unsubscribe() }()
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	require.NoError(t, log.JS.DeleteStream(dctx, eventlog.DefaultStream))
	_, err = creates.NextMsg(time.Minute)
	require.NoError(t, err, "the projector's consumer never tried to recreate itself after the stream was deleted")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "shutdown is not an error")
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its context ending (stream deleted under it)")
	}
}
