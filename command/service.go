package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/index"
	"github.com/grantlog/grantlog/internal/logsig"
	"github.com/grantlog/grantlog/internal/principal"
	"github.com/grantlog/grantlog/perm"
)

// Appender appends a message to the event stream. jetstream.JetStream
// satisfies it.
type Appender interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// HeadReader reads the last message on a subject. jetstream.Stream satisfies it.
type HeadReader interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// State is the index a Service decides against. *index.Store satisfies it.
type State interface {
	Acquire() index.View
	WaitApplied(ctx context.Context, rev uint64) error
}

// Authorizer decides whether a caller holds a permission, with {namespace}
// in required bound to namespace. It returns nil when allowed, or an error
// to return to the caller as it is.
type Authorizer interface {
	Authorize(ctx context.Context, caller principal.Caller, required perm.Permission, namespace string) error
	// HoldsAll returns nil when caller holds every permission of ps (bound
	// by bind), else an error naming the first that exceeds: nobody grants
	// more than they hold. what names what is being granted.
	HoldsAll(ctx context.Context, caller principal.Caller, namespace string, ps []perm.Permission, bind perm.RequiredBinding, what string) error
}

// Meta is the context of one command.
type Meta struct {
	Caller principal.Caller
	// CommandID identifies the command (an idempotency key); generated when empty.
	CommandID string
	// CorrelationID ties the command to a request; defaults to CommandID.
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
	// logsig.Header): the log signing key of the command side. Nodes
	// refuse unsigned events once the stream has announced a key (see
	// AnnounceSigningKey and package projector).
	Signer *logsig.Key
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
}

// Service executes commands.
type Service struct {
	cfg   Config
	js    Appender
	head  HeadReader
	state State
	authz Authorizer

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
	s := &Service{cfg: cfg, js: js, head: head, state: state, authz: authz}
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
func (s *Service) execute(ctx context.Context, ns string, m *Meta, decide decideFunc) (uint64, error) {
	if m.CommandID == "" {
		m.CommandID = uuid.NewString()
	}
	if m.CorrelationID == "" {
		m.CorrelationID = m.CommandID
	}
	// One rule for the reason and ids of every command, over every
	// transport (a DELETE's reason comes from its query string).
	if err := validateMeta(m); err != nil {
		return 0, err
	}
	unlock := s.lockNS(ns)
	defer unlock()

	filter := events.NamespaceFilter(s.cfg.SubjectPrefix, ns)
	for attempt := 1; ; attempt++ {
		v := s.state.Acquire()
		info, _ := v.Namespace(ns)
		d, err := decide(v)
		v.Release()
		if err != nil {
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
		data, err := events.Encode(events.Envelope{
			EventID:       uuid.NewString(),
			Namespace:     ns,
			AggregateID:   d.aggregateID,
			OccurredAt:    s.cfg.Now(),
			Actor:         m.Caller.Actor,
			OnBehalfOf:    m.Caller.OnBehalfOf,
			CommandID:     m.CommandID,
			CorrelationID: m.CorrelationID,
			Reason:        m.Reason,
			Source:        m.Source,
			PrevHash:      prevHash,
		}, d.payload)
		if err != nil {
			return 0, err
		}
		msg := nats.NewMsg(events.Subject(s.cfg.SubjectPrefix, ns, d.kind, d.aggregateID))
		msg.Data = data
		msg.Header.Set(EventTypeHeader, d.payload.EventType())
		if s.cfg.Signer != nil {
			msg.Header.Set(logsig.Header, s.cfg.Signer.SignEvent(msg.Subject, data))
		}
		ack, err := s.js.PublishMsg(ctx, msg,
			jetstream.WithMsgID(m.CommandID),
			jetstream.WithExpectLastSequenceForSubject(info.LastRevision, filter))
		if err == nil {
			s.waitApplied(ctx, ack.Sequence)
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
		if last.Header.Get(jetstream.MsgIDHeader) == m.CommandID {
			s.waitApplied(ctx, last.Sequence)
			return last.Sequence, nil
		}
		if attempt >= s.cfg.MaxAttempts {
			return 0, errorf(ErrConflict, "concurrentModification",
				"namespace %s changed %d times while this command was being applied; retry it", ns, attempt)
		}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.ApplyWait)
		err = s.state.WaitApplied(wctx, last.Sequence)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("command: index did not reach revision %d: %w", last.Sequence, err)
		}
		// Jittered backoff: a node whose index lags behind a busy writer
		// would otherwise lose every race to it.
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
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
