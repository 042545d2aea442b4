package query

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// MaxBatch bounds the checks of one batch.
const MaxBatch = 1000

// BatchRequest is many checks answered at one revision.
type BatchRequest struct {
	Checks []CheckRequest `json:"checks"`
	// AtLeastRevision, when set, makes the batch wait (bounded) until the
	// index has applied this revision. The batch waits for the largest of
	// this and every check's own AtLeastRevision.
	AtLeastRevision uint64 `json:"atLeastRevision,omitempty"`
}

// BatchItem is one check's answer in a batch: a CheckResult, or the
// refusal of that one check (ErrorCode and ErrorMessage set, Allowed false).
type BatchItem struct {
	CheckResult
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// OldestRevision is set with errorCode revisionCompacted: the oldest
	// revision this node can still answer.
	OldestRevision uint64 `json:"oldestRevision,omitempty"`
}

// BatchResult answers a BatchRequest: Results[i] answers Checks[i], all at
// Revision.
type BatchResult struct {
	Results  []BatchItem `json:"results"`
	Revision uint64      `json:"revision"`
}

// CheckBatch answers every check of req at one view of the index, so that
// all results carry the same revision. A check the engine refuses (invalid
// subject, unknown endpoint, ...) is answered in its own BatchItem; the
// whole batch fails only for an empty or oversized batch, a revision not
// reached within the wait bound (an *Error wrapping ErrNotYet) or an
// internal error.
func (e *Engine) CheckBatch(ctx context.Context, req *BatchRequest) (BatchResult, error) {
	var out BatchResult
	err := e.CheckBatchInto(ctx, req, &out)
	if err != nil {
		return BatchResult{}, err
	}
	return out, nil
}

// parallelFrom is the batch size from which a batch is evaluated on
// several cores: below it, starting goroutines costs more than it saves.
const parallelFrom = 128

// CheckBatchInto is CheckBatch answering into out, reusing the capacity
// of out.Results (a server keeps it between batches). A large batch is
// evaluated on up to GOMAXPROCS goroutines, at the one view.
func (e *Engine) CheckBatchInto(ctx context.Context, req *BatchRequest, out *BatchResult) error {
	return e.checkBatchInto(ctx, req, out, nil)
}

// checkBatchInto is CheckBatchInto; with xs (of the batch's length), the
// explanations asked for are left unfinished in xs instead, to be
// redacted once the view is released.
func (e *Engine) checkBatchInto(ctx context.Context, req *BatchRequest, out *BatchResult, xs []*explainer) error {
	if len(req.Checks) == 0 {
		return invalid("emptyBatch", "checks is empty: give 1 to %d checks", MaxBatch)
	}
	if len(req.Checks) > MaxBatch {
		return invalid("batchTooLarge", "%d checks in one batch; the limit is %d, split the batch", len(req.Checks), MaxBatch)
	}
	want := req.AtLeastRevision
	past := false
	for i := range req.Checks {
		want = max(want, req.Checks[i].AtLeastRevision)
		past = past || req.Checks[i].past()
	}
	if err := e.WaitFor(ctx, want); err != nil {
		return err
	}
	if past {
		return e.checkBatchPast(ctx, req, out, xs)
	}
	v := e.store.Acquire()
	defer v.Release()
	n := len(req.Checks)
	if cap(out.Results) < n {
		out.Results = make([]BatchItem, n)
	}
	out.Results, out.Revision = out.Results[:n], v.Revision()
	parts := 1
	if n >= parallelFrom {
		parts = min(runtime.GOMAXPROCS(0), n/(parallelFrom/2), 8)
	}
	if parts <= 1 {
		return e.checkRange(v, req.Checks, out.Results, out.Revision, xs)
	}
	// Parts of the batch on goroutines of their own, the first here; each
	// writes only its own results. The view stays acquired until all end.
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = e.checkRange(v, req.Checks[lo:hi], out.Results[lo:hi], out.Revision, part(xs, lo, hi))
		}()
	}
	errs[0] = e.checkRange(v, req.Checks[:n/parts], out.Results[:n/parts], out.Revision, part(xs, 0, n/parts))
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func part(xs []*explainer, lo, hi int) []*explainer {
	if xs == nil {
		return nil
	}
	return xs[lo:hi]
}

// checkRange answers checks into results (of the same length) at view v
// of revision rev. With xs, explanations are left in xs unfinished.
func (e *Engine) checkRange(v index.View, checks []CheckRequest, results []BatchItem, rev uint64, xs []*explainer) error {
	for i := range checks {
		c := &checks[i]
		err := validateCheck(c)
		var res CheckResult
		if err == nil && xs != nil {
			res, xs[i], err = e.evaluate(v, c)
		} else if err == nil {
			res, err = e.checkAt(v, c)
		}
		if err == nil {
			results[i] = BatchItem{CheckResult: res}
			continue
		}
		// Declared here: errors.As moves it to the heap.
		var qe *Error
		if !errors.As(err, &qe) {
			return err
		}
		results[i] = BatchItem{CheckResult: CheckResult{Revision: rev}, ErrorCode: qe.Code, ErrorMessage: qe.Message}
	}
	return nil
}

// CheckBatchAsInto is CheckBatchInto on behalf of caller, who must hold
// auth.PermCheck Read in every namespace the batch checks in; otherwise the
// whole batch is refused with the authorizer's error. Explanations show
// only what the caller may read, as CheckAs's do.
func (e *Engine) CheckBatchAsInto(ctx context.Context, caller events.Caller, req *BatchRequest, out *BatchResult) error {
	// Most batches check in a few namespaces: remember the last ones
	// authorized without a map.
	var recent [4]string
	var seen map[string]bool
	var audited map[string]bool
	for i := range req.Checks {
		ns := req.Checks[i].Namespace
		if req.Checks[i].past() && !audited[ns] && validateCheck(&req.Checks[i]) == nil {
			// A check about the past reads the audit too.
			if err := e.authorizePast(ctx, caller, ns); err != nil {
				return err
			}
			if audited == nil {
				audited = map[string]bool{}
			}
			audited[ns] = true
		}
		if ns == recent[0] || ns == recent[1] || ns == recent[2] || ns == recent[3] || seen[ns] {
			continue
		}
		if validateCheck(&req.Checks[i]) != nil {
			continue // invalid checks are answered per item
		}
		if err := e.authorize(ctx, ReadOptions{Caller: caller}, auth.PermCheck, perm.Read, ns); err != nil {
			return err
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[ns] = true
		copy(recent[1:], recent[:3])
		recent[0] = ns
	}
	explain := false
	for i := range req.Checks {
		explain = explain || req.Checks[i].Explain
	}
	if !explain {
		return e.CheckBatchInto(ctx, req, out)
	}
	xs := make([]*explainer, len(req.Checks))
	if err := e.checkBatchInto(ctx, req, out, xs); err != nil {
		return err
	}
	visible := e.readable(ctx, caller)
	for i, x := range xs {
		if x != nil {
			x.redact(visible)
			out.Results[i].Explanation = x.finish(&req.Checks[i])
		}
	}
	return nil
}
