package projector

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
)

// Errors that stop a Projector.
var (
	// ErrGap: the stream no longer holds the event after the applied
	// revision, so the index cannot be brought up to date by replay.
	ErrGap = errors.New("projector: stream does not hold the next event")
	// ErrUnknownEvent: the stream holds an event type this binary does not
	// know (written by a newer version); upgrade the binary.
	ErrUnknownEvent = errors.New("projector: unknown event type")
)

// Index is where events are applied. *index.Store satisfies it.
type Index interface {
	Applied() uint64
	Apply(evs []events.Event) error
}

// Config configures a Projector.
type Config struct {
	// Stream is the event stream name. Required.
	Stream string
	// SubjectPrefix of event subjects; default events.DefaultSubjectPrefix.
	SubjectPrefix string
	// BatchSize is the most events applied in one Pebble commit; default 1000.
	BatchSize int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Progress, when set, is called after each applied batch during
	// catch-up with the applied revision and the head revision seen at start.
	Progress func(applied, head uint64)
}

// Projector keeps an Index up to date with the stream.
type Projector struct {
	cfg   Config
	js    jetstream.JetStream
	index Index
	reg   *events.Registry

	head   atomic.Uint64 // stream head seen at start
	ready  atomic.Bool
	lastAt atomic.Int64 // unix nanos of the last applied batch
}

// New returns a projector applying stream cfg.Stream to idx.
func New(cfg Config, js jetstream.JetStream, idx Index) *Projector {
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = events.DefaultSubjectPrefix
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Projector{cfg: cfg, js: js, index: idx, reg: events.NewRegistry()}
}

// Ready reports whether the index has caught up with the stream head seen
// when the projector started.
func (p *Projector) Ready() bool { return p.ready.Load() }

// Head returns the stream head revision seen at start.
func (p *Projector) Head() uint64 { return p.head.Load() }

// Run applies events until ctx ends (returning nil) or the projector cannot
// go on (ErrGap, ErrUnknownEvent, an index failure). Transient NATS errors
// are retried with backoff.
func (p *Projector) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := p.run(ctx)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // shutdown is not an error
		}
		if errors.Is(err, ErrGap) || errors.Is(err, ErrUnknownEvent) || errors.Is(err, errIndex) {
			p.ready.Store(false)
			return err
		}
		p.cfg.Logger.Warn("projector: consumer stopped; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

var errIndex = errors.New("projector: index")

func (p *Projector) run(ctx context.Context) error {
	stream, err := p.js.Stream(ctx, p.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: stream %s: %w", p.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: stream info: %w", err)
	}
	applied := p.index.Applied()
	if !p.ready.Load() {
		p.head.Store(info.State.LastSeq)
	}
	if applied >= info.State.LastSeq {
		p.ready.Store(true)
	}
	if info.State.Msgs > 0 && info.State.FirstSeq > applied+1 {
		return fmt.Errorf("%w: applied revision %d, stream starts at %d; rebuild the index from a snapshot",
			ErrGap, applied, info.State.FirstSeq)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   applied + 1,
	})
	if err != nil {
		return fmt.Errorf("projector: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * p.cfg.BatchSize))
	if err != nil {
		return fmt.Errorf("projector: messages: %w", err)
	}
	defer it.Stop()

	// Decode and apply in a pipeline: one goroutine reads and decodes the
	// next batch while this one applies the last (a replay on two cores
	// does both at once).
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 2)
	// Applied batches go back to the reader to be filled again (a batch of
	// 1000 events is ~300 KB: allocating each anew made work for the GC).
	free := make(chan []events.Event, 3)
	go p.read(rctx, it, stream, applied+1, chunks, free)
	for c := range chunks {
		if len(c.events) > 0 {
			if err := p.index.Apply(c.events); err != nil {
				return fmt.Errorf("%w: %w", errIndex, err)
			}
			clear(c.events)
			select {
			case free <- c.events[:0]:
			default:
			}
			p.lastAt.Store(time.Now().UnixNano())
			if !p.ready.Load() {
				if p.cfg.Progress != nil {
					p.cfg.Progress(c.last, p.head.Load())
				}
				if c.last >= p.head.Load() {
					p.ready.Store(true)
				}
			}
		}
		if c.err != nil {
			return c.err
		}
	}
	return ctx.Err()
}

// chunk is a decoded batch, or the error that ended reading (after the
// events before it).
type chunk struct {
	events []events.Event
	last   uint64
	err    error
}

// read decodes messages into batches of up to BatchSize, cut when the
// consumer has nothing more pending, and sends them on out, which it
// closes when it stops (with an error chunk, or when ctx ends).
func (p *Projector) read(ctx context.Context, it jetstream.MessagesContext, stream jetstream.Stream, expect uint64,
	out chan<- chunk, free <-chan []events.Event,
) {
	defer close(out)
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	first := true
	newBatch := func() []events.Event {
		select {
		case b := <-free:
			return b
		default:
			return make([]events.Event, 0, p.cfg.BatchSize)
		}
	}
	batch := newBatch()
	next := jetstream.NextContext(ctx)
	for {
		msg, err := it.Next(next)
		if err != nil {
			send(chunk{events: batch, last: expect - 1, err: fmt.Errorf("projector: next: %w", err)})
			return
		}
		meta, err := msg.Metadata()
		if err != nil {
			send(chunk{events: batch, last: expect - 1, err: fmt.Errorf("projector: metadata: %w", err)})
			return
		}
		seq := meta.Sequence.Stream
		if seq < expect {
			continue // already applied (redelivery after a consumer reset)
		}
		if first && seq > expect {
			// Only the very first delivery can reveal a gap: the stream
			// denies deletes, so later sequences are contiguous.
			if info, ierr := stream.Info(ctx); ierr == nil && info.State.FirstSeq > expect {
				send(chunk{err: fmt.Errorf("%w: wanted revision %d, stream starts at %d; rebuild the index from a snapshot",
					ErrGap, expect, info.State.FirstSeq)})
				return
			}
		}
		first = false
		ev, err := p.decode(msg, seq)
		if err != nil {
			// Apply what came before the event this binary cannot read.
			send(chunk{events: batch, last: expect - 1, err: err})
			return
		}
		batch = append(batch, ev)
		expect = seq + 1
		if len(batch) >= p.cfg.BatchSize || meta.NumPending == 0 {
			if !send(chunk{events: batch, last: seq}) {
				return
			}
			batch = newBatch()
		}
	}
}

func (p *Projector) decode(msg jetstream.Msg, seq uint64) (events.Event, error) {
	ev, err := p.reg.Decode(msg.Data())
	switch {
	case errors.Is(err, events.ErrUnknownType):
		return events.Event{}, fmt.Errorf("%w at revision %d: %w", ErrUnknownEvent, seq, err)
	case err != nil:
		// No version of Grantlog can read it: record it as applied (so the
		// index moves on) but change nothing.
		p.cfg.Logger.Error("projector: skipping undecodable event", "revision", seq, "subject", msg.Subject(), "err", err)
		ev = events.Event{Envelope: events.Envelope{Namespace: namespaceOf(p.cfg.SubjectPrefix, msg.Subject())}}
	}
	ev.Revision = seq
	ev.Hash = sha256.Sum256(msg.Data())
	return ev, nil
}

func namespaceOf(prefix, subject string) string {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns
}
