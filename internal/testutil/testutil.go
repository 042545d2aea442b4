package testutil

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/projector"
	"github.com/grantlog/grantlog/query"
)

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Log is an embedded NATS server with the event stream.
type Log struct {
	Embedded *eventlog.Embedded
	// JS reaches the event stream with full permissions (the store
	// account's in-process connection).
	JS     jetstream.JetStream
	Stream jetstream.Stream
	// KeysJS is the command account's (the log signing key's bucket); nil
	// means JS.
	KeysJS jetstream.JetStream
}

// StartLog starts an embedded server (fsync on, no TCP listener) storing in
// dir, and ensures the event stream. It stops at test cleanup.
func StartLog(t testing.TB, dir string) *Log {
	t.Helper()
	return StartLogWith(t, dir, true)
}

// StartLogWith is StartLog with fsync on every write switched by syncAlways
// (benchmarks that only need a stream to read may switch it off).
func StartLogWith(t testing.TB, dir string, syncAlways bool) *Log {
	t.Helper()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: dir, NoListen: true, SyncAlways: syncAlways})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	js, err := jetstream.New(e.StoreConn)
	require.NoError(t, err)
	keys, err := jetstream.New(e.Conn)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := eventlog.EnsureStream(ctx, js, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(t, err)
	return &Log{Embedded: e, JS: js, Stream: s, KeysJS: keys}
}

// Node is one Grantlog node on a Log: its own index, projector, command
// service and query engine.
type Node struct {
	Store    *index.Store
	Proj     *projector.Projector
	Commands *command.Service
	Query    *query.Engine

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// StartNode opens an index in dir and runs a projector on it until Stop or
// test cleanup.
// Its command service signs with the log signing key of the Log's key
// bucket (logsig.DefaultBucket) when there is one, as a command node of
// the deployment would; it announces nothing.
func StartNode(t testing.TB, l *Log, dir string) *Node {
	t.Helper()
	return StartNodeWith(t, l, dir, nil)
}

// StartNodeWith is StartNode with the command service's configuration
// changed by tune (e.g. its group commit settings).
func StartNodeWith(t testing.TB, l *Log, dir string, tune func(*command.Config)) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys := l.KeysJS
	if keys == nil {
		keys = l.JS
	}
	key, err := logsig.LoadKey(ctx, keys, "")
	require.NoError(t, err)
	return startNode(t, l, dir, key, tune)
}

func startNode(t testing.TB, l *Log, dir string, key *logsig.Key, tune func(*command.Config)) *Node {
	t.Helper()
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index"), Logger: Quiet, CacheSize: 8 << 20, MemTableSize: 8 << 20})
	require.NoError(t, err)
	n := &Node{Store: st, done: make(chan error, 1)}
	n.Proj = projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: Quiet}, l.JS, st)
	az := auth.NewAuthorizer(query.New(query.Config{}, st, nil))
	n.Query = query.New(query.Config{MaxWait: 2 * time.Second}, st, az)
	cfg := command.Config{ApplyWait: 5 * time.Second, Signer: key}
	if tune != nil {
		tune(&cfg)
	}
	n.Commands = command.New(cfg, l.JS, l.Stream, st, az)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.Proj.Run(ctx) }()
	t.Cleanup(func() { require.NoError(t, n.Stop()) })
	return n
}

// Stop stops the projector and closes the index. It is idempotent.
func (n *Node) Stop() error {
	var err error
	n.once.Do(func() {
		n.cancel()
		err = <-n.done
		if cerr := n.Store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// Publish appends evs to the stream as a command node would (without
// concurrency expectations), asynchronously, and waits for every ack.
func (l *Log) Publish(t testing.TB, evs []events.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < len(evs); i += 1000 {
		var futures []jetstream.PubAckFuture
		for _, ev := range evs[i:min(i+1000, len(evs))] {
			data, err := events.Encode(ev.Envelope, ev.Data)
			require.NoError(t, err)
			subj := events.Subject(events.DefaultSubjectPrefix, ev.Namespace, "x")
			f, err := l.JS.PublishAsync(subj, data)
			require.NoError(t, err)
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				require.NoError(t, err)
			case <-ctx.Done():
				require.NoError(t, ctx.Err())
			}
		}
	}
}

// Root is command metadata of the bootstrap Super Admin.
func Root() command.Meta { return command.Meta{Caller: auth.Bootstrap()} }

// RootRead is read options of the bootstrap Super Admin.
func RootRead() query.ReadOptions { return query.ReadOptions{Caller: auth.Bootstrap()} }

// Dump returns the index's namespace-keyed contents as key → value.
func Dump(t testing.TB, st *index.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, st.Export("", func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	}))
	return out
}

// WaitApplied waits up to 10s for st to apply rev.
func WaitApplied(t testing.TB, st *index.Store, rev uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, st.WaitApplied(ctx, rev), "index stuck at revision %d, want %d", st.Applied(), rev)
}
