package command

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// testLog is an embedded server (fsync on) storing in dir, with the event
// stream; restartable on the same dir.
type testLog struct {
	t      testing.TB
	dir    string
	e      *eventlog.Embedded
	js     jetstream.JetStream
	stream jetstream.Stream
}

func startTestLog(t testing.TB, dir string) *testLog {
	t.Helper()
	l := &testLog{t: t, dir: dir}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *testLog) start() {
	l.t.Helper()
	e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: l.dir, NoListen: true, SyncAlways: true})
	require.NoError(l.t, err)
	js, err := jetstream.New(e.StoreConn)
	require.NoError(l.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := eventlog.EnsureStream(ctx, js, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 1))
	require.NoError(l.t, err)
	l.e, l.js, l.stream = e, js, s
}

func (l *testLog) stop() {
	if l.e != nil {
		l.e.Close()
		l.e = nil
	}
}

// event is the message of one command's event in namespace ns, with
// message id id, expecting the namespace's last revision to be last.
func event(ns, id string, last uint64) *nats.Msg {
	m := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, ns, "user"))
	m.Data = []byte(fmt.Sprintf(`{"ns":%q,"id":%q}`, ns, id))
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
	m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.NamespaceFilter(events.DefaultSubjectPrefix, ns))
	return m
}

func pending(msgs ...*nats.Msg) []*pendingAppend {
	g := make([]*pendingAppend, len(msgs))
	for i, m := range msgs {
		g[i] = &pendingAppend{msg: m, done: make(chan appendResult, 1)}
	}
	return g
}

// lastSeq is the stream's last sequence.
func (l *testLog) lastSeq() uint64 {
	l.t.Helper()
	info, err := l.stream.Info(context.Background())
	require.NoError(l.t, err)
	return info.State.LastSeq
}

// msgID is the message id stored at seq.
func (l *testLog) msgID(seq uint64) string {
	l.t.Helper()
	m, err := l.stream.GetMsg(context.Background(), seq)
	require.NoError(l.t, err)
	return m.Header.Get(jetstream.MsgIDHeader)
}

// TestCommitterBatch: a group appended as one atomic batch answers each
// member with the revision that holds its own event.
func TestCommitterBatch(t *testing.T) {
	l := startTestLog(t, t.TempDir())
	c := newCommitter(l.js, 2)
	g := pending(event("a", "ida", 0), event("b", "idb", 0), event("c", "idc", 0), event("d", "idd", 0))
	c.appendGroup(context.Background(), g)
	for _, p := range g {
		r := <-p.done
		require.NoError(t, r.err)
		assert.Equal(t, p.msg.Header.Get(jetstream.MsgIDHeader), l.msgID(r.ack.Sequence))
	}
	assert.Equal(t, int64(1), c.stats.batches.Load())
	assert.Equal(t, int64(4), c.stats.batched.Load())
	assert.Equal(t, uint64(4), l.lastSeq())
}

// TestCommitterMixedBatch: one member's expectation fails (its namespace
// moved on); the stream refuses the batch whole; the others are still
// stored, each answered with its own revision, and the conflicting one
// gets the error a single append gets ("wrong last sequence", which
// Service.execute answers by deciding again).
func TestCommitterMixedBatch(t *testing.T) {
	l := startTestLog(t, t.TempDir())
	ctx := context.Background()
	_, err := l.js.PublishMsg(ctx, event("b", "first", 0))
	require.NoError(t, err)

	c := newCommitter(l.js, 2)
	g := pending(event("a", "ida", 0), event("b", "idb", 0), event("c", "idc", 0))
	c.appendGroup(ctx, g)
	ra, rb, rc := <-g[0].done, <-g[1].done, <-g[2].done
	require.NoError(t, ra.err)
	require.NoError(t, rc.err)
	require.Error(t, rb.err)
	assert.True(t, isWrongLastSequence(rb.err), "got %v", rb.err)
	assert.Equal(t, "ida", l.msgID(ra.ack.Sequence))
	assert.Equal(t, "idc", l.msgID(rc.ack.Sequence))
	assert.Equal(t, int64(1), c.stats.split.Load())
	assert.Equal(t, uint64(3), l.lastSeq(), "the first event, a's and c's: nothing of b's")

	// The stored message of the refused batch carries no batch headers.
	m, err := l.stream.GetMsg(ctx, ra.ack.Sequence)
	require.NoError(t, err)
	assert.Empty(t, m.Header.Get(jetstreamext.BatchIDHeader))
}

// TestCommitterDuplicateInBatch: a member whose message id the stream
// already holds (a retry) makes the batch refused whole; appended one by
// one, the retry is answered as a single append's retry is (a duplicate
// ack, or "wrong last sequence" on a one-replica stream, which
// Service.execute resolves by reading the namespace's head), and
// nothing is stored twice.
func TestCommitterDuplicateInBatch(t *testing.T) {
	l := startTestLog(t, t.TempDir())
	ctx := context.Background()
	first, err := l.js.PublishMsg(ctx, event("d", "retried", 0))
	require.NoError(t, err)

	c := newCommitter(l.js, 2)
	for _, last := range []uint64{0, first.Sequence} { // a stale expectation, and a current one
		e := fmt.Sprintf("e%d", last)
		g := pending(event("d", "retried", last), event(e, "id"+e, 0))
		c.appendGroup(ctx, g)
		rd, re := <-g[0].done, <-g[1].done
		require.NoError(t, re.err)
		assert.Equal(t, "id"+e, l.msgID(re.ack.Sequence))
		if rd.err != nil {
			assert.True(t, isWrongLastSequence(rd.err), "got %v", rd.err)
		} else {
			assert.True(t, rd.ack.Duplicate)
			assert.Equal(t, first.Sequence, rd.ack.Sequence)
		}
	}
	assert.Equal(t, int64(2), c.stats.split.Load())
	assert.Equal(t, uint64(3), l.lastSeq(), "the retried event once, and the two others")
}

// TestCommitterConcurrent: many commands append at once through one
// committer: each is answered exactly once, with the revision holding its
// own event, and groups formed.
func TestCommitterConcurrent(t *testing.T) {
	l := startTestLog(t, t.TempDir())
	c := newCommitter(l.js, 2)
	const n = 64
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack, err := c.append(context.Background(), event(fmt.Sprintf("ns%d", i), fmt.Sprintf("id%d", i), 0))
			if assert.NoError(t, err) {
				seqs[i] = ack.Sequence
			}
		}()
	}
	wg.Wait()
	for i, seq := range seqs {
		assert.Equal(t, fmt.Sprintf("id%d", i), l.msgID(seq))
	}
	assert.Equal(t, uint64(n), l.lastSeq())
	assert.Equal(t, int64(n), c.stats.single.Load()+c.stats.batched.Load())
	t.Logf("single %d, batches %d (%d events)", c.stats.single.Load(), c.stats.batches.Load(), c.stats.batched.Load())
	assert.False(t, c.mu.leading, "nobody leads once every command is answered")
	assert.Empty(t, c.mu.queue)
}

// TestCommitterCrashMidBatch: the server stops while a batch's events
// have reached it but its commit has not (the command node died in the
// middle): after a restart the stream holds none of them, and their
// namespaces' expectations are as before. A batch whose commit was
// acknowledged survives the restart whole.
func TestCommitterCrashMidBatch(t *testing.T) {
	l := startTestLog(t, t.TempDir())
	ctx := context.Background()

	committed := pending(event("k1", "k1", 0), event("k2", "k2", 0), event("k3", "k3", 0))
	newCommitter(l.js, 2).appendGroup(ctx, committed)
	for _, p := range committed {
		require.NoError(t, (<-p.done).err)
	}
	require.Equal(t, uint64(3), l.lastSeq())

	// A batch cut short: its first events sent, no commit.
	bp, err := jetstreamext.NewBatchPublisher(l.js)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, bp.AddMsg(event(fmt.Sprintf("x%d", i), fmt.Sprintf("x%d", i), 0)))
	}
	require.NoError(t, l.e.StoreConn.Flush())
	l.stop()
	l.start()

	assert.Equal(t, uint64(3), l.lastSeq(), "nothing of the uncommitted batch is stored")
	for i := range 3 {
		assert.Equal(t, fmt.Sprintf("k%d", i+1), l.msgID(uint64(i+1)), "the committed batch survived whole")
	}
	// The cut namespaces are still empty: their first events, decided
	// again, are stored.
	c := newCommitter(l.js, 2)
	again := pending(event("x0", "x0-again", 0), event("x1", "x1-again", 0), event("k1", "k1-next", 1))
	c.appendGroup(ctx, again)
	for _, p := range again {
		r := <-p.done
		require.NoError(t, r.err)
		assert.Equal(t, p.msg.Header.Get(jetstream.MsgIDHeader), l.msgID(r.ack.Sequence))
	}
	assert.Equal(t, int64(1), c.stats.batches.Load())
}
