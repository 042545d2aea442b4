package command

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// MaxGroup bounds the commands one group commit appends together: the
// events of one JetStream atomic batch (at most 1,000 messages).
const MaxGroup = 256

// groupTimeout bounds one append of a group when the JetStream context
// sets no default timeout: the commands of a group share it, so it does
// not follow any one caller's context.
const groupTimeout = 10 * time.Second

// committer appends the events of commands decided at the same time
// as one JetStream atomic batch (group commit): with fsync on every write
// (the file store's SyncAlways), the stream fsyncs a batch once, not each
// event, so commands that arrive together share one fsync.
//
// An atomic batch has a fixed cost of its own (on a one-replica file
// stream the server stages it in a store of its own: a directory and
// files written with O_SYNC, removed after the commit), so it pays only
// for groups of at least minBatch events. While fewer than minBatch-1
// appends are in flight, a command appends its event on its own,
// concurrently with the others, as without group commit. Beyond that, commands queue: there is
// no committer goroutine; the first command queued leads: it appends
// every event queued (its own first among them) as one atomic batch, or
// one by one, pipelined, if they are fewer than minBatch, answers each,
// and hands the lead to the first command queued meanwhile, if any. The
// queue is used until it is empty again. A command thus never waits for
// more than the group in flight and its own. A batch the stream refuses
// for its size or anything else is appended one by one too, so no
// limit of batches ever fails a command that would have been stored
// alone.
//
// The events of a group are not a transaction: each keeps its own
// optimistic-concurrency expectation (its namespace's last revision), its
// own message id and no events.Tx mark, so readers apply them as the
// single events they are. A namespace appears at most once in a group
// (Service.execute holds the namespace's lock until its event is
// answered). When the batch is refused as a whole (one member's
// expectation failed, one member's message id is a duplicate of a stored
// event, ...), every member is appended again on its own, as a single
// command is: each gets its own answer, so a conflict of one never fails
// the others, and the one that lost its race is decided again
// (Service.lostRace) exactly as without group commit.
//
// Safe for concurrent use.
type committer struct {
	js jetstream.JetStream

	mu struct {
		sync.Mutex
		// queue holds the events waiting for the next group; while an
		// append is in flight (leading), its first member leads next.
		queue   []*pendingAppend
		leading bool
		// direct counts events being appended on their own, outside
		// the queue.
		direct int
	}
	// stats count appends: single events, groups pipelined, groups
	// appended as one batch and their events, and batches refused whole
	// (then appended one by one).
	stats struct {
		single, pipelined, batches, batched, split atomic.Int64
	}
	// minBatch is the smallest group appended as one atomic batch;
	// smaller groups are appended one by one, pipelined.
	minBatch int
}

// pendingAppend is one command's event waiting in a group.
type pendingAppend struct {
	msg  *nats.Msg
	done chan appendResult // buffered (1): the leader never blocks
}

type appendResult struct {
	ack  *jetstream.PubAck
	err  error
	lead bool // the receiver leads the next group (its event is first)
}

func newCommitter(js jetstream.JetStream, minBatch int) *committer {
	return &committer{js: js, minBatch: max(minBatch, 2)}
}

// append appends msg (its subject, data and headers complete: message id
// and expected last subject sequence included) together with whatever
// other commands append at the same time, and returns msg's own
// acknowledgement, or the error a single publish of msg would have
// returned.
//
// An append in a group is bounded by the JetStream context's default
// timeout, not by ctx: the commands of a group share it. A command whose
// ctx ends while it waits is still answered once its group is stored.
func (c *committer) append(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	c.mu.Lock()
	if !c.mu.leading && c.mu.direct < c.minBatch-1 {
		// Too few appends in flight for a batch to pay: append alone,
		// now, as without group commit.
		c.mu.direct++
		c.mu.Unlock()
		c.stats.single.Add(1)
		ack, err := c.js.PublishMsg(ctx, msg)
		c.mu.Lock()
		c.mu.direct--
		c.mu.Unlock()
		return ack, err
	}
	p := &pendingAppend{msg: msg, done: make(chan appendResult, 1)}
	c.mu.queue = append(c.mu.queue, p)
	if c.mu.leading {
		c.mu.Unlock()
		r := <-p.done
		if !r.lead {
			return r.ack, r.err
		}
		c.mu.Lock()
	}
	// Lead. p is first in the queue: either the queue was empty (nobody
	// leads only then), or the lead was handed to the first one queued.
	c.mu.leading = true
	q := c.mu.queue
	n := min(len(q), MaxGroup)
	group := slices.Clone(q[:n])
	rest := copy(q, q[n:])
	clear(q[rest:])
	c.mu.queue = q[:rest]
	c.mu.Unlock()

	c.appendGroup(context.WithoutCancel(ctx), group)
	r := <-p.done

	c.mu.Lock()
	if len(c.mu.queue) == 0 {
		c.mu.leading = false
		c.mu.Unlock()
		return r.ack, r.err
	}
	next := c.mu.queue[0]
	c.mu.Unlock()
	next.done <- appendResult{lead: true}
	return r.ack, r.err
}

// appendGroup appends the events of group and answers each member.
func (c *committer) appendGroup(ctx context.Context, group []*pendingAppend) {
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.js.Options().DefaultTimeout
		if timeout <= 0 {
			timeout = groupTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	switch {
	case len(group) == 1:
		c.stats.single.Add(1)
		ack, err := c.js.PublishMsg(ctx, group[0].msg)
		group[0].done <- appendResult{ack: ack, err: err}
		return
	case len(group) < c.minBatch:
		c.stats.pipelined.Add(1)
		c.appendEach(ctx, group)
		return
	}
	msgs := make([]*nats.Msg, len(group))
	for i, p := range group {
		msgs[i] = p.msg
	}
	back, err := jetstreamext.PublishMsgBatch(ctx, c.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	if err == nil {
		c.stats.batches.Add(1)
		c.stats.batched.Add(int64(len(group)))
		// An atomic batch is stored at consecutive sequences, in order.
		first := back.Sequence - uint64(len(group)) + 1
		for i, p := range group {
			p.done <- appendResult{ack: &jetstream.PubAck{Stream: back.Stream, Sequence: first + uint64(i), Domain: back.Domain}}
		}
		return
	}
	// Refused (or unanswered) as a whole: append each on its own, so
	// that each gets its own answer. A member that was stored after all
	// (a lost answer) is found by its message id, as a retry is.
	c.stats.split.Add(1)
	for _, p := range group {
		clearBatchHeaders(p.msg)
	}
	c.appendEach(ctx, group)
}

// appendEach appends the events of group one by one, pipelined (each
// its own publish, fsync and answer, without waiting for the one before),
// and answers each member with its own acknowledgement or error.
func (c *committer) appendEach(ctx context.Context, group []*pendingAppend) {
	futures := make([]jetstream.PubAckFuture, len(group))
	for i, p := range group {
		f, err := c.js.PublishMsgAsync(p.msg)
		if err != nil {
			p.done <- appendResult{err: err}
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		var r appendResult
		select {
		case ack := <-f.Ok():
			r.ack = ack
		case err := <-f.Err():
			r.err = err
		case <-ctx.Done():
			r.err = fmt.Errorf("command: no acknowledgement: %w", ctx.Err())
		}
		group[i].done <- r
	}
}

// clearBatchHeaders undoes what PublishMsgBatch set on msg.
func clearBatchHeaders(msg *nats.Msg) {
	msg.Header.Del(jetstreamext.BatchIDHeader)
	msg.Header.Del(jetstreamext.BatchSeqHeader)
	msg.Header.Del(jetstreamext.BatchCommitHeader)
	msg.Reply = ""
}

// GroupCommitStats counts how a Service appended its commands' events
// (group commit, see Config.GroupBatchMin).
type GroupCommitStats struct {
	// Single counts events appended alone: no other command's event was
	// waiting.
	Single int64
	// Pipelined counts groups smaller than GroupBatchMin, appended one by
	// one without waiting for each answer.
	Pipelined int64
	// Batches counts groups appended as one atomic batch, and Batched
	// the events in them.
	Batches, Batched int64
	// Split counts batches the stream refused as a whole (one member's
	// expectation or message id), whose members were then appended one
	// by one.
	Split int64
}

// GroupCommitStats returns the Service's group commit counts since New
// (zero when group commit is off).
func (s *Service) GroupCommitStats() GroupCommitStats {
	c := s.group
	if c == nil {
		return GroupCommitStats{}
	}
	return GroupCommitStats{
		Single: c.stats.single.Load(), Pipelined: c.stats.pipelined.Load(),
		Batches: c.stats.batches.Load(), Batched: c.stats.batched.Load(), Split: c.stats.split.Load(),
	}
}
