package client

import (
	"context"
	"net/http"
)

// Do sends the operation named opName of the API's operation table
// (internal/edge/api: "role.create", "user.roles", "check", ...) over
// HTTP. fields holds every field of its request as one JSON object (a
// struct, a map or a json.RawMessage object); the table says which go in
// the path, the query string and the body. The 2xx answer is decoded into
// out (a *json.RawMessage keeps the API's bytes; nil discards it); any
// other answer is an *APIError. WithReason adds a command's reason,
// WithIdempotencyKey its Idempotency-Key, WithAtLeastRevision the revision
// a read waits for. Do is how a generic client (the grantlog CLI) reaches
// operations the SDK has no method for; it is safe for concurrent use.
func (c *Client) Do(ctx context.Context, opName string, fields, out any, opts ...CallOption) error {
	return c.call(ctx, opName, fields, out, opts)
}

// HeaderTransport is an http.RoundTripper that sets Header on every
// request it sends through Base (nil: http.DefaultTransport), e.g.
// Grantlog-Source: cli so the audit records of the commands say they came
// through the CLI:
//
//	client.New(url, token, client.WithHTTPClient(&http.Client{
//		Transport: &client.HeaderTransport{Header: http.Header{"Grantlog-Source": {"cli"}}}}))
type HeaderTransport struct {
	Base   http.RoundTripper
	Header http.Header
}

// RoundTrip sends a copy of req with t's headers set.
func (t *HeaderTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	r := req.Clone(req.Context())
	for k, vs := range t.Header {
		r.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	return base.RoundTrip(r)
}
