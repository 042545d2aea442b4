package query

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Close releases what the engine holds besides the index (its past
// views). It is idempotent; the engine still answers current checks.
func (e *Engine) Close() { e.hist.close() }

// past reports whether req asks about the past (atRevision or asOf).
func (req *CheckRequest) past() bool { return req.AtRevision != 0 || req.AsOf != nil }

// validatePast refuses contradictory revision fields of a check.
func validatePast(req *CheckRequest) error {
	switch {
	case req.AtRevision != 0 && req.AsOf != nil:
		return invalid("conflictingRevisions", "give atRevision or asOf, not both")
	case req.past() && req.AtLeastRevision != 0:
		return invalid("conflictingRevisions",
			"atLeastRevision asks for the current state at or after a revision, atRevision and asOf for a past one: give only one of them")
	case req.AsOf != nil && req.AsOf.IsZero():
		return invalid("invalidAsOf", `asOf must be an RFC 3339 instant, e.g. "2026-11-24T14:02:00Z"`)
	}
	return nil
}

// authorizePast requires, besides the check right, the audit-read right
// of the check's namespace: an answer about the past reveals what the
// audit records.
func (e *Engine) authorizePast(ctx context.Context, caller events.Caller, ns string) error {
	return e.authorize(ctx, ReadOptions{Caller: caller}, auditPermission(ns), perm.Read, ns)
}

// auditPermission is what reading namespace ns's audit records needs
// (Read), as audit.RequiredPermission says.
func auditPermission(ns string) string {
	if ns == events.PlatformNamespace {
		return auth.PermPlatformAudit
	}
	return auth.PermAudit(ns)
}

// clockAt returns an engine evaluating at t over the same index and
// authorizer.
func (e *Engine) clockAt(t time.Time) *Engine {
	cfg := e.cfg
	cfg.Now = func() time.Time { return t }
	return &Engine{cfg: cfg, store: e.store, authz: e.authz, hist: e.hist}
}

// evaluatePast answers a validated past req (see HistoryConfig): the
// result, and with req.Explain its unfinished explainer.
func (e *Engine) evaluatePast(ctx context.Context, req *CheckRequest) (CheckResult, *explainer, error) {
	rev, at, err := e.pastRevision(ctx, req)
	if err != nil {
		return CheckResult{}, nil, err
	}
	return e.evaluateAtRevision(ctx, req, rev, at)
}

// pastRevision resolves a validated past req to the revision it asks
// about and the instant to evaluate at (zero: the event's).
func (e *Engine) pastRevision(ctx context.Context, req *CheckRequest) (uint64, time.Time, error) {
	h := e.hist
	if h == nil {
		return 0, time.Time{}, errorf(ErrUnavailable, "historyUnavailable",
			"this engine does not answer checks at a past revision or instant (atRevision, asOf): ask a Grantlog server")
	}
	applied := e.store.Applied()
	var (
		rev uint64
		at  time.Time // the instant to evaluate at; zero: the event's
	)
	if req.AsOf != nil {
		at = req.AsOf.UTC()
		if at.After(e.cfg.Now()) {
			return 0, time.Time{}, invalid("asOfInFuture",
				"asOf %s is in the future: ask about a past instant, or check the current state without asOf", at.Format(time.RFC3339))
		}
		first, err := h.firstSeq(ctx)
		if err != nil {
			return 0, time.Time{}, err
		}
		if first > applied {
			first = applied + 1
		}
		if rev, err = h.revisionAt(ctx, at, first, applied); err != nil {
			return 0, time.Time{}, err
		}
	} else {
		rev = req.AtRevision
		if rev > applied {
			if err := e.WaitFor(ctx, rev); err != nil {
				return 0, time.Time{}, err
			}
		}
	}
	return rev, at, nil
}

// evaluateAtRevision evaluates req at revision rev (pastRevision's), at
// instant at.
func (e *Engine) evaluateAtRevision(ctx context.Context, req *CheckRequest, rev uint64, at time.Time) (CheckResult, *explainer, error) {
	h := e.hist
	// The live index, when it is at rev.
	live := e.store.Acquire()
	if live.Revision() == rev {
		defer live.Release()
		return e.evaluateAt(ctx, live, req, at)
	}
	live.Release()
	pv, err := h.acquire(ctx, rev, e.store.Applied())
	if err != nil {
		return CheckResult{}, nil, err
	}
	defer h.release(pv)
	v := pv.store.Acquire()
	defer v.Release()
	return e.evaluateAt(ctx, v, req, at)
}

// evaluateAt evaluates req at view v, at instant at (zero: the instant of
// the view's last event).
func (e *Engine) evaluateAt(ctx context.Context, v index.View, req *CheckRequest, at time.Time) (CheckResult, *explainer, error) {
	if at.IsZero() {
		if t, ok := v.RevisionTime(); ok {
			at = t
		} else if rev := v.Revision(); rev > 0 {
			// An index written before it recorded the instant: read the
			// event's.
			t, err := e.hist.eventTime(ctx, rev)
			if err != nil {
				return CheckResult{}, nil, err
			}
			at = t.UTC()
		} else {
			at = e.cfg.Now()
		}
	}
	return e.clockAt(at).evaluate(v, req)
}

// checkPast is Check for a validated past req.
func (e *Engine) checkPast(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	res, x, err := e.evaluatePast(ctx, req)
	if err != nil {
		return CheckResult{}, err
	}
	if x != nil {
		res.Explanation = x.finish(req)
	}
	return res, nil
}

// checkBatchPast answers a batch some of whose checks ask about the past:
// those first, each at its own past view (its result carries its own
// revision), then the others at one view of the live index, whose
// revision is the batch's. A past check refused (compacted, not yet
// applied, ...) is answered in its own item.
func (e *Engine) checkBatchPast(ctx context.Context, req *BatchRequest, out *BatchResult, xs []*explainer) error {
	n := len(req.Checks)
	if cap(out.Results) < n {
		out.Results = make([]BatchItem, n)
	}
	out.Results = out.Results[:n]
	// Each past item's revision first, then the items in revision order:
	// a past view only rolls forward, so the batch replays the stream
	// about once whatever order its items come in (the rate limiter
	// counts the batch once).
	type pastItem struct {
		i   int
		rev uint64
		at  time.Time
		err error
	}
	var items []pastItem
	for i := range req.Checks {
		c := &req.Checks[i]
		if !c.past() {
			continue
		}
		it := pastItem{i: i, err: validateCheck(c)}
		if it.err == nil {
			it.rev, it.at, it.err = e.pastRevision(ctx, c)
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].rev < items[b].rev })
	for _, it := range items {
		i := it.i
		c := &req.Checks[i]
		err := it.err
		var (
			res CheckResult
			x   *explainer
		)
		if err == nil {
			res, x, err = e.evaluateAtRevision(ctx, c, it.rev, it.at)
		}
		if err == nil {
			if xs != nil {
				xs[i] = x
			} else if x != nil {
				res.Explanation = x.finish(c)
			}
			out.Results[i] = BatchItem{CheckResult: res}
			continue
		}
		var qe *Error
		if !errors.As(err, &qe) {
			return err
		}
		out.Results[i] = BatchItem{ErrorCode: qe.Code, ErrorMessage: qe.Message, OldestRevision: qe.Oldest}
	}
	v := e.store.Acquire()
	defer v.Release()
	out.Revision = v.Revision()
	for i := range req.Checks {
		if req.Checks[i].past() {
			if out.Results[i].ErrorCode != "" {
				out.Results[i].Revision = out.Revision
			}
			continue
		}
		if err := e.checkRange(v, req.Checks[i:i+1], out.Results[i:i+1], out.Revision, part(xs, i, i+1)); err != nil {
			return err
		}
	}
	return nil
}
