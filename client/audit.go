package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grantlog/grantlog/audit"
)

// AuditOptions selects audit records; the zero value is every record the
// caller may read, from the first.
type AuditOptions struct {
	// Namespaces limits records to these namespaces ("_platform" for
	// platform-level objects).
	Namespaces []string
	// Types limits records to these event types ("role.updated.v1", ...).
	Types []string
	// FromRevision is the first revision to return.
	FromRevision uint64
	// Since starts at the first record stored at or after this time (when
	// FromRevision is 0).
	Since time.Time
}

func (o AuditOptions) query() url.Values {
	q := url.Values{}
	for _, ns := range o.Namespaces {
		q.Add("namespace", ns)
	}
	for _, t := range o.Types {
		q.Add("type", t)
	}
	if o.FromRevision > 0 {
		q.Set("fromRevision", strconv.FormatUint(o.FromRevision, 10))
	} else if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// retryable reports whether an answer may succeed when asked again.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests
	}
	return true // network errors, a stream cut short
}

// Audit subscribes to the audit stream (GET /v1/audit/stream) and yields
// the records o selects, in revision order, each exactly once, following
// the stream until ctx ends (the sequence then ends without an error) or
// the caller stops iterating. After a disconnect or a server restart it
// reconnects with Last-Event-ID, so nothing is lost or repeated; between
// attempts it waits from 100ms up to 5s. An answer that cannot succeed
// when retried (400, 401, 403: an *APIError) is yielded and ends the
// sequence; so is any error while ctx is still live after 10 consecutive
// failed attempts.
func (c *Client) Audit(ctx context.Context, o AuditOptions) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		var last uint64 // last revision yielded
		backoff := 100 * time.Millisecond
		failures := 0
		for {
			progressed, err := c.auditOnce(ctx, o, last, func(r audit.Record) bool {
				last = r.Revision
				return yield(r, nil)
			})
			if ctx.Err() != nil || errors.Is(err, errStop) {
				return
			}
			if progressed {
				failures, backoff = 0, 100*time.Millisecond
			}
			if err != nil {
				failures++
				if !retryable(err) || failures >= 10 {
					yield(audit.Record{}, err)
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

var errStop = errors.New("client: iteration stopped")

// auditOnce reads one connection of the stream, resuming after revision
// last when it is not zero. It reports whether any record arrived.
func (c *Client) auditOnce(ctx context.Context, o AuditOptions, last uint64, yield func(audit.Record) bool) (bool, error) {
	req, err := c.newRequest(ctx, "/v1/audit/stream", o.query())
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(last, 10))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("grantlog: audit stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, apiError(resp)
	}
	progressed := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			var r audit.Record
			if err := json.Unmarshal(data, &r); err != nil {
				return progressed, fmt.Errorf("grantlog: audit record: %w", err)
			}
			data = data[:0]
			if r.Revision <= last && last > 0 {
				continue // never repeat a record
			}
			progressed = true
			last = r.Revision
			if !yield(r) {
				return progressed, errStop
			}
		case line[0] == ':':
			// comment (heartbeat)
		default:
			field, value, _ := strings.Cut(string(line), ":")
			value = strings.TrimPrefix(value, " ")
			if field == "data" {
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return progressed, fmt.Errorf("grantlog: audit stream: %w", err)
	}
	return progressed, io.ErrUnexpectedEOF // the server ended the stream (shutdown): reconnect
}

// AuditPage is one page of GET /v1/audit.
type AuditPage struct {
	Data []audit.Record `json:"data"`
	// Next is the FromRevision of the next page; 0 at the end.
	Next uint64 `json:"-"`
	// Revision is the stream's last revision when the page was read.
	Revision uint64 `json:"revision"`
}

// AuditPage reads one page (GET /v1/audit) of up to limit records (0: the
// server's default).
func (c *Client) AuditPage(ctx context.Context, o AuditOptions, limit int) (AuditPage, error) {
	q := o.query()
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	req, err := c.newRequest(ctx, "/v1/audit", q)
	if err != nil {
		return AuditPage{}, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return AuditPage{}, fmt.Errorf("grantlog: audit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return AuditPage{}, apiError(resp)
	}
	var body struct {
		AuditPage
		Paging struct {
			Next string `json:"next"`
		} `json:"paging"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return AuditPage{}, fmt.Errorf("grantlog: audit page: %w", err)
	}
	p := body.AuditPage
	if body.Paging.Next != "" {
		if p.Next, err = strconv.ParseUint(body.Paging.Next, 10, 64); err != nil {
			return AuditPage{}, fmt.Errorf("grantlog: audit page: next %q: %w", body.Paging.Next, err)
		}
	}
	return p, nil
}
