package query

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
// A past view is an index of its own, built by replaying the event
// stream through the same projector the node runs (HistoryConfig.Replay:
// the server gives projector.ReplayTo, which verifies every signature and
// hash link as the live index is verified) up to exactly the revision
// asked. It starts from one of three places, whichever leaves the fewest
// events to replay:
//   - a kept view at or below the revision (the last few are kept,
//     HistoryConfig.Views, least recently used evicted), rolled forward;
//   - the newest snapshot of the index at or below the revision
//     (HistoryConfig.Snapshots: the snapshots the node's snapshotter
//     stores, verified as a starting node verifies them), unpacked into a
//     directory of its own under HistoryConfig.Dir — used when it saves
//     at least HistoryConfig.SnapshotGain events over a kept view;
//   - an empty index in memory (Pebble on vfs.NewMem), from the stream's
//     first event.
//
// So the first question about revision N costs a snapshot restore plus the
// events between that snapshot and N (at most the snapshot interval), or,
// with no snapshot at or below N, a replay of N events; a question near
// one asked before costs the events between them. A view is used by one
// question at a time.
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
// Retention: when the stream no longer starts at revision 1 (limits
// removed its head), revision N is answerable from a kept view or a
// snapshot at or below N whose next event the stream still holds; an
// older revision is answered 410 revisionCompacted naming the oldest
// revision this node can answer (the oldest such snapshot or view, else
// its current revision).

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
	// Snapshots, when set, lets a past view start from a stored snapshot
	// of the index instead of the stream's first event.
	Snapshots SnapshotSource
	// Dir is where past views restored from snapshots are unpacked (a
	// directory each, removed when the view is dropped); default a new
	// temporary directory.
	Dir string
	// SnapshotGain: a snapshot is restored instead of rolling a kept view
	// forward when it is at least this many events ahead of it; default
	// 10,000 (restoring costs about as much as replaying that many
	// events of a 100k-user index).
	SnapshotGain uint64
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// SnapshotSource is where past views find stored snapshots of the index
// (the server's: eventlog.RestoreSnapshotForStream behind it).
type SnapshotSource interface {
	// Revisions returns the revisions of the stored snapshots, in any
	// order (unverified: Restore verifies what it restores).
	Revisions(ctx context.Context) ([]uint64, error)
	// Restore unpacks into dir (absent) the newest authentic snapshot at
	// or below maxRev whose next event the stream still holds, and
	// returns its revision; an error when there is none.
	Restore(ctx context.Context, maxRev uint64, dir string) (uint64, error)
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
		views   []*pastView
		tick    uint64
		stream  jetstream.Stream
		dir     string // where restored views are unpacked (h.dir)
		tempDir bool   // dir is h's own temporary directory
	}
	restoring chan struct{} // held while a view is restored from a snapshot
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
	gone bool   // evicted: closed by its last user
	dir  string // restored from a snapshot: its directory, removed on close
}

// close closes v's index and removes its directory.
func (v *pastView) close() {
	_ = v.store.Close()
	if v.dir != "" {
		_ = os.RemoveAll(v.dir)
	}
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
	if cfg.SnapshotGain == 0 {
		cfg.SnapshotGain = 10_000
	}
	return &history{cfg: cfg, reg: events.NewRegistry(), restoring: make(chan struct{}, 1)}
}

// Close releases the past views. Questions in flight finish on theirs.
func (h *history) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	inUse := false
	for _, v := range h.mu.views {
		v.gone = true
		select {
		case v.sem <- struct{}{}:
			v.close()
			<-v.sem // a question waiting for it sees it gone
		default: // in use: its user closes it
			inUse = true
		}
	}
	h.mu.views = nil
	if h.mu.tempDir && !inUse {
		_ = os.RemoveAll(h.mu.dir)
	}
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
// current is the live index's revision (the oldest answerable when
// nothing older is).
func (h *history) acquire(ctx context.Context, rev, current uint64) (*pastView, error) {
	h.mu.Lock()
	best := h.bestLocked(rev)
	h.mu.Unlock()
	if h.cfg.Snapshots != nil && (best == nil || rev-best.at >= h.cfg.SnapshotGain) {
		v, err := h.fromSnapshot(ctx, rev, false)
		if err != nil {
			return nil, err
		}
		if v != nil {
			best = v
		}
	}
	if best == nil {
		first, err := h.firstSeq(ctx)
		if err != nil {
			return nil, err
		}
		if first > 1 {
			return nil, h.compacted(ctx, rev, first, current,
				fmt.Sprintf("the event stream now starts at revision %d (retention removed the events before it) and no snapshot of the index at or below %d is stored", first, rev))
		}
		st, err := index.Open(h.viewOptions("/past", vfs.NewMem()))
		if err != nil {
			return nil, fmt.Errorf("query: history: %w", err)
		}
		best = h.keep(&pastView{sem: make(chan struct{}, 1), store: st})
	}
	h.mu.Lock()
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
		return h.acquire(ctx, rev, current)
	}
	if best.store.Applied() > rev {
		// Another question rolled it past rev meanwhile: start over.
		h.release(best)
		return h.acquire(ctx, rev, current)
	}
	if err := h.cfg.Replay(ctx, best.store, rev); err != nil {
		if ctx.Err() == nil {
			h.drop(best) // a failed view is not kept; one cut short by ctx is, at a consistent revision
		}
		h.release(best)
		if errors.Is(err, ErrGone) {
			// The stream no longer holds the events after the view: a
			// snapshot after them may still reach rev.
			if h.cfg.Snapshots != nil && best.at > 0 {
				if v, serr := h.fromSnapshot(ctx, rev, true); serr == nil && v != nil && v.at > best.at {
					return h.acquire(ctx, rev, current)
				}
			}
			first, ferr := h.firstSeq(ctx)
			if ferr != nil {
				return nil, ferr
			}
			return nil, h.compacted(ctx, rev, first, current, "the event stream no longer holds the events leading to it")
		}
		return nil, fmt.Errorf("query: history: replay to %d: %w", rev, err)
	}
	return best, nil
}

// bestLocked returns the kept view at the highest revision at or below
// rev; nil when none is.
func (h *history) bestLocked(rev uint64) *pastView {
	var best *pastView
	for _, v := range h.mu.views {
		if v.at <= rev && (best == nil || v.at > best.at) {
			best = v
		}
	}
	return best
}

// keep adds v to the kept views (evicting beyond the limit) and returns it.
func (h *history) keep(v *pastView) *pastView {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.at = v.store.Applied()
	h.mu.views = append(h.mu.views, v)
	h.evictLocked(v)
	return v
}

// fromSnapshot returns a new kept view restored from the newest snapshot
// at or below rev, when one is stored and saves SnapshotGain events over
// the best kept view (any snapshot ahead of it when force); nil otherwise
// (also when restoring fails: the caller replays instead, and the failure
// is logged).
func (h *history) fromSnapshot(ctx context.Context, rev uint64, force bool) (*pastView, error) {
	// One restore at a time: questions about nearby revisions asked
	// together share the first one's view.
	select {
	case h.restoring <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.restoring }()
	revs, err := h.cfg.Snapshots.Revisions(ctx)
	if err != nil {
		h.cfg.Logger.Warn("past view: cannot list the index's snapshots; replaying the stream instead", "err", err)
		return nil, nil
	}
	var snap uint64
	for _, r := range revs {
		if r <= rev && r > snap {
			snap = r
		}
	}
	h.mu.Lock()
	best := h.bestLocked(rev)
	h.mu.Unlock()
	gain := h.cfg.SnapshotGain
	if force {
		gain = 1
	}
	if snap == 0 || (best != nil && snap < best.at+gain) {
		return nil, nil
	}
	parent, err := h.dir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("at-%d-", snap))
	if err != nil {
		return nil, fmt.Errorf("query: history: %w", err)
	}
	dir = filepath.Join(dir, "index") // absent, as Restore wants it
	start := time.Now()
	got, err := h.cfg.Snapshots.Restore(ctx, rev, dir)
	if err != nil {
		_ = os.RemoveAll(filepath.Dir(dir))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.cfg.Logger.Warn("past view: could not restore a snapshot; replaying the stream instead", "revision", rev, "err", err)
		return nil, nil
	}
	st, err := index.Open(h.viewOptions(dir, nil))
	if err != nil {
		_ = os.RemoveAll(filepath.Dir(dir))
		return nil, fmt.Errorf("query: history: open the snapshot at %d: %w", got, err)
	}
	h.cfg.Logger.Debug("past view restored from a snapshot", "snapshot", got, "for", rev,
		"duration", time.Since(start).Round(time.Millisecond))
	return h.keep(&pastView{sem: make(chan struct{}, 1), store: st, dir: filepath.Dir(dir)}), nil
}

// viewOptions are the index options of a past view in dir on fs (nil:
// the OS's): a small cache, no idempotency records.
func (h *history) viewOptions(dir string, fs vfs.FS) index.Options {
	return index.Options{Dir: dir, FS: fs, CacheSize: 1 << 20, MemTableSize: 16 << 20, Logger: h.cfg.Logger, IdempotencyWindow: -1}
}

// dir returns the directory past views are unpacked in, making it the
// first time.
func (h *history) dir() (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.dir != "" {
		return h.mu.dir, nil
	}
	if h.cfg.Dir != "" {
		if err := os.MkdirAll(h.cfg.Dir, 0o700); err != nil {
			return "", fmt.Errorf("query: history: %w", err)
		}
		h.mu.dir = h.cfg.Dir
		return h.mu.dir, nil
	}
	d, err := os.MkdirTemp("", "grantlog-past-")
	if err != nil {
		return "", fmt.Errorf("query: history: %w", err)
	}
	h.mu.dir, h.mu.tempDir = d, true
	return d, nil
}

// compacted is the 410 revisionCompacted answer for rev, which is before
// anything this node can replay from (why says so): it names the oldest
// revision it can answer — the oldest kept view or snapshot whose next
// event the stream (starting at first) holds, else current.
func (h *history) compacted(ctx context.Context, rev, first, current uint64, why string) error {
	oldest := current
	h.mu.Lock()
	for _, v := range h.mu.views {
		if v.at+1 >= first && v.at < oldest && v.at > rev {
			oldest = v.at
		}
	}
	h.mu.Unlock()
	if h.cfg.Snapshots != nil {
		if revs, err := h.cfg.Snapshots.Revisions(ctx); err == nil {
			for _, r := range revs {
				if r+1 >= first && r < oldest && r > rev {
					oldest = r
				}
			}
		}
	}
	qe := errorf(ErrGone, "revisionCompacted",
		"revision %d is no longer answerable: %s; this node can answer revision %d and later", rev, why, oldest)
	qe.Oldest = oldest
	return qe
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
			v.close()
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
		v.close()
	}
	<-v.sem
}
