package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// MaxTxSteps bounds the commands of one transaction, and MaxTxEvents its
// events: a transaction is one JetStream atomic batch, which holds at
// most 1,000 messages.
// MaxTxBytes bounds the encoded payloads of its events together (each
// permission change carries the role's state before it, so a transaction
// that edits one role many times would otherwise grow quadratically).
const (
	MaxTxSteps  = 1000
	MaxTxEvents = 1000
	MaxTxBytes  = 4 << 20
)

// Step is one command of a transaction: a call of one of s's methods
// with m (or m with another Reason). Its result is not the command's
// effect: the transaction's revision is.
type Step func(ctx context.Context, s *Service, m Meta) error

// Transaction runs steps as one transaction: all of them or none.
//
// Each step is the command it calls, with its validation and
// authorization, decided against the index with the events of the steps
// before it staged (index.Overlay: a role created in step 1 can be
// assigned in step 2). Nothing is appended until every step is decided;
// then every staged event is appended as one JetStream atomic batch,
// with the last revision of each namespace it touches expected
// unchanged, so either the stream stores them all, at consecutive
// revisions, or none. Readers apply them together (events.Tx). A lost
// race re-runs every step against the new state, as a command does.
//
// Authorization is decided against the index as it is, not as the
// earlier steps would leave it: a transaction cannot grant its caller a
// right and use it.
//
// desc is the request (any JSON value) its Idempotency-Key is bound to:
// a retry with the key and the same request answers the stored
// transaction's revision; with another request, a conflict. The answer
// is the revision of the transaction's last event (the index's revision
// when the steps changed nothing).
func (s *Service) Transaction(ctx context.Context, m Meta, desc any, steps []Step) (uint64, error) {
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	if len(steps) == 0 || len(steps) > MaxTxSteps {
		return 0, errorf(ErrInvalid, "invalidTransaction", "give 1 to %d steps (got %d); split larger changes", MaxTxSteps, len(steps))
	}
	key := m.CommandID
	txID := uuid.NewString()
	if key != "" {
		txID = DeriveCommandID(m.Caller, key)
	}
	if m.CorrelationID == "" {
		m.CorrelationID = txID
	}
	reqHash, err := req("Transaction", desc).hash("", m.Reason)
	if err != nil {
		return 0, err
	}
	js, ok := s.js.(jetstream.JetStream)
	if !ok {
		return 0, fmt.Errorf("command: transactions need a JetStream appender (have %T)", s.js)
	}
	for attempt := 1; ; attempt++ {
		if key != "" {
			// A retry of a stored transaction: its steps would now be
			// refused (the role exists), so look for it first.
			if stored, ok, err := s.storedCommand(ctx, txID, reqHash, key); ok || err != nil {
				if err != nil {
					return 0, err
				}
				return s.replayed(ctx, stored, request{})
			}
		}
		v := s.state.Acquire()
		applied := v.Revision()
		v.Release()
		t, err := s.stageAll(ctx, m, txID, reqHash, steps)
		if err != nil {
			if attempt == 1 && errors.Is(err, ErrNotFound) {
				// As for a command (execute): what a step names may have
				// been made just before through another command node.
				if behind, cerr := s.catchUp(ctx, applied); cerr == nil && behind {
					continue
				}
			}
			return 0, err
		}
		if len(t.staged) == 0 {
			v := s.state.Acquire()
			rev := v.Revision()
			v.Release()
			return rev, nil
		}
		if err := s.guardRoles(ctx, t, m); err != nil {
			return 0, err
		}
		msgs, err := t.messages(s.cfg.SubjectPrefix, s.cfg.Signer)
		if err != nil {
			return 0, err
		}
		ack, err := jetstreamext.PublishMsgBatch(ctx, js, msgs)
		if err == nil {
			return s.txStored(ctx, t, ack.Sequence)
		}
		if !isWrongLastSequence(err) && !isDuplicateBatch(err) {
			return 0, fmt.Errorf("command: append transaction: %w", err)
		}
		// A namespace changed since the steps were decided, or this very
		// transaction already landed (a retry): its last event is the
		// head of its last namespace.
		last := t.staged[len(t.staged)-1].env.Namespace
		head, herr := s.head.GetLastMsgForSubject(ctx, events.NamespaceFilter(s.cfg.SubjectPrefix, last))
		if herr != nil {
			return 0, fmt.Errorf("command: read head of %s: %w", last, herr)
		}
		if head.Header.Get(jetstream.MsgIDHeader) == txID {
			if err := sameRequest(head, txID, reqHash, key); err != nil {
				return 0, err
			}
			return s.txStored(ctx, t, head.Sequence)
		}
		if err := s.lostRace(ctx, attempt, head.Sequence, "the namespaces of this transaction"); err != nil {
			return 0, err
		}
	}
}

// txStored answers a stored transaction.
func (s *Service) txStored(ctx context.Context, _ *txn, rev uint64) (uint64, error) {
	s.waitApplied(ctx, rev)
	return rev, nil
}

// guardRoles makes a transaction that assigns roles and appends nothing
// to the platform namespace (where roles live) end with a
// TransactionCommitted event there, expecting the namespace's last
// revision as the steps saw it: a role deleted (or changed) meanwhile
// refuses the whole transaction, which is re-run, instead of leaving it
// stored with an assignment the index ignores. A transaction that writes
// the platform namespace expects its revision already.
func (s *Service) guardRoles(ctx context.Context, t *txn, m Meta) error {
	if len(t.roles) == 0 {
		return nil
	}
	if _, ok := t.expect[events.PlatformNamespace]; ok {
		return nil
	}
	v := s.state.Acquire()
	info, _ := v.Namespace(events.PlatformNamespace)
	v.Release()
	prev, err := s.prevHash(ctx, events.NamespaceFilter(s.cfg.SubjectPrefix, events.PlatformNamespace), info)
	if err != nil {
		return err
	}
	roles := slices.Compact(slices.Sorted(slices.Values(t.roles)))
	t.expect[events.PlatformNamespace] = info.LastRevision
	t.staged = append(t.staged, staged{kind: events.KindTx, aggregateID: t.id, payload: events.TransactionCommitted{Events: len(t.staged), Roles: roles},
		env: events.Envelope{
			EventID: uuid.NewString(), Namespace: events.PlatformNamespace, AggregateID: t.id, OccurredAt: s.cfg.Now(),
			Actor: m.Caller.Actor, OnBehalfOf: m.Caller.OnBehalfOf, CommandID: uuid.NewString(),
			CorrelationID: m.CorrelationID, Reason: m.Reason, Source: m.Source, PrevHash: prev,
		}})
	return nil
}

// stageAll runs every step on a staging copy of s and returns what they
// staged.
func (s *Service) stageAll(ctx context.Context, m Meta, txID, reqHash string, steps []Step) (*txn, error) {
	t := &txn{id: txID, reqHash: reqHash, ov: index.NewOverlay(), expect: map[string]uint64{}}
	staging := s.stagingFor(t)
	// Each step is its own command inside the transaction: no
	// idempotency key of its own (the transaction's holds).
	sm := m
	sm.CommandID = ""
	for i, step := range steps {
		if err := step(ctx, staging, sm); err != nil {
			return nil, stepError(i, len(steps), err)
		}
		if len(t.staged) >= MaxTxEvents { // one left for a TransactionCommitted
			return nil, errorf(ErrInvalid, "invalidTransaction",
				"the transaction makes more than %d events (at step %d); split it", MaxTxEvents, i)
		}
	}
	return t, nil
}

// StepError is a transaction refused at one of its steps: nothing of it
// was stored. Err is the step's own error (a *Error, or the authorizer's).
type StepError struct {
	// Index is the step's place, from 0, of Count steps.
	Index, Count int
	Err          error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("steps[%d] (of %d): %v; nothing was changed", e.Index, e.Count, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

func stepError(i, n int, err error) error { return &StepError{Index: i, Count: n, Err: err} }

func isDuplicateBatch(err error) bool {
	var jsErr jetstream.JetStreamError
	return errors.As(err, &jsErr) && jsErr.APIError() != nil &&
		jsErr.APIError().ErrorCode == jsErrAtomicPublishDuplicate
}

// jsErrAtomicPublishDuplicate is nats-server's "atomic publish batch
// contains duplicate message id" (nats.go names no constant for it).
const jsErrAtomicPublishDuplicate jetstream.ErrorCode = 10201

// txn is what a transaction's steps staged.
type txn struct {
	id, reqHash string
	ov          *index.Overlay
	staged      []staged
	// expect is each touched namespace's last revision as the steps saw
	// it: the batch's concurrency check.
	expect map[string]uint64
	// bytes is the size of the staged payloads, encoded.
	bytes int
	// whatIf marks a what-if (WhatIf): nothing is appended, so the
	// batch's byte bound does not apply.
	whatIf bool
	// roles are the roles the steps assign: the batch cannot expect their
	// state (they live in the platform namespace), so, as for a single
	// assignment, a role deleted meanwhile is reported once stored.
	roles []string
}

type staged struct {
	kind, aggregateID string
	env               events.Envelope
	payload           events.Payload
}

// stage records one decided event and folds it into the overlay, so that
// the next steps decide with it.
func (t *txn) stage(state stateView, env events.Envelope, d decision, info index.NamespaceInfo) error {
	raw, err := json.Marshal(d.payload)
	if err != nil {
		return fmt.Errorf("command: encode %s: %w", d.payload.EventType(), err)
	}
	if t.bytes += len(raw); t.bytes > MaxTxBytes && !t.whatIf {
		return errorf(ErrInvalid, "transactionTooLarge",
			"the transaction's events would exceed %d MiB (each change of a role carries its state before it): split it, or change each role once", MaxTxBytes>>20)
	}
	if _, ok := t.expect[env.Namespace]; !ok {
		t.expect[env.Namespace] = info.LastRevision
	}
	t.staged = append(t.staged, staged{kind: d.kind, aggregateID: d.aggregateID, env: env, payload: d.payload})
	v := state.Acquire()
	defer v.Release()
	t.ov.Stage(v, &events.Event{Envelope: env, Data: d.payload})
	return nil
}

// messages encodes the staged events as the batch's messages: each
// marked with its place in the transaction, chained to the one before it
// in its namespace, signed; the first of each namespace carries the
// namespace's expected last revision, the last the transaction's id.
func (t *txn) messages(prefix string, signer Signer) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, len(t.staged))
	heads := map[string]string{}
	for i := range t.staged {
		st := &t.staged[i]
		env := st.env
		ns := env.Namespace
		env.Tx = &events.Tx{ID: t.id, Index: i, Count: len(t.staged)}
		prev, chained := heads[ns]
		if chained {
			env.PrevHash = prev
		}
		data, err := events.Encode(env, st.payload)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(data)
		heads[ns] = hex.EncodeToString(h[:])
		msg := nats.NewMsg(events.Subject(prefix, ns, st.kind))
		msg.Data = data
		msg.Header.Set(EventTypeHeader, st.payload.EventType())
		msg.Header.Set(RequestHashHeader, t.reqHash)
		if signer != nil {
			msg.Header.Set(logsig.Header, signer.SignEvent(msg.Subject, data))
		}
		if !chained {
			msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(t.expect[ns], 10))
			msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.NamespaceFilter(prefix, ns))
		}
		if i == len(t.staged)-1 {
			msg.Header.Set(jetstream.MsgIDHeader, t.id)
		}
		msgs[i] = msg
	}
	return msgs, nil
}

// txState is the index as a transaction's steps see it: with the events
// of the steps before staged.
type txState struct {
	base stateView
	ov   *index.Overlay
}

func (t txState) Acquire() index.View { return t.base.Acquire().With(t.ov) }

func (t txState) WaitApplied(ctx context.Context, rev uint64) error {
	return t.base.WaitApplied(ctx, rev)
}
