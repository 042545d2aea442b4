package eventlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// TestReaderMirror: the readers' mirror, in its own account, follows the
// event stream; a follower, whose account has no JetStream, reads it
// through the imported read-only subjects; and it cannot delete it.
func TestReaderMirror(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, js, rjs := startStreamAndMirrorAccount(ctx, t)
	_, err := js.Publish(ctx, "grantlog.ev.foo.x.1", []byte(`{}`))
	require.NoError(t, err)
	m, err := eventlog.EnsureReaderMirror(ctx, rjs, 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		i, err := m.Info(ctx)
		return err == nil && i.State.LastSeq == 1
	}, 10*time.Second, 50*time.Millisecond)
	fc, err := eventlog.Connect(eventlog.ConnectConfig{URL: e.Server.ClientURL(), User: "follower", Password: e.FollowerCreds.Password})
	require.NoError(t, err)
	defer fc.Close()
	fjs, _ := jetstream.NewWithAPIPrefix(fc, eventlog.MirrorAPIPrefix)
	st, err := fjs.Stream(ctx, eventlog.ReaderStream)
	require.NoError(t, err)
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	require.NoError(t, err)
	require.Equal(t, "grantlog.ev.foo.x.1", msg.Subject())
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	require.Error(t, fjs.DeleteStream(dctx, eventlog.ReaderStream))
	_, err = m.Info(ctx)
	require.NoError(t, err, "the mirror is still there")
}

// TestReaderMirrorPersistsAsync: a one-replica readers' mirror is made in
// JetStream's async persist mode (no fsync per copied message: the event
// stream is the durable record), and still mirrors every event.
func TestReaderMirrorPersistsAsync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.Equal(t, jetstream.AsyncPersistMode, eventlog.ReaderMirrorConfig(1).PersistMode)
	require.Equal(t, jetstream.DefaultPersistMode, eventlog.ReaderMirrorConfig(3).PersistMode, "R3 streams cannot persist asynchronously")

	_, js, rjs := startStreamAndMirrorAccount(ctx, t)
	m, err := eventlog.EnsureReaderMirror(ctx, rjs, 1)
	require.NoError(t, err)
	info, err := m.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, jetstream.AsyncPersistMode, info.Config.PersistMode, "as the server has it")
	for range 3 {
		_, err = js.Publish(ctx, "grantlog.ev.foo.x._", []byte(`{}`))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		i, err := m.Info(ctx)
		return err == nil && i.State.LastSeq == 3
	}, 10*time.Second, 50*time.Millisecond)
}

// startStreamAndMirrorAccount starts an embedded server with the event
// stream, and returns it with JetStream in the store account (js) and in
// the mirror account (rjs).
func startStreamAndMirrorAccount(ctx context.Context, t *testing.T) (*eventlog.Embedded, jetstream.JetStream, jetstream.JetStream) {
	t.Helper()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	js, _ := jetstream.New(e.StoreConn)
	_, err = eventlog.EnsureStream(ctx, js, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)
	rjs, _ := jetstream.New(e.MirrorConn)
	return e, js, rjs
}
