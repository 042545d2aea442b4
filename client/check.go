package client

import (
	"context"
	"net/http"

	"github.com/grantlog/grantlog/query"
)

// Check types: the JSON of POST /v1/check and /v1/checks, over HTTP and
// NATS alike, and the input and answer of a Follower.
type (
	// CheckRequest asks whether a subject may do an action on a resource
	// (or what a catalog endpoint requires), signed into a namespace.
	CheckRequest = query.CheckRequest
	// Subject is who a check is about: {Type: "user"|"client", ID} or
	// {Type: "token", Token}.
	Subject = query.Subject
	// EndpointRef names a catalog endpoint instead of a resource and action.
	EndpointRef = query.EndpointRef
	// CheckResult is a check's answer, with the revision it was evaluated at.
	CheckResult = query.CheckResult
	// Explanation says why a check was answered as it was.
	Explanation = query.Explanation
	// BatchRequest is up to 1000 checks answered at one revision.
	BatchRequest = query.BatchRequest
	// BatchResult answers a BatchRequest: Results[i] answers Checks[i].
	BatchResult = query.BatchResult
	// BatchItem is one answer of a batch: a CheckResult, or that check's
	// refusal (ErrorCode and ErrorMessage set).
	BatchItem = query.BatchItem
)

// Checker answers checks. *Client (HTTP), *NATSClient and *Follower
// satisfy it; they answer the same request the same way at the same
// revision.
type Checker interface {
	// Check answers one check. Its refusals are *APIError values.
	Check(ctx context.Context, req *CheckRequest) (CheckResult, error)
	// CheckBatch answers every check of req at one revision; a check that
	// is refused alone is answered in its own BatchItem.
	CheckBatch(ctx context.Context, req *BatchRequest) (BatchResult, error)
}

var (
	_ Checker = (*Client)(nil)
	_ Checker = (*NATSClient)(nil)
	_ Checker = (*Follower)(nil)
)

// explained returns a copy of req asking for an explanation.
func explained(req *CheckRequest) *CheckRequest {
	r := *req
	r.Explain = true
	return &r
}

// Check answers req (POST /v1/check). The caller's token needs
// ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK Read in the check's
// namespace. With req.AtLeastRevision the node waits (bounded) until it has
// applied that revision, else the call fails with ErrNotYet.
func (c *Client) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	var out CheckResult
	err := c.do(ctx, http.MethodPost, path("check"), nil, req, &out, nil)
	return out, err
}

// Explain is Check with an explanation: which role, assignment and
// permission allowed it, or what was considered when denied.
func (c *Client) Explain(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	return c.Check(ctx, explained(req))
}

// CheckBatch answers up to 1000 checks at one revision (POST /v1/checks).
func (c *Client) CheckBatch(ctx context.Context, req *BatchRequest) (BatchResult, error) {
	var out BatchResult
	err := c.do(ctx, http.MethodPost, path("checks"), nil, req, &out, nil)
	return out, err
}
