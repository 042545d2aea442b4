package command

import (
	"context"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// Proposal is what WhatIf decided: the events the accepted steps would
// append, in order, and the steps refused.
type Proposal struct {
	// Events are the accepted steps' events (Envelope and Data set;
	// Revision zero: nothing is stored), in the order they would be
	// appended. Pass them to query.Engine.WhatIf for the diff of
	// effective permissions.
	Events []events.Event
	// Refused are the steps refused, in order: each with its index and
	// the error the real command would have returned.
	Refused []*StepError
	// Revision is the index's revision the first step was decided at.
	Revision uint64
}

// WhatIf decides steps, in order, as the caller of m, without appending
// anything: each step is the command it calls, with its validation,
// meta-permission and privilege-escalation checks (authorization against
// the index as it is, as in Transaction), decided against the index with
// the events of the accepted steps before it staged (index.Overlay). A
// refused step is reported in Proposal.Refused with its index and error
// and stages nothing: the later steps are decided against the state
// without it. Unlike Transaction, a refusal does not end the evaluation.
//
// It returns an error only when m is invalid, the steps are out of range
// (1 to MaxTxSteps), or ctx ends.
func (s *Service) WhatIf(ctx context.Context, m Meta, steps []Step) (Proposal, error) {
	if err := validateMeta(&m); err != nil {
		return Proposal{}, err
	}
	if len(steps) == 0 || len(steps) > MaxTxSteps {
		return Proposal{}, errorf(ErrInvalid, "invalidWhatIf", "give 1 to %d commands (got %d); split larger changes", MaxTxSteps, len(steps))
	}
	if m.CorrelationID == "" {
		m.CorrelationID = uuid.NewString()
	}
	// No idempotency key: nothing is stored, a retry decides again.
	m.CommandID = ""
	v := s.state.Acquire()
	rev := v.Revision()
	v.Release()
	t := &txn{id: uuid.NewString(), ov: index.NewOverlay(), expect: map[string]uint64{}, whatIf: true}
	staging := s.stagingFor(t)
	var out Proposal
	out.Revision = rev
	for i, step := range steps {
		if err := ctx.Err(); err != nil {
			return Proposal{}, err
		}
		n := len(t.staged)
		err := step(ctx, staging, m)
		if err == nil {
			continue
		}
		out.Refused = append(out.Refused, &StepError{Index: i, Count: len(steps), Err: err})
		if len(t.staged) != n {
			// The step staged events before it was refused: stage the
			// accepted ones again, without its.
			t.staged = t.staged[:n]
			t.ov = index.NewOverlay()
			v := s.state.Acquire()
			for j := range t.staged {
				st := &t.staged[j]
				t.ov.Stage(v, &events.Event{Envelope: st.env, Data: st.payload})
			}
			v.Release()
			staging = s.stagingFor(t)
		}
	}
	out.Events = make([]events.Event, len(t.staged))
	for i := range t.staged {
		st := &t.staged[i]
		out.Events[i] = events.Event{Envelope: st.env, Data: st.payload}
	}
	return out, nil
}

// stagingFor returns the staging copy of s that stages into t.
func (s *Service) stagingFor(t *txn) *Service {
	staging := &Service{cfg: s.cfg, js: s.js, head: s.head, state: txState{s.state, t.ov}, authz: s.authz, tx: t}
	staging.mu.ns = map[string]*nsLock{}
	return staging
}
