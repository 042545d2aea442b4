package projector

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Errors that stop a Projector.
var (
	// ErrGap: the stream no longer holds the event after the applied
	// revision, so the index cannot be brought up to date by replay.
	ErrGap = errors.New("projector: stream does not hold the next event")
	// ErrUnknownEvent: the stream holds an authenticated event of a type
	// this binary does not know (written by a newer version); upgrade the
	// binary. Run does not return it: the projector halts before the event,
	// reports it (Halted), and retries every Config.HaltRetry.
	ErrUnknownEvent = errors.New("projector: unknown event type")
)

// Index is where events are applied. *index.Store satisfies it.
type Index interface {
	Applied() uint64
	// Apply applies events in order; an event whose Data is an
	// index.Refused changes nothing but the revisions (see index.Refused).
	Apply(evs []events.Event) error
	// SigningKeys returns the log signing keys announced by the events
	// applied so far.
	SigningKeys() (map[string]ed25519.PublicKey, error)
	// ChainHead returns the hash of the last event accepted in namespace
	// ns ("" for none), or index.ErrChainUnknown with the namespace's last
	// revision when the index did not record it.
	ChainHead(ns string) (hash string, rev uint64, err error)
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
	// HaltRetry is how often a projector halted at an event type it does
	// not know tries again; default 30s.
	HaltRetry time.Duration
	// Signed, when set, is the log signing key of this process's command
	// side: an event it signed here and reads back unchanged is not
	// verified again (logsig.Signed.Vouches), which takes ~50 µs off
	// each command's path to being applied.
	Signed OwnSignatures
}

// OwnSignatures vouches for events this process signed (logsig.Signed
// satisfies it): Vouches reports whether sig is this process's signature
// of exactly an event with subject and SHA-256 hash, by a key trusted
// (key id → public key) holds. It must never vouch for anything else.
type OwnSignatures interface {
	Vouches(trusted map[string]ed25519.PublicKey, subject string, hash [32]byte, sig string) bool
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
	// eventsApplied counts the events applied since New (metrics).
	eventsApplied atomic.Uint64

	halted  atomic.Pointer[Halt]
	refused struct {
		sync.Mutex
		count, last uint64
		reason      string
	}
}

// Halt says why a projector stopped applying: an authenticated event of a
// type this binary does not know.
type Halt struct {
	// Revision is the event's revision; the index stays before it.
	Revision uint64
	// Type is the unknown event type.
	Type string
	// Reason is a sentence for status pages and logs.
	Reason string
}

// Halted returns why the projector is halted, or nil while it applies.
func (p *Projector) Halted() *Halt { return p.halted.Load() }

// Refused returns how many messages of the stream the projector refused
// to apply since it was made (unsigned or badly signed after the log's
// first signing key, replayed or out of their namespace's order, unknown
// types on a stream with no signing key), and the revision and reason of
// the last one. Refused messages are logged at error level and skipped:
// the applied revision moves past them.
func (p *Projector) Refused() (count, lastRevision uint64, reason string) {
	p.refused.Lock()
	defer p.refused.Unlock()
	return p.refused.count, p.refused.last, p.refused.reason
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
	if cfg.HaltRetry <= 0 {
		cfg.HaltRetry = 30 * time.Second
	}
	return &Projector{cfg: cfg, js: js, index: idx, reg: events.NewRegistry()}
}

// Ready reports whether the index has caught up with the stream head seen
// when the projector started.
func (p *Projector) Ready() bool { return p.ready.Load() }

// Head returns the stream head revision seen at start.
func (p *Projector) Head() uint64 { return p.head.Load() }

// EventsApplied counts the events applied to the index since New (refused
// ones included: they are applied as refusals).
func (p *Projector) EventsApplied() uint64 { return p.eventsApplied.Load() }

// Run applies events until ctx ends (returning nil) or the projector cannot
// go on (ErrGap, an index failure). Transient NATS errors are retried with
// backoff. At an authenticated event of a type this binary does not know,
// it halts (Ready false, Halted says why) and tries again every
// Config.HaltRetry, without returning.
func (p *Projector) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := p.run(ctx, 0)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // shutdown is not an error
		}
		if h := (*haltError)(nil); errors.As(err, &h) {
			p.ready.Store(false)
			p.halted.Store(&h.halt)
			p.cfg.Logger.Error("projector: halted: "+h.halt.Reason, "revision", h.halt.Revision, "type", h.halt.Type,
				"retryIn", p.cfg.HaltRetry)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(p.cfg.HaltRetry):
			}
			continue
		}
		if errors.Is(err, ErrGap) || errors.Is(err, errIndex) {
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

// errReached ends a bounded run (ReplayTo): the reader read its bound.
var errReached = errors.New("projector: bound reached")

// ReplayTo applies the stream to the index up to revision upTo and returns:
// once it returns nil, the index holds every event up to upTo, except a
// transaction upTo is inside of (whose events after upTo are not applied
// either; the projector never applies part of one): the index is then at
// the revision before that transaction began. The stream must hold upTo
// (a bound beyond its head waits, until ctx ends). It authenticates events
// exactly as Run does, and is meant for an index of its own (a past view,
// see internal/history) that no Run feeds at the same time. It returns
// ErrGap when the stream no longer holds the event after the index's
// applied revision, and the error that stopped it otherwise (ctx's, an
// index failure, an unknown event type: ErrUnknownEvent).
func (p *Projector) ReplayTo(ctx context.Context, upTo uint64) error {
	if upTo == 0 || p.index.Applied() >= upTo {
		return nil
	}
	err := p.run(ctx, upTo)
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// StreamHead is the last revision a stream is known to hold: its last
// sequence, plus, for a mirror (a replica's or a region's), how far the
// mirror knows itself to be behind its origin, so that a node reading a
// lagging mirror is not ready at the mirror's head.
func StreamHead(info *jetstream.StreamInfo) uint64 {
	head := info.State.LastSeq
	if info.Mirror != nil {
		head += info.Mirror.Lag
	}
	return head
}

// run applies the stream until ctx ends or an error; with upTo > 0, only up
// to revision upTo (see ReplayTo), returning nil once read.
func (p *Projector) run(ctx context.Context, upTo uint64) error {
	stream, err := p.js.Stream(ctx, p.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: stream %s: %w", p.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: stream info: %w", err)
	}
	applied := p.index.Applied()
	head := StreamHead(info)
	if !p.ready.Load() {
		p.head.Store(head)
	}
	if applied >= head {
		p.ready.Store(true)
	}
	if info.State.Msgs > 0 && info.State.FirstSeq > applied+1 {
		return fmt.Errorf("%w: applied revision %d, stream starts at %d; rebuild the index from a snapshot",
			ErrGap, applied, info.State.FirstSeq)
	}
	if upTo > 0 && applied >= upTo {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   applied + 1,
	})
	if err != nil {
		return fmt.Errorf("projector: consumer: %w", err)
	}
	pull := 2 * p.cfg.BatchSize
	if upTo > 0 && upTo-applied < uint64(pull) {
		pull = int(upTo - applied) // a short replay fetches no more than it needs
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(pull, pullBytes(p.js.Conn())))
	if err != nil {
		return fmt.Errorf("projector: messages: %w", err)
	}
	defer it.Stop()
	// NextContext(ctx) alone does not end a Next that is resetting the
	// ordered consumer (it retries creating it, forever, when the stream
	// is gone): stopping the iterator does.
	stopOnDone := context.AfterFunc(ctx, it.Stop)
	defer stopOnDone()

	// Decode and apply in a pipeline: one goroutine reads and decodes the
	// next batch while this one applies the last (a replay on two cores
	// does both at once).
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, authWindow+1)
	// Applied batches go back to the reader to be filled again (a batch of
	// 1000 events is ~300 KB: allocating each anew made work for the GC).
	free := make(chan []events.Event, authWindow+2)
	auth, err := p.newAuth(stream)
	if err != nil {
		return fmt.Errorf("%w: %w", errIndex, err)
	}
	go p.read(rctx, it, stream, auth, applied+1, upTo, chunks, free)
	for c := range chunks {
		if len(c.events) > 0 {
			// Counted before the batch is applied: a reader that sees the
			// applied revision sees its refusals too.
			p.noteRefused(c.events)
			if err := p.index.Apply(c.events); err != nil {
				return fmt.Errorf("%w: %w", errIndex, err)
			}
			p.eventsApplied.Add(uint64(len(c.events)))
			if h := p.halted.Load(); h != nil && c.last >= h.Revision {
				p.halted.Store(nil)
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
			if errors.Is(c.err, errReached) {
				return nil
			}
			return c.err
		}
	}
	return ctx.Err()
}

// noteRefused logs and counts the refused events of an applied batch.
func (p *Projector) noteRefused(evs []events.Event) {
	for i := range evs {
		r, ok := evs[i].Data.(index.Refused)
		if !ok {
			continue
		}
		p.cfg.Logger.Error("projector: refused a message of the event stream", "revision", evs[i].Revision,
			"namespace", evs[i].Namespace, "type", evs[i].Type, "reason", r.Reason)
		p.refused.Lock()
		p.refused.count++
		p.refused.last, p.refused.reason = evs[i].Revision, r.Reason
		p.refused.Unlock()
	}
}

// authWindow is how many batches are read (and authenticated together)
// ahead of the applier while catching up.
const authWindow = 8

// chunk is a decoded batch, or the error that ended reading (after the
// events before it).
type chunk struct {
	events []events.Event
	last   uint64
	err    error
}

// read decodes messages into batches of up to BatchSize, cut when the
// consumer has nothing more pending (and after each signing key event),
// authenticates each batch (auth.admit), and sends them on out, which it
// closes when it stops (with an error chunk, or when ctx ends). With
// upTo > 0 it stops after revision upTo, sending what is complete then an
// errReached chunk.
func (p *Projector) read(ctx context.Context, it jetstream.MessagesContext, stream jetstream.Stream, auth *authenticator,
	expect, upTo uint64, out chan<- chunk, free <-chan []events.Event,
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
	// Events are authenticated in windows of up to authWindow batches
	// while catching up (one signature per namespace per window, see
	// authenticate), then sent in batches.
	window := make([]events.Event, 0, authWindow*p.cfg.BatchSize)
	var meta []msgMeta
	// flush authenticates the first n events of the window and sends what
	// may be applied, keeping the rest in the window; false when reading
	// must stop.
	flush := func(n int) bool {
		evs, halt := auth.admit(ctx, window[:n], meta[:n])
		if halt != nil {
			// Never apply part of a transaction: its events before the
			// halt wait with it.
			for len(evs) > 0 && evs[len(evs)-1].TxOpen() {
				evs = evs[:len(evs)-1]
			}
		}
		for len(evs) > 0 {
			b := append(newBatch(), evs[:txCut(evs, p.cfg.BatchSize)]...)
			evs = evs[len(b):]
			if !send(chunk{events: b, last: b[len(b)-1].Revision}) {
				return false
			}
		}
		rest := copy(window, window[n:])
		clear(window[rest:])
		window = window[:rest]
		meta = meta[:copy(meta, meta[n:])]
		if halt != nil {
			send(chunk{last: halt.halt.Revision - 1, err: halt})
			return false
		}
		return true
	}
	next := jetstream.NextContext(ctx)
	for {
		msg, err := it.Next(next)
		if err != nil {
			// What is complete is applied; an unfinished transaction
			// is read again when reading resumes.
			if n := complete(window); n > 0 && !flush(n) {
				return
			}
			send(chunk{last: expect - 1, err: fmt.Errorf("projector: next: %w", err)})
			return
		}
		mmeta, err := msg.Metadata()
		if err != nil {
			// What is complete is applied; an unfinished transaction
			// is read again when reading resumes.
			if n := complete(window); n > 0 && !flush(n) {
				return
			}
			send(chunk{last: expect - 1, err: fmt.Errorf("projector: metadata: %w", err)})
			return
		}
		seq := mmeta.Sequence.Stream
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
		ev, m := p.decode(msg, seq)
		window = append(window, ev)
		meta = append(meta, m)
		expect = seq + 1
		if upTo > 0 && seq >= upTo {
			// The bound: what is complete is applied, a transaction
			// still open at upTo is not.
			if n := complete(window); n > 0 && !flush(n) {
				return
			}
			send(chunk{last: seq, err: errReached})
			return
		}
		if len(window) < cap(window) && mmeta.NumPending > 0 && ev.Type != events.TypeLogSigningKeyAdded {
			continue
		}
		// A transaction's events are applied together: while its last has
		// not arrived (a mirror may not hold it yet), send what comes
		// before the transaction and keep the rest.
		if n := complete(window); n > 0 && !flush(n) {
			return
		}
	}
}

// complete is how many of window's events may be applied: all but a
// trailing transaction whose last event has not been read yet.
func complete(window []events.Event) int {
	n := len(window)
	if n == 0 || !window[n-1].TxOpen() {
		return n
	}
	id := window[n-1].Tx.ID
	for n > 0 && window[n-1].Tx != nil && window[n-1].Tx.ID == id {
		n--
	}
	return n
}

// txCut is where the next batch of evs ends: after at most size events,
// or after the last event of the transaction the size-th is in.
func txCut(evs []events.Event, size int) int {
	i := min(len(evs), size)
	for i < len(evs) && evs[i-1].TxOpen() {
		i++
	}
	return i
}

// decode reads one message. A message this binary cannot read is still
// returned (Data nil), with why in the metadata: admit decides.
func (p *Projector) decode(msg jetstream.Msg, seq uint64) (events.Event, msgMeta) {
	m := msgMeta{subject: msg.Subject()}
	if h := msg.Headers(); h != nil {
		m.sig = h.Get(logsig.Header)
	}
	ev, err := p.reg.Decode(msg.Data())
	switch {
	case errors.Is(err, events.ErrUnknownType):
		m.unknown = true
	case err != nil:
		m.malformed = err
		ev = events.Event{Envelope: events.Envelope{Namespace: namespaceOf(p.cfg.SubjectPrefix, m.subject)}}
	}
	ev.Revision = seq
	ev.Hash = sha256.Sum256(msg.Data())
	return ev, m
}

func namespaceOf(prefix, subject string) string {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns
}

// pullBytes bounds the bytes one pull asks for: 2 × BatchSize events are
// a few hundred KB of single commands, but gigabytes of bulk imports
// (10,000 grants, about 1.7 MB, per event), which the server queued for the
// connection faster than it drained. At least four of the largest
// messages the connection takes, so that one always fits.
func pullBytes(nc *nats.Conn) int {
	return int(max(32<<20, 4*nc.MaxPayload()))
}
