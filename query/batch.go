package query

import (
	"context"
	"errors"

	"github.com/grantlog/grantlog/internal/metaperm"
	"github.com/grantlog/grantlog/internal/principal"
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
	if len(req.Checks) == 0 {
		return BatchResult{}, invalid("emptyBatch", "checks is empty: give 1 to %d checks", MaxBatch)
	}
	if len(req.Checks) > MaxBatch {
		return BatchResult{}, invalid("batchTooLarge", "%d checks in one batch; the limit is %d, split the batch", len(req.Checks), MaxBatch)
	}
	want := req.AtLeastRevision
	for i := range req.Checks {
		want = max(want, req.Checks[i].AtLeastRevision)
	}
	if err := e.WaitFor(ctx, want); err != nil {
		return BatchResult{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	out := BatchResult{Results: make([]BatchItem, len(req.Checks)), Revision: v.Revision()}
	for i := range req.Checks {
		c := &req.Checks[i]
		err := validateCheck(c)
		var res CheckResult
		if err == nil {
			res, err = e.checkAt(v, c)
		}
		var qe *Error
		switch {
		case err == nil:
			out.Results[i] = BatchItem{CheckResult: res}
		case errors.As(err, &qe):
			out.Results[i] = BatchItem{CheckResult: CheckResult{Revision: out.Revision}, ErrorCode: qe.Code, ErrorMessage: qe.Message}
		default:
			return BatchResult{}, err
		}
	}
	return out, nil
}

// CheckBatchAs is CheckBatch on behalf of caller, who must hold
// metaperm.Check Read in every namespace the batch checks in; otherwise the
// whole batch is refused with the authorizer's error.
func (e *Engine) CheckBatchAs(ctx context.Context, caller principal.Caller, req *BatchRequest) (BatchResult, error) {
	seen := map[string]bool{}
	for i := range req.Checks {
		ns := req.Checks[i].Namespace
		if seen[ns] || validateCheck(&req.Checks[i]) != nil {
			continue // invalid checks are answered per item
		}
		seen[ns] = true
		if err := e.authorize(ctx, ReadOptions{Caller: caller}, metaperm.Check, perm.Read, ns); err != nil {
			return BatchResult{}, err
		}
	}
	return e.CheckBatch(ctx, req)
}
