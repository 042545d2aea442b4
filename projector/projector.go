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

	batch := make([]events.Event, 0, p.cfg.BatchSize)
	expect := applied + 1
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("projector: next: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("projector: metadata: %w", err)
		}
		seq := meta.Sequence.Stream
		if seq < expect {
			continue // already applied (redelivery after a consumer reset)
		}
		if seq > expect && len(batch) == 0 && expect == p.index.Applied()+1 {
			// Only the very first delivery can reveal a gap: the stream
			// denies deletes, so later sequences are contiguous.
			if first, ierr := stream.Info(ctx); ierr == nil && first.State.FirstSeq > expect {
				return fmt.Errorf("%w: wanted revision %d, stream starts at %d; rebuild the index from a snapshot",
					ErrGap, expect, first.State.FirstSeq)
			}
		}
		ev, err := p.decode(msg, seq)
		if err != nil {
			// Apply what came before the event this binary cannot read.
			if aerr := p.index.Apply(batch); aerr != nil {
				return fmt.Errorf("%w: %w", errIndex, aerr)
			}
			return err
		}
		batch = append(batch, ev)
		expect = seq + 1
		if len(batch) >= p.cfg.BatchSize || meta.NumPending == 0 {
			if err := p.index.Apply(batch); err != nil {
				return fmt.Errorf("%w: %w", errIndex, err)
			}
			p.lastAt.Store(time.Now().UnixNano())
			batch = batch[:0]
			if !p.ready.Load() {
				if p.cfg.Progress != nil {
					p.cfg.Progress(seq, p.head.Load())
				}
				if seq >= p.head.Load() {
					p.ready.Store(true)
				}
			}
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
