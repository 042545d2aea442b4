package query

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// History (issue 17): checks as of a past revision or instant, and
// permission timelines, answered from "past views".
//
// A past view is an index of its own, held in memory (Pebble on
// vfs.NewMem plus the index's compiled in-memory form), built by replaying
// the event stream from its first event through the same projector the
// node runs (HistoryConfig.Replay: the server gives projector.ReplayTo,
// which verifies every signature and hash link as the live index is
// verified) up to exactly the revision asked. The last few views are kept (HistoryConfig.Views, least recently
// used evicted); a question about revision N takes the kept view at the
// highest revision at or below N and rolls it forward by replaying the
// events after it, so a question near one asked before costs the events
// between them, and the first question about N costs a replay of N events.
// A view is used by one question at a time.
//
// Transactions: the projector never applies part of one, so a revision
// inside a transaction is answered as of the revision before the
// transaction began (the answer's revision says so).
//
// Time: a check at revision N evaluates time-bound grants (validity
// windows, schedules, token expiry) at the instant of event N
// (its occurredAt); a check asOf T is answered at the last revision whose
// event's occurredAt is at or before T (found by binary search over the
// stream: event times are the command nodes' clocks and taken not to go
// back along the stream), evaluated at T itself.
//
// Retention: replay needs the stream from its first event. When the
// stream no longer starts at revision 1 (limits removed its head), a
// revision no kept view reaches is answered 410 revisionCompacted with the
// oldest revision this node can still answer (its current one).

// ReplayIndex is the index of a past view as a Replayer feeds it (the
// method set of projector.Index).
type ReplayIndex interface {
	// Applied is the revision the index has applied.
	Applied() uint64
	// Apply applies events in order.
	Apply(evs []events.Event) error
	// SigningKeys returns the log signing keys announced so far.
	SigningKeys() (map[string]ed25519.PublicKey, error)
	// ChainHead returns the hash and revision of namespace ns's last event.
	ChainHead(ns string) (hash string, rev uint64, err error)
}

// Replayer applies the event stream to idx up to revision upTo, as the
// node's projector applies it (verifying every event), never part of a
// transaction (a bound inside one stops before it): projector.ReplayTo's
// contract. When the stream no longer holds the event after idx's
// revision it returns an error wrapping ErrGone.
type Replayer func(ctx context.Context, idx ReplayIndex, upTo uint64) error

// HistoryConfig lets an Engine answer checks at past revisions and
// permission timelines.
type HistoryConfig struct {
	// JS reaches the event stream (the one the node's projector reads).
	// Nil: no history; past checks and timelines are refused with 501
	// historyUnavailable.
	JS jetstream.JetStream
	// Stream is the event stream's name. Required with JS.
	Stream string
	// Replay feeds past views. Required with JS.
	Replay Replayer
	// Views is how many past views are kept; default 4. Each holds a
	// whole index in memory (about what the live index holds, twice: its
	// Pebble memtables and its compiled form).
	Views int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Errors of history.
var (
	// ErrGone: the revision asked is no longer answerable (retention).
	// The *Error's Oldest says which revision is.
	ErrGone = errors.New("query: revision compacted")
	// ErrUnavailable: this engine does not answer past questions.
	ErrUnavailable = errors.New("query: history unavailable")
)

// history holds the past views of an Engine.
type history struct {
	cfg HistoryConfig
	reg *events.Registry

	mu struct {
		sync.Mutex
		views  []*pastView
		tick   uint64
		stream jetstream.Stream
	}
}

// pastView is an in-memory index at a past revision. sem is held by the
// one question using it.
type pastView struct {
	sem   chan struct{}
	store *index.Store
	// at is the store's applied revision when last released (under
	// history.mu); used is the LRU tick.
	at   uint64
	used uint64
	gone bool // evicted: closed by its last user
}

func newHistory(cfg HistoryConfig) *history {
	if cfg.JS == nil || cfg.Replay == nil {
		return nil
	}
	if cfg.Views <= 0 {
		cfg.Views = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &history{cfg: cfg, reg: events.NewRegistry()}
}

// Close releases the past views. Questions in flight finish on theirs.
func (h *history) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.mu.views {
		v.gone = true
		select {
		case v.sem <- struct{}{}:
			_ = v.store.Close()
			<-v.sem // a question waiting for it sees it gone
		default: // in use: its user closes it
		}
	}
	h.mu.views = nil
}

func (h *history) stream(ctx context.Context) (jetstream.Stream, error) {
	h.mu.Lock()
	s := h.mu.stream
	h.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := h.cfg.JS.Stream(ctx, h.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("query: history: stream %s: %w", h.cfg.Stream, err)
	}
	h.mu.Lock()
	h.mu.stream = s
	h.mu.Unlock()
	return s, nil
}

// firstSeq is the stream's first revision (1 for a stream that still
// holds all it was given, or is empty).
func (h *history) firstSeq(ctx context.Context) (uint64, error) {
	s, err := h.stream(ctx)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("query: history: stream info: %w", err)
	}
	if info.State.Msgs == 0 || info.State.FirstSeq == 0 {
		return 1, nil
	}
	return info.State.FirstSeq, nil
}

// eventTime returns the occurredAt of the event at rev.
func (h *history) eventTime(ctx context.Context, rev uint64) (time.Time, error) {
	s, err := h.stream(ctx)
	if err != nil {
		return time.Time{}, err
	}
	msg, err := s.GetMsg(ctx, rev)
	if err != nil {
		return time.Time{}, fmt.Errorf("query: history: read revision %d: %w", rev, err)
	}
	ev, err := h.reg.Decode(msg.Data)
	if err != nil && !errors.Is(err, events.ErrUnknownType) {
		return time.Time{}, fmt.Errorf("query: history: decode revision %d: %w", rev, err)
	}
	return ev.OccurredAt, nil
}

// revisionAt returns the last revision in [first, upTo] whose event
// occurred at or before t; first-1 when none did.
func (h *history) revisionAt(ctx context.Context, t time.Time, first, upTo uint64) (uint64, error) {
	lo, hi := first, upTo+1 // the answer is the last in [lo, hi) at or before t, or lo-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, err := h.eventTime(ctx, mid)
		if err != nil {
			return 0, err
		}
		if at.After(t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo - 1, nil
}

// acquire returns a past view at revision rev (or, inside a
// transaction, the revision before it), held: release it with release.
// oldest is the revision to name when rev cannot be reached.
func (h *history) acquire(ctx context.Context, rev, oldest uint64) (*pastView, error) {
	h.mu.Lock()
	var best *pastView
	for _, v := range h.mu.views {
		if v.at <= rev && (best == nil || v.at > best.at) {
			best = v
		}
	}
	if best == nil {
		h.mu.Unlock()
		first, err := h.firstSeq(ctx)
		if err != nil {
			return nil, err
		}
		if first > 1 {
			qe := errorf(ErrGone, "revisionCompacted",
				"revision %d is no longer answerable: the event stream now starts at revision %d (retention removed the events before it) "+
					"and past views are built by replaying it from its first event; this node can answer revision %d and later",
				rev, first, oldest)
			qe.Oldest = oldest
			return nil, qe
		}
		st, err := index.Open(index.Options{Dir: "/past", FS: vfs.NewMem(), CacheSize: 1 << 20, MemTableSize: 16 << 20,
			Logger: h.cfg.Logger, IdempotencyWindow: -1})
		if err != nil {
			return nil, fmt.Errorf("query: history: %w", err)
		}
		best = &pastView{sem: make(chan struct{}, 1), store: st}
		h.mu.Lock()
		h.mu.views = append(h.mu.views, best)
		h.evictLocked(best)
	}
	h.mu.tick++
	best.used = h.mu.tick
	h.mu.Unlock()
	select {
	case best.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.mu.Lock()
	gone := best.gone
	h.mu.Unlock()
	if gone {
		<-best.sem
		return h.acquire(ctx, rev, oldest)
	}
	if best.store.Applied() > rev {
		// Another question rolled it past rev meanwhile: start over.
		h.release(best)
		return h.acquire(ctx, rev, oldest)
	}
	if err := h.cfg.Replay(ctx, best.store, rev); err != nil {
		if ctx.Err() == nil {
			h.drop(best) // a failed view is not kept; one cut short by ctx is, at a consistent revision
		}
		h.release(best)
		if errors.Is(err, ErrGone) {
			qe := errorf(ErrGone, "revisionCompacted",
				"revision %d is no longer answerable: the event stream no longer holds the events leading to it; this node can answer revision %d and later",
				rev, oldest)
			qe.Oldest = oldest
			return nil, qe
		}
		return nil, fmt.Errorf("query: history: replay to %d: %w", rev, err)
	}
	return best, nil
}

// evictLocked drops the least recently used views beyond the limit,
// never keep.
func (h *history) evictLocked(keep *pastView) {
	for len(h.mu.views) > h.cfg.Views {
		sort.Slice(h.mu.views, func(i, j int) bool { return h.mu.views[i].used < h.mu.views[j].used })
		i := 0
		if h.mu.views[0] == keep {
			i = 1
		}
		v := h.mu.views[i]
		h.mu.views = append(h.mu.views[:i], h.mu.views[i+1:]...)
		v.gone = true
		select {
		case v.sem <- struct{}{}:
			_ = v.store.Close()
			<-v.sem // a question waiting for it sees it gone
		default: // in use: its user closes it
		}
	}
}

// drop removes v from the kept views; its user closes it on release.
func (h *history) drop(v *pastView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.gone = true
	for i, o := range h.mu.views {
		if o == v {
			h.mu.views = append(h.mu.views[:i], h.mu.views[i+1:]...)
			break
		}
	}
}

// release ends a question's use of v.
func (h *history) release(v *pastView) {
	h.mu.Lock()
	v.at = v.store.Applied()
	gone := v.gone
	h.mu.Unlock()
	if gone {
		_ = v.store.Close()
	}
	<-v.sem
}
