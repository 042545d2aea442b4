package eventlog

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bucketServer is an embedded JetStream server on a temporary directory
// and a connection to it.
func bucketServer(t *testing.T) jetstream.JetStream {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(10*time.Second))
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// TestBucketReadsChunksInBatches: an object of many chunks, written while
// another object's chunks interleave with its own, reads back whole and
// in order through batched gets, and a batch of a full window comes back
// whole in one request.
func TestBucketReadsChunksInBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := bucketServer(t)
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "B"})
	require.NoError(t, err)

	// Chunks of 1 KiB: 3.5 windows of chunks, and a few bytes over.
	rng := rand.New(rand.NewPCG(1, 2))
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	want := map[string][]byte{"a": body(chunksPerGet*1024*7/2 + 100), "b": body(chunksPerGet * 1024 * 2)}
	var wg sync.WaitGroup
	for name, data := range want {
		wg.Go(func() {
			_, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: 1024}},
				bytes.NewReader(data))
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	b, err := openBucket(ctx, js, "B")
	require.NoError(t, err)
	objs, err := b.objects(ctx)
	require.NoError(t, err)
	require.Len(t, objs, 2)
	for _, oi := range objs {
		var buf bytes.Buffer
		require.NoError(t, b.read(ctx, oi, &buf), oi.Name)
		assert.Equal(t, want[oi.Name], buf.Bytes(), oi.Name)

		var n int
		got, whole, err := b.readBatch(ctx, b.chunkSubject(oi.NUID), 1, chunksPerGet, func([]byte, uint64) error { n++; return nil })
		require.NoError(t, err)
		assert.True(t, whole, "a full window comes back in one batch")
		assert.Equal(t, chunksPerGet, got)
		assert.Equal(t, chunksPerGet, n)
	}

	// A chunk gone: the read fails, it does not return short.
	a := objs[0]
	if a.Name != "a" {
		a = objs[1]
	}
	st, err := js.Stream(ctx, "OBJ_B")
	require.NoError(t, err)
	m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(b.chunkSubject(a.NUID)))
	require.NoError(t, err)
	m, err = st.GetMsg(ctx, m.Sequence+100, jetstream.WithGetMsgSubject(b.chunkSubject(a.NUID)))
	require.NoError(t, err)
	require.NoError(t, st.DeleteMsg(ctx, m.Sequence))
	require.Error(t, b.read(ctx, a, &bytes.Buffer{}), "a missing chunk")
}
