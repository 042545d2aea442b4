package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/internal/edge/natsapi"
)

// NATS subjects of the check API (a public contract; see the README's
// "NATS API").
const (
	CheckSubject  = natsapi.CheckSubject
	ChecksSubject = natsapi.ChecksSubject
)

// NATSClient asks checks over NATS request/reply of the grantlog micro
// service, which every node with role all or replica serves in a queue
// group. It is safe for concurrent use.
type NATSClient struct {
	nc    *nats.Conn
	token string
	// Timeout bounds a request whose ctx has no deadline; default 10s.
	Timeout time.Duration
}

// NewNATS returns a client asking checks on nc (the caller owns it),
// authenticating with token (sent as "Authorization: Bearer <token>" in
// the request header; empty sends none).
func NewNATS(nc *nats.Conn, token string) *NATSClient {
	return &NATSClient{nc: nc, token: token, Timeout: 10 * time.Second}
}

// Check answers req over grantlog.v1.check, as Client.Check does over HTTP.
func (c *NATSClient) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	var out CheckResult
	err := c.request(ctx, CheckSubject, req, &out)
	return out, err
}

// Explain is Check with an explanation.
func (c *NATSClient) Explain(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	return c.Check(ctx, explained(req))
}

// CheckBatch answers up to 1000 checks at one revision over
// grantlog.v1.checks.
func (c *NATSClient) CheckBatch(ctx context.Context, req *BatchRequest) (BatchResult, error) {
	var out BatchResult
	err := c.request(ctx, ChecksSubject, req, &out)
	return out, err
}

func (c *NATSClient) request(ctx context.Context, subject string, in, out any) error {
	data, err := marshal(in)
	if err != nil {
		return fmt.Errorf("grantlog: %s: %w", subject, err)
	}
	if _, ok := ctx.Deadline(); !ok && c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	if c.token != "" {
		msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+c.token)
	}
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("grantlog: %s: no Grantlog node answers checks on this NATS (start one with role all or replica): %w", subject, err)
	}
	if err != nil {
		return fmt.Errorf("grantlog: %s: %w", subject, err)
	}
	if status := reply.Header.Get(micro.ErrorCodeHeader); status != "" {
		return natsError(reply, status)
	}
	if err := unmarshal(reply.Data, out); err != nil {
		return fmt.Errorf("grantlog: %s: decode answer: %w", subject, err)
	}
	return nil
}

// natsError reads a micro error reply: Nats-Service-Error-Code is the HTTP
// status, Grantlog-Error-Code the errorCode, the body the HTTP error JSON.
func natsError(reply *nats.Msg, status string) error {
	e := &APIError{}
	if n, err := strconv.Atoi(status); err == nil {
		e.Status = n
	} else {
		e.Status = http.StatusInternalServerError
	}
	_ = json.Unmarshal(reply.Data, e) // best effort: headers below fill the gaps
	if e.Code == "" {
		e.Code = reply.Header.Get(natsapi.ErrorCodeHeader)
	}
	if e.Code == "" {
		e.Code = http.StatusText(e.Status)
	}
	if e.Message == "" {
		e.Message = reply.Header.Get(micro.ErrorHeader)
	}
	return e
}
