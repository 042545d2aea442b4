package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grantlog/grantlog/internal/edge/checkjson"
)

// Client talks to a Grantlog node's HTTP API. It is safe for concurrent
// use.
type Client struct {
	base  string
	token string
	// HTTP is the client requests are sent with; default: a client with no
	// overall timeout (audit streams are long-lived; bound calls with ctx).
	HTTP *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a default http.Client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.HTTP = hc } }

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080") authenticating with token (sent as a Bearer
// token; empty sends none).
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: token, HTTP: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// CallOption adds to one call.
type CallOption func(*callOptions)

type callOptions struct {
	reason         string
	idempotencyKey string
	requestID      string
	atLeast        uint64
	notBefore      *time.Time
	notAfter       *time.Time
}

func collect(opts []CallOption) *callOptions {
	o := &callOptions{}
	for _, fn := range opts {
		fn(o)
	}
	return o
}

// WithReason records why a command is made (the audit record's reason).
// Reads ignore it.
func WithReason(reason string) CallOption { return func(o *callOptions) { o.reason = reason } }

// WithIdempotencyKey sends the command with this Idempotency-Key: a retry
// with the same key is stored once (and answers with the first revision).
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// WithRequestID sends X-Request-Id: the server logs the request, and the
// audit record names it, under this id.
func WithRequestID(id string) CallOption { return func(o *callOptions) { o.requestID = id } }

// WithAtLeastRevision makes a read (GetRole, ListRoles, UserRoles) wait,
// bounded by the node, until the node has applied rev; past the bound the
// call fails with ErrNotYet. Commands ignore it; checks carry their own
// AtLeastRevision.
func WithAtLeastRevision(rev uint64) CallOption { return func(o *callOptions) { o.atLeast = rev } }

// WithWindow bounds when an assignment made by AssignRole is in force; a
// zero time leaves that side open. Other calls ignore it.
func WithWindow(notBefore, notAfter time.Time) CallOption {
	return func(o *callOptions) {
		if !notBefore.IsZero() {
			o.notBefore = &notBefore
		}
		if !notAfter.IsZero() {
			o.notAfter = &notAfter
		}
	}
}

// path joins escaped path segments after "/v1".
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func (c *Client) newRequest(ctx context.Context, path string, q url.Values) (*http.Request, error) {
	return c.newRequestBody(ctx, http.MethodGet, path, q, nil)
}

func (c *Client) newRequestBody(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("grantlog: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends a request with body (JSON unless nil) and decodes a 2xx answer
// into out (unless nil). Any other answer is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any, o *callOptions) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = marshal(body); err != nil {
			return fmt.Errorf("grantlog: %s %s: %w", method, path, err)
		}
	}
	if o != nil && o.atLeast > 0 {
		if q == nil {
			q = url.Values{}
		}
		q.Set("atLeastRevision", strconv.FormatUint(o.atLeast, 10))
	}
	req, err := c.newRequestBody(ctx, method, path, q, raw)
	if err != nil {
		return err
	}
	if o != nil {
		if o.idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", o.idempotencyKey)
		}
		if o.requestID != "" {
			req.Header.Set("X-Request-Id", o.requestID)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("grantlog: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	if res, ok := out.(*BatchResult); ok {
		data, err := io.ReadAll(resp.Body)
		if err == nil {
			err = unmarshal(data, res)
		}
		if err != nil {
			return fmt.Errorf("grantlog: %s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("grantlog: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// marshal encodes a request body: a batch with checkjson's encoder (the
// same bytes as encoding/json's, without reflection), anything else with
// encoding/json.
func marshal(v any) ([]byte, error) {
	if req, ok := v.(*BatchRequest); ok {
		return checkjson.AppendBatchRequest(nil, req)
	}
	return json.Marshal(v)
}

// unmarshal decodes an answer into out: a batch answer with checkjson's
// fast path when it applies, anything else with encoding/json.
func unmarshal(data []byte, out any) error {
	if res, ok := out.(*BatchResult); ok {
		if checkjson.DecodeBatchResult(data, res) {
			return nil
		}
		*res = BatchResult{}
	}
	return json.Unmarshal(data, out)
}
