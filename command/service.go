package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/perm"
)

// Appender appends a message to the event stream. jetstream.JetStream
// satisfies it.
type Appender interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// HeadReader reads the last message on a subject, and a message by its
// sequence. jetstream.Stream satisfies it.
type HeadReader interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
	GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error)
}

// State is the index a Service decides against: Grantlog's permission
// index (internal/storage/index), which the server opens and the
// projector keeps up to date. Decisions read that index through views
// that are not part of the public API, so State is satisfied by that
// index only: New panics on any other State.
type State interface {
	// WaitApplied blocks until the index has applied revision rev, or ctx
	// is done.
	WaitApplied(ctx context.Context, rev uint64) error
}

// stateView is what a Service reads: a State that gives views of the
// index.
type stateView interface {
	State
	Acquire() index.View
}

// Authorizer decides whether a caller holds a permission, with {namespace}
// in required bound to namespace. It returns nil when allowed, or an error
// to return to the caller as it is.
type Authorizer interface {
	Authorize(ctx context.Context, caller events.Caller, required perm.Permission, namespace string) error
	// HoldsAll returns nil when caller holds every permission of ps (bound
	// by bind), else an error naming the first that exceeds: nobody grants
	// more than they hold. what names what is being granted.
	HoldsAll(ctx context.Context, caller events.Caller, namespace string, ps []perm.Permission, bind perm.RequiredBinding, what string) error
}

// Meta is the context of one command.
type Meta struct {
	Caller events.Caller
	// CommandID is the caller's idempotency key (the Idempotency-Key
	// header); generated when empty. Keys belong to their caller: the
	// stream's Nats-Msg-Id and the event's commandId are derived from the
	// caller's identity and the key (see DeriveCommandID), so callers never
	// share one, and a key is answered with an earlier event only for the
	// same request (else idempotencyKeyReused).
	CommandID string
	// CorrelationID ties the command to a request; defaults to the command
	// id (derived from CommandID, see DeriveCommandID).
	CorrelationID string
	// Reason is the caller's justification, recorded with the event.
	Reason string
	// Source, when set, says through what the command arrived; recorded
	// with the event for the audit stream.
	Source *events.Source
}

// EventTypeHeader carries the event type on every stream message, so tools
// can filter without decoding.
const EventTypeHeader = "Grantlog-Event-Type"

// RequestHashHeader carries, on every message a command appends, the hash
// of the request it was decided from (see request.hash): a command retried
// with the same idempotency key is answered with the stored event only
// when the hashes match. Messages written before it have none and never
// match.
const RequestHashHeader = "Grantlog-Request-Hash"

// commandIDSpace is the UUIDv5 namespace of command ids derived from
// idempotency keys.
var commandIDSpace = uuid.MustParse("5d0c1f0e-8a43-4c6b-9a55-1b0e6a7f2c3d")

// DeriveCommandID returns the command id (the stream's Nats-Msg-Id and the
// event's commandId) of a command sent by caller with idempotency key key:
// a UUIDv5 of the caller's identity (actor, whom it acts for, root) and
// the key, so that equal keys of different callers never collide.
func DeriveCommandID(caller events.Caller, key string) string {
	var obo events.Actor
	if caller.OnBehalfOf != nil {
		obo = *caller.OnBehalfOf
	}
	name, err := json.Marshal([]any{caller.Type, caller.ID, obo.Type, obo.ID, caller.Root, key})
	if err != nil { // strings and a bool always marshal
		panic(err)
	}
	return uuid.NewSHA1(commandIDSpace, name).String()
}

// request names a command and its input, for the request hash: build it
// with req from the command's name and its (validated) input, never from
// values generated per attempt (ids, secrets, clocks).
type request struct {
	op   string
	args []any
	// replay, when set, receives the payload of the event a retry (the
	// same Idempotency-Key and request) is answered with, so that the
	// command answers with that event's ids, not new ones.
	replay *events.Payload
}

func req(op string, args ...any) request { return request{op: op, args: args} }

// hash is the hex SHA-256 of the request in namespace ns with reason.
func (r request) hash(ns, reason string) (string, error) {
	raw, err := json.Marshal(append([]any{"grantlog.request.v1", r.op, ns, reason}, r.args...))
	if err != nil {
		return "", fmt.Errorf("command: hash %s request: %w", r.op, err)
	}
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:]), nil
}

// Config configures a Service.
type Config struct {
	// SubjectPrefix of the event stream; default events.DefaultSubjectPrefix.
	SubjectPrefix string
	// ApplyWait bounds how long a command waits, after its event is stored,
	// for the local index to apply it (read-your-writes on this node);
	// default 5s. A command whose wait times out still succeeded.
	ApplyWait time.Duration
	// MaxAttempts bounds appends of one command that lose the optimistic
	// concurrency race; default 50.
	MaxAttempts int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Signer, when set, signs every appended event (header
	// Grantlog-Sig): the log signing key of the command side. Nodes
	// refuse unsigned events once the stream has announced a key (see
	// AnnounceSigningKey and package projector). A nil pointer in the
	// interface counts as unset.
	Signer Signer
	// NoGroupCommit, when set, appends each command's event on its own,
	// as the command's goroutine, instead of through the committer that
	// appends the events of commands decided at the same time together
	// (commit.go). Default false: group commit on (when the appender is
	// a jetstream.JetStream).
	NoGroupCommit bool
	// GroupBatchMin is the smallest group of events (of commands decided
	// at the same time) appended as one JetStream atomic batch, with one
	// fsync; smaller groups are appended one by one, pipelined. Default
	// DefaultGroupBatchMin; at most MaxGroup. An atomic batch on a
	// one-replica file stream first stages its events in a store of its
	// own (a directory, files written with O_SYNC, removed after the
	// commit): on the disks measured (docs/BENCHMARKS.md "Writes") that
	// costs as much as ~40 single appends, so small groups would lose.
	GroupBatchMin int
}

// DefaultGroupBatchMin is Config.GroupBatchMin's default.
const DefaultGroupBatchMin = 64

// Signer is the log signing key of the command side. The server's key
// (an ed25519 key kept in a JetStream KV bucket, internal/storage/logsig)
// satisfies it.
type Signer interface {
	// ID is the key's id (announced in events.LogSigningKeyAdded).
	ID() string
	// PublicString is the key's public half, base64url.
	PublicString() string
	// SignEvent returns the signature header value of an event with
	// subject and exact bytes data.
	SignEvent(subject string, data []byte) string
}

// noSigner reports whether s is unset: nil, or a nil pointer.
func noSigner(s Signer) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func (c *Config) setDefaults() {
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = events.DefaultSubjectPrefix
	}
	if c.ApplyWait == 0 {
		c.ApplyWait = 5 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 50
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.GroupBatchMin == 0 {
		c.GroupBatchMin = DefaultGroupBatchMin
	}
	c.GroupBatchMin = min(max(c.GroupBatchMin, 2), MaxGroup)
}

// Service executes commands.
type Service struct {
	cfg   Config
	js    Appender
	head  HeadReader
	state stateView
	authz Authorizer
	// tx is set on the staging copy a transaction runs its steps on.
	tx *txn
	// group appends the events of commands decided at the same time
	// together (commit.go); nil when js is not a jetstream.JetStream.
	group *committer
	// phases is where single commands' time went (phases.go); nil on
	// the staging copies of transactions and what-ifs, which count
	// nothing.
	phases *phaseCounters

	mu struct {
		sync.Mutex
		ns map[string]*nsLock
	}
}

type nsLock struct {
	sync.Mutex
	refs int
}

// New returns a Service appending through js, reading stream heads through
// head, deciding against state and authorizing with authz.
func New(cfg Config, js Appender, head HeadReader, state State, authz Authorizer) *Service {
	cfg.setDefaults()
	if noSigner(cfg.Signer) {
		cfg.Signer = nil
	}
	sv, ok := state.(stateView)
	if !ok {
		panic(fmt.Sprintf("command: New: state %T is not Grantlog's index", state))
	}
	s := &Service{cfg: cfg, js: js, head: head, state: sv, authz: authz, phases: &phaseCounters{}}
	if j, ok := js.(jetstream.JetStream); ok && !cfg.NoGroupCommit {
		s.group = newCommitter(j, cfg.GroupBatchMin)
	}
	s.mu.ns = map[string]*nsLock{}
	return s
}

func (s *Service) lockNS(ns string) func() {
	s.mu.Lock()
	l := s.mu.ns[ns]
	if l == nil {
		l = &nsLock{}
		s.mu.ns[ns] = l
	}
	l.refs++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.mu.ns, ns)
		}
		s.mu.Unlock()
	}
}

// decision is what a command decided to append.
type decision struct {
	kind, aggregateID string
	payload           events.Payload
	// check, when set, runs after the index view is released and before the
	// append: authorization checks that read the index themselves (the
	// view's read lock must not be taken twice). It must only use values
	// copied out of the view.
	check func() error
}

// decideFunc inspects the index and returns the event to append, or a
// refusal.
type decideFunc func(v index.View) (decision, error)

// execute appends the event decide returns to namespace ns with optimistic
// concurrency, re-deciding after a lost race. It returns the event's revision.
// rq is the request (command and input) decide decides from: a command whose
// idempotency key already stored an event is answered with that event's
// revision only if it was the same request.
func (s *Service) execute(ctx context.Context, ns string, m *Meta, rq request, decide decideFunc) (uint64, error) {
	// One rule for the reason and ids of every command, over every
	// transport (a DELETE's reason comes from its query string).
	if err := validateMeta(m); err != nil {
		return 0, err
	}
	key := m.CommandID
	var cmdID string
	if key == "" {
		cmdID = uuid.NewString()
	} else {
		cmdID = DeriveCommandID(m.Caller, key)
	}
	if m.CorrelationID == "" {
		m.CorrelationID = cmdID
	}
	reqHash, err := rq.hash(ns, m.Reason)
	if err != nil {
		return 0, err
	}
	if key != "" && s.tx == nil {
		// A retry of a command the index remembers (within its
		// idempotency window, longer than the stream's duplicate window):
		// answered with the stored event, whatever the state is now.
		if stored, ok, err := s.storedCommand(ctx, cmdID, reqHash, key); ok || err != nil {
			if err != nil {
				return 0, err
			}
			return s.replayed(ctx, stored, rq)
		}
	}
	start := time.Now()
	unlock := s.lockNS(ns)
	defer unlock()
	start = s.phases.since(PhaseQueue, start)

	filter := events.NamespaceFilter(s.cfg.SubjectPrefix, ns)
	caughtUp := false
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			start = time.Now()
		}
		v := s.state.Acquire()
		info, _ := v.Namespace(ns)
		applied := v.Revision()
		d, err := decide(v)
		v.Release()
		if err != nil {
			if !caughtUp && s.tx == nil && errors.Is(err, ErrNotFound) {
				// What the command names may have been made just before
				// through another command node: decide again once this
				// node's index has caught up with the stream, once.
				caughtUp = true
				if behind, cerr := s.catchUp(ctx, applied); cerr == nil && behind {
					continue
				}
			}
			return 0, err
		}
		prevHash, err := s.prevHash(ctx, filter, info)
		if err != nil {
			return 0, err
		}
		if d.check != nil {
			if err := d.check(); err != nil {
				return 0, err
			}
		}
		env := events.Envelope{
			EventID:       uuid.NewString(),
			Namespace:     ns,
			AggregateID:   d.aggregateID,
			OccurredAt:    s.cfg.Now(),
			Actor:         m.Caller.Actor,
			OnBehalfOf:    m.Caller.OnBehalfOf,
			CommandID:     cmdID,
			CorrelationID: m.CorrelationID,
			Reason:        m.Reason,
			Source:        m.Source,
			PrevHash:      prevHash,
		}
		if s.tx != nil {
			// In a transaction (transaction.go): stage the event; the
			// transaction appends every staged event at once.
			return 0, s.tx.stage(s.state, env, d, info)
		}
		data, err := events.Encode(env, d.payload)
		if err != nil {
			return 0, err
		}
		msg := nats.NewMsg(events.Subject(s.cfg.SubjectPrefix, ns, d.kind))
		msg.Data = data
		msg.Header.Set(EventTypeHeader, d.payload.EventType())
		msg.Header.Set(RequestHashHeader, reqHash)
		if s.cfg.Signer != nil {
			msg.Header.Set(logsig.Header, s.cfg.Signer.SignEvent(msg.Subject, data))
		}
		msg.Header.Set(jetstream.MsgIDHeader, cmdID)
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(info.LastRevision, 10))
		msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
		start = s.phases.since(PhaseDecide, start)
		ack, err := s.append(ctx, msg)
		start = s.phases.since(PhaseAppend, start)
		if err == nil {
			if ack.Duplicate {
				// The stream already holds a message with this command id
				// (within its duplicate window) and stored nothing: answer
				// with it only if it is this very request.
				stored, gerr := s.head.GetMsg(ctx, ack.Sequence)
				if gerr != nil {
					return 0, fmt.Errorf("command: read event %d of command %s: %w", ack.Sequence, cmdID, gerr)
				}
				if err := sameRequest(stored, cmdID, reqHash, key); err != nil {
					return 0, err
				}
				return s.replayed(ctx, stored, rq)
			}
			s.waitApplied(ctx, ack.Sequence)
			s.phases.since(PhaseApply, start)
			return ack.Sequence, nil
		}
		if !isWrongLastSequence(err) {
			return 0, fmt.Errorf("command: append to %s: %w", ns, err)
		}
		// Someone else appended to the namespace first, or this very command
		// already landed (on R1 streams a retried publish with the same
		// Msg-Id and an expected sequence gets "wrong last sequence", not a
		// duplicate ack). Look at the namespace's head to tell which.
		last, herr := s.head.GetLastMsgForSubject(ctx, filter)
		if herr != nil {
			return 0, fmt.Errorf("command: read head of %s: %w", ns, herr)
		}
		if last.Header.Get(jetstream.MsgIDHeader) == cmdID {
			if err := sameRequest(last, cmdID, reqHash, key); err != nil {
				return 0, err
			}
			return s.replayed(ctx, last, rq)
		}
		if err := s.lostRace(ctx, attempt, last.Sequence, "namespace "+ns); err != nil {
			return 0, err
		}
	}
}

// append stores msg, the event of one command, with the events of other
// commands appended at the same time (group commit, commit.go), or alone
// when the Service has no committer.
func (s *Service) append(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	if s.group != nil {
		return s.group.append(ctx, msg)
	}
	return s.js.PublishMsg(ctx, msg)
}

// storedCommand returns the stored event of command id (a command, or a
// transaction's last event), when the index remembers it as made with an
// Idempotency-Key; it must be the same request.
func (s *Service) storedCommand(ctx context.Context, id, reqHash, key string) (*jetstream.RawStreamMsg, bool, error) {
	v := s.state.Acquire()
	rev, ok := v.Keyed(id)
	v.Release()
	if !ok {
		return nil, false, nil
	}
	stored, err := s.head.GetMsg(ctx, rev)
	if err != nil {
		return nil, true, fmt.Errorf("command: read event %d of command %s: %w", rev, id, err)
	}
	if err := sameRequest(stored, id, reqHash, key); err != nil {
		return nil, true, err
	}
	return stored, true, nil
}

// replayed answers a retried command with its stored event: its revision,
// and its payload to rq.replay.
func (s *Service) replayed(ctx context.Context, stored *jetstream.RawStreamMsg, rq request) (uint64, error) {
	if rq.replay != nil {
		ev, err := registry.Decode(stored.Data)
		if err != nil {
			return 0, fmt.Errorf("command: decode event %d: %w", stored.Sequence, err)
		}
		*rq.replay = ev.Data
	}
	s.waitApplied(ctx, stored.Sequence)
	return stored.Sequence, nil
}

// registry decodes stored events (for replayed).
var registry = events.NewRegistry()

// catchUp waits, bounded by ApplyWait, until the local index has applied
// the stream's last revision, when it had applied only applied; behind
// reports whether it was behind (so that deciding again may answer
// otherwise). It gives read-your-writes across command nodes to a command
// refused for naming what another node has just made.
func (s *Service) catchUp(ctx context.Context, applied uint64) (behind bool, err error) {
	last, err := s.head.GetLastMsgForSubject(ctx, events.AllFilter(s.cfg.SubjectPrefix))
	if err != nil || last.Sequence <= applied {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyWait)
	defer cancel()
	return true, s.state.WaitApplied(wctx, last.Sequence)
}

// lostRace prepares the next attempt of a command (or transaction) that
// lost an optimistic-concurrency race on what (e.g. "namespace game1") at
// its attempt-th try: it gives up after MaxAttempts, waits until the local
// index has applied rev (the revision that won), then backs off a jittered
// moment (a node whose index lags behind a busy writer would otherwise
// lose every race to it).
func (s *Service) lostRace(ctx context.Context, attempt int, rev uint64, what string) error {
	if attempt >= s.cfg.MaxAttempts {
		return errorf(ErrConflict, "concurrentModification",
			"%s changed %d times while this command was being applied; retry it", what, attempt)
	}
	metrics.NoteRetry(ctx) // the outcome "retried" of grantlog_commands_total
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyWait)
	err := s.state.WaitApplied(wctx, rev)
	cancel()
	if err != nil {
		return fmt.Errorf("command: index did not reach revision %d: %w", rev, err)
	}
	select {
	case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sameRequest returns nil when stored, a message the stream deduplicated a
// command against, is the event of the same command (id cmdID) decided from
// the same request (hash reqHash); else the idempotency key was reused for
// another request, a conflict.
func sameRequest(stored *jetstream.RawStreamMsg, cmdID, reqHash, key string) error {
	if stored.Header.Get(jetstream.MsgIDHeader) == cmdID && stored.Header.Get(RequestHashHeader) == reqHash {
		return nil
	}
	return errorf(ErrKeyReused, "idempotencyKeyReused",
		"Idempotency-Key %q was already used for a different request (stored at revision %d); "+
			"use a new key for a new request, and the same key only to retry the same request", key, stored.Sequence)
}

// prevHash returns the hash chain link of the next event of a namespace
// whose index state is info: the hash of the namespace's last event. An
// index written before hashes were recorded knows the last revision but not
// its hash; then the hash is read from the stream head. If the head has
// moved on, the append fails its concurrency check anyway and is re-decided.
func (s *Service) prevHash(ctx context.Context, filter string, info index.NamespaceInfo) (string, error) {
	if info.LastHash != "" || info.LastRevision == 0 || info.Chained {
		return info.LastHash, nil
	}
	last, err := s.head.GetLastMsgForSubject(ctx, filter)
	if err != nil {
		return "", fmt.Errorf("command: read head of %s: %w", info.Name, err)
	}
	h := sha256.Sum256(last.Data)
	return hex.EncodeToString(h[:]), nil
}

// waitApplied gives read-your-writes through this node: it waits, bounded,
// for the local index to apply rev. A timeout is not an error: the event is
// stored and will be applied.
func (s *Service) waitApplied(ctx context.Context, rev uint64) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyWait)
	defer cancel()
	_ = s.state.WaitApplied(wctx, rev)
}

func isWrongLastSequence(err error) bool {
	var jsErr jetstream.JetStreamError
	if !errors.As(err, &jsErr) || jsErr.APIError() == nil {
		return false
	}
	code := jsErr.APIError().ErrorCode
	return code == jetstream.JSErrCodeStreamWrongLastSequence ||
		code == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func (s *Service) authorize(ctx context.Context, m *Meta, resource string, action perm.Action, ns string) error {
	if s.authz == nil {
		return errorf(ErrForbidden, "forbidden", "no authorizer configured")
	}
	return s.authz.Authorize(ctx, m.Caller, perm.Permission{Resource: resource, Action: action}, ns)
}

// holds requires the caller to hold ps (see Authorizer.HoldsAll).
func (s *Service) holds(ctx context.Context, m *Meta, ns string, ps []perm.Permission, bind perm.RequiredBinding, what string) error {
	if len(ps) == 0 || m.Caller.Root {
		return nil
	}
	if s.authz == nil {
		return errorf(ErrForbidden, "forbidden", "no authorizer configured")
	}
	return s.authz.HoldsAll(ctx, m.Caller, ns, ps, bind, what)
}

// unbound asks whether permissions are held in every namespace and for
// every user (for roles, whose placeholders bind only when assigned).
var unbound = perm.RequiredBinding{Unbound: true}
