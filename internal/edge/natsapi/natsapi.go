package natsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/query"
)

// Version is the micro service's version (semver, as micro requires). Set
// it at build time with -ldflags "-X github.com/grantlog/grantlog/internal/edge/natsapi.Version=...".
var Version = "0.1.0"

// Service identity and subjects.
const (
	ServiceName   = "grantlog"
	SubjectPrefix = "grantlog.v1"
	CheckSubject  = SubjectPrefix + ".check"
	ChecksSubject = SubjectPrefix + ".checks"
	// StatusSubjectPrefix is where nodes publish their status each second:
	// grantlog.status.<node>.
	StatusSubjectPrefix = "grantlog.status"
	// ErrorCodeHeader carries the API's errorCode on an error reply.
	ErrorCodeHeader = "Grantlog-Error-Code"
	// AuthorizationHeader carries the caller's credential on a request.
	AuthorizationHeader = "Authorization"
)

// MaxRequestBytes bounds a request's payload (as HTTP bodies are bounded).
const MaxRequestBytes = 1 << 20

// Authenticator maps an Authorization header to a caller.
// *auth.Authenticator satisfies it.
type Authenticator interface {
	Authenticate(header string) (events.Caller, error)
}

// Checker answers checks. *query.Engine satisfies it.
type Checker interface {
	CheckAs(ctx context.Context, caller events.Caller, req *query.CheckRequest) (query.CheckResult, error)
	// CheckBatchAsInto answers a batch into out, reusing its memory (as
	// *query.Engine does).
	CheckBatchAsInto(ctx context.Context, caller events.Caller, req *query.BatchRequest, out *query.BatchResult) error
	// Revision is the applied revision: requests asking for more are
	// answered off the subscription's goroutine, so that waiting for a
	// revision does not hold up other requests.
	Revision() uint64
}

// Config configures a Service.
type Config struct {
	// Conn is the NATS connection to serve on. Required; the caller owns it.
	Conn *nats.Conn
	// Checks answers checks on grantlog.v1.check and grantlog.v1.checks;
	// nil: no check endpoints (a command node).
	Checks Checker
	// Commands runs commands on grantlog.v1.cmd.<name>; nil: no command
	// endpoints (a replica). At least one of Checks and Commands is required.
	Commands Commander
	// Reads answers the reads some commands reply with. Required with
	// Commands.
	Reads Reader
	// Auth authenticates callers. Required.
	Auth Authenticator
	// Node and Role go into the service's metadata (shown by discovery).
	Node, Role string
	// Timeout bounds one request; default 30s.
	Timeout time.Duration
	// MaxWaiting bounds the requests waiting for a revision at once; more
	// wait for a slot (back-pressure on the subscription); default 256.
	MaxWaiting int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 256
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("natsapi: Config.Conn is required"))
	}
	if c.Checks == nil && c.Commands == nil {
		errs = append(errs, errors.New("natsapi: Config.Checks or Config.Commands is required"))
	}
	if c.Commands != nil && c.Reads == nil {
		errs = append(errs, errors.New("natsapi: Config.Reads is required with Config.Commands"))
	}
	if c.Auth == nil {
		errs = append(errs, errors.New("natsapi: Config.Auth is required"))
	}
	return errors.Join(errs...)
}

// Service is the running micro service. Close it when done.
type Service struct {
	cfg    Config
	svc    micro.Service
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	// batchSlots bounds the batches answered at once, one per core: the
	// subscription hands a batch to a goroutine and reads the next
	// request, so that batches from several clients use every core.
	batchSlots chan struct{}
	mu         struct {
		sync.Mutex
		closed bool
		wg     sync.WaitGroup
	}
}

// Start registers the service and its endpoints on cfg.Conn.
func Start(cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, slots: make(chan struct{}, cfg.MaxWaiting), batchSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	meta := map[string]string{}
	if cfg.Node != "" {
		meta["node"] = cfg.Node
	}
	if cfg.Role != "" {
		meta["role"] = cfg.Role
	}
	var what []string
	if cfg.Checks != nil {
		what = append(what, "checks")
	}
	if cfg.Commands != nil {
		what = append(what, "commands")
	}
	svc, err := micro.AddService(cfg.Conn, micro.Config{
		Name:        ServiceName,
		Version:     Version,
		Description: "Grantlog permission " + strings.Join(what, " and "),
		Metadata:    meta,
	})
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("natsapi: add service: %w", err)
	}
	s.svc = svc
	jsonMeta := micro.WithEndpointMetadata(map[string]string{"format": "application/json"})
	add := func(g micro.Group, name string, h micro.HandlerFunc, opts ...micro.EndpointOpt) error {
		if err := g.AddEndpoint(name, h, append(opts, jsonMeta)...); err != nil {
			_ = svc.Stop()
			s.cancel()
			return fmt.Errorf("natsapi: add endpoint %s: %w", name, err)
		}
		return nil
	}
	if cfg.Checks != nil {
		g := svc.AddGroup(SubjectPrefix)
		for _, e := range []struct {
			name string
			h    micro.HandlerFunc
		}{{"check", s.check}, {"checks", s.checks}} {
			if err := add(g, e.name, e.h); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Commands != nil {
		// Commands share the default queue group: any command node may
		// take any command (they serialize on the stream).
		g := svc.AddGroup(CommandSubjectPrefix)
		for _, e := range s.commandEndpoints() {
			if err := add(g, endpointName(e.subject), e.handler, micro.WithEndpointSubject(e.subject)); err != nil {
				return nil, err
			}
		}
	}
	// Make sure the server has the endpoints' subscriptions before the
	// caller reports the node ready: requests sent right after readiness
	// must find a responder.
	if err := cfg.Conn.FlushTimeout(5 * time.Second); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("natsapi: flush subscriptions: %w", err)
	}
	return s, nil
}

// Info returns the service's identity and endpoints.
func (s *Service) Info() micro.Info { return s.svc.Info() }

// Close stops the service, cancels requests in progress and waits for
// them. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	s.mu.Unlock()
	err := s.svc.Stop()
	s.cancel()
	s.mu.wg.Wait()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("natsapi: stop: %w", err)
	}
	return nil
}

// serve answers req with fn: at once when the checker has applied rev,
// else on a goroutine of its own (bounded by MaxWaiting).
func (s *Service) serve(req micro.Request, rev uint64, fn func(ctx context.Context) (any, error)) {
	if rev <= s.cfg.Checks.Revision() {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		defer cancel()
		v, err := fn(ctx)
		s.reply(req, v, err, nil)
		return
	}
	s.async(req, nil, fn)
}

// async answers req with fn on a goroutine of its own (bounded by
// MaxWaiting), with hdr on the reply.
func (s *Service) async(req micro.Request, hdr micro.Headers, fn func(ctx context.Context) (any, error)) {
	s.spawn(s.slots, req, hdr, fn)
}

// spawn answers req with fn on a goroutine of its own, once it has a slot
// of slots (waiting for one), with hdr on the reply.
func (s *Service) spawn(slots chan struct{}, req micro.Request, hdr micro.Headers, fn func(ctx context.Context) (any, error)) {
	select {
	case slots <- struct{}{}:
	case <-s.ctx.Done():
		s.failWith(req, s.ctx.Err(), hdr)
		return
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		<-slots
		s.failWith(req, context.Canceled, hdr)
		return
	}
	s.mu.wg.Add(1)
	s.mu.Unlock()
	req = detached{Request: req, nc: s.cfg.Conn}
	go func() {
		defer s.mu.wg.Done()
		defer func() { <-slots }()
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		defer cancel()
		v, err := fn(ctx)
		s.reply(req, v, err, hdr)
	}()
}

// detached answers a request after its micro handler has returned. micro's
// own request records the outcome of Error (and of a failed Respond) for
// the endpoint's statistics, which micro reads as soon as the handler
// returns: a reply sent later from another goroutine would race with that
// read. detached publishes the same message (micro's error headers
// included) straight to the reply subject instead.
type detached struct {
	micro.Request
	nc *nats.Conn
}

// Respond sends data as the reply.
func (d detached) Respond(data []byte, opts ...micro.RespondOpt) error {
	m := &nats.Msg{Subject: d.Reply(), Data: data}
	for _, opt := range opts {
		opt(m)
	}
	return d.nc.PublishMsg(m)
}

// Error sends an error reply the way micro.Request.Error does.
func (d detached) Error(code, description string, data []byte, opts ...micro.RespondOpt) error {
	m := &nats.Msg{Subject: d.Reply(), Data: data, Header: nats.Header{
		micro.ErrorHeader: []string{description}, micro.ErrorCodeHeader: []string{code},
	}}
	for _, opt := range opts {
		opt(m)
	}
	return d.nc.PublishMsg(m)
}

func (s *Service) reply(req micro.Request, v any, err error, hdr micro.Headers) {
	if err != nil {
		if a, ok := v.(batchAnswer); ok {
			a.bb.Release()
		}
		s.failWith(req, err, hdr)
		return
	}
	var opts []micro.RespondOpt
	if hdr != nil {
		opts = append(opts, micro.WithHeaders(hdr))
	}
	data, done, merr := encodeReply(v)
	defer done()
	if merr != nil {
		s.failWith(req, fmt.Errorf("natsapi: encode reply: %w", merr), hdr)
		return
	}
	if rerr := req.Respond(data, opts...); rerr != nil {
		s.cfg.Logger.Warn("natsapi: respond", "subject", req.Subject(), "err", rerr)
	}
}

// decode reads a request's JSON strictly, as the HTTP API does.
func decode(data []byte, v any) error { return decodeLimit(data, v, MaxRequestBytes) }

// decodeLimit is decode with a size limit of its own.
func decodeLimit(data []byte, v any, limit int) error {
	if len(data) > limit {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "requestTooLarge",
			msg: fmt.Sprintf("request exceeds %d bytes; split the request", limit)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &apiError{status: http.StatusBadRequest, code: "malformedJson", msg: "request is empty; send a JSON object"}
	}
	// Decoding would silently replace invalid UTF-8 with U+FFFD.
	if !utf8.Valid(data) {
		return &apiError{status: http.StatusBadRequest, code: "invalidUtf8", msg: "request is not valid UTF-8; send JSON encoded in UTF-8"}
	}
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil {
		return &apiError{status: http.StatusBadRequest, code: "malformedJson", msg: "request is not valid JSON for this endpoint: " + err.Error()}
	}
	return nil
}

func (s *Service) authenticate(req micro.Request) (events.Caller, error) {
	c, err := s.cfg.Auth.Authenticate(req.Headers().Get(AuthorizationHeader))
	if err != nil {
		return events.Caller{}, &apiError{status: http.StatusUnauthorized, code: "unauthorized", msg: err.Error()}
	}
	return c, nil
}

func (s *Service) check(req micro.Request) {
	caller, err := s.authenticate(req)
	if err != nil {
		s.fail(req, err)
		return
	}
	var cr query.CheckRequest
	if err := decode(req.Data(), &cr); err != nil {
		s.fail(req, err)
		return
	}
	s.serve(req, cr.AtLeastRevision, func(ctx context.Context) (any, error) {
		return s.cfg.Checks.CheckAs(ctx, caller, &cr)
	})
}

func (s *Service) checks(req micro.Request) {
	caller, err := s.authenticate(req)
	if err != nil {
		s.fail(req, err)
		return
	}
	// The request is decoded with checkjson's fast path into pooled
	// memory (the generic decoder, with its errors, for anything else).
	bb := checkjson.GetBuffers()
	br := &bb.Req
	if len(req.Data()) > MaxRequestBytes || !checkjson.DecodeBatchRequest(req.Data(), br) {
		br = &query.BatchRequest{}
		if err := decode(req.Data(), br); err != nil {
			bb.Release()
			s.fail(req, err)
			return
		}
	}
	rev := br.AtLeastRevision
	for i := range br.Checks {
		rev = max(rev, br.Checks[i].AtLeastRevision)
	}
	// The answer owns bb from here: reply returns it to the pool once the
	// answer is sent (or refused).
	fn := func(ctx context.Context) (any, error) {
		err := s.cfg.Checks.CheckBatchAsInto(ctx, caller, br, &bb.Res)
		return batchAnswer{bb}, err
	}
	if rev > s.cfg.Checks.Revision() {
		s.async(req, nil, fn) // waits for the revision
		return
	}
	s.spawn(s.batchSlots, req, nil, fn)
}

// batchAnswer is a batch answer in pooled memory, released once sent.
type batchAnswer struct{ bb *checkjson.Buffers }

// encodeReply encodes a reply: a batch answer with checkjson's encoder
// (the same JSON as goccy/go-json's), anything else generically. done
// returns the buffer once the reply is sent.
func encodeReply(v any) (data []byte, done func(), err error) {
	a, ok := v.(batchAnswer)
	if !ok {
		data, err = gojson.Marshal(v)
		return data, func() {}, err
	}
	a.bb.Out, err = checkjson.AppendBatchResult(a.bb.Out[:0], &a.bb.Res)
	return a.bb.Out, a.bb.Release, err
}

// apiError is a refusal of this package (authentication, decoding).
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.msg }

// ErrorBody is the JSON body of an error reply, as over HTTP.
type ErrorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	// Revision is the replica's applied revision on revisionNotYetApplied.
	Revision uint64 `json:"revision,omitempty"`
	// RequestID is the command's request id (commands only).
	RequestID string `json:"requestId,omitempty"`
}

// ErrorOf translates an error into the HTTP status and body the HTTP API
// gives it.
func ErrorOf(err error) (int, ErrorBody) {
	var (
		ae *apiError
		qe *query.Error
		ze *auth.Error
		ce *command.Error
	)
	switch {
	case errors.As(err, &ae):
		return ae.status, ErrorBody{ErrorCode: ae.code, ErrorMessage: ae.msg}
	case errors.As(err, &ze):
		if errors.Is(ze.Kind, auth.ErrUnauthorized) {
			return http.StatusUnauthorized, ErrorBody{ErrorCode: ze.Code, ErrorMessage: ze.Message}
		}
		return http.StatusForbidden, ErrorBody{ErrorCode: ze.Code, ErrorMessage: ze.Message}
	case errors.As(err, &ce):
		return commandStatus(ce.Kind), ErrorBody{ErrorCode: ce.Code, ErrorMessage: ce.Message}
	case errors.As(err, &qe):
		b := ErrorBody{ErrorCode: qe.Code, ErrorMessage: qe.Message}
		switch {
		case errors.Is(qe.Kind, query.ErrInvalid):
			return http.StatusBadRequest, b
		case errors.Is(qe.Kind, query.ErrNotFound):
			return http.StatusNotFound, b
		case errors.Is(qe.Kind, query.ErrNotYet):
			b.Revision = qe.Revision
			return http.StatusServiceUnavailable, b
		}
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, ErrorBody{ErrorCode: "canceled", ErrorMessage: "the request was canceled (the node is stopping); retry it"}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, ErrorBody{ErrorCode: "timeout", ErrorMessage: "the request timed out; retry it"}
	}
	return http.StatusInternalServerError, ErrorBody{ErrorCode: "internal", ErrorMessage: "internal error; the server log has details"}
}

// commandStatus is the HTTP status of a refused command's kind.
func commandStatus(kind error) int {
	switch {
	case errors.Is(kind, command.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(kind, command.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(kind, command.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(kind, command.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, command.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (s *Service) fail(req micro.Request, err error) { s.failWith(req, err, nil) }

// failWith answers req with err's micro error, adding hdr (a command's
// X-Request-Id, also put in the body as requestId).
func (s *Service) failWith(req micro.Request, err error, hdr micro.Headers) {
	status, body := ErrorOf(err)
	h := micro.Headers{ErrorCodeHeader: []string{body.ErrorCode}}
	for k, v := range hdr {
		h[k] = v
	}
	if id := hdr.Get(RequestIDHeader); id != "" {
		body.RequestID = id
	}
	if status == http.StatusInternalServerError {
		s.cfg.Logger.Error("natsapi: request failed", "subject", req.Subject(), "err", err)
	}
	data, _ := json.Marshal(body)
	if rerr := req.Error(strconv.Itoa(status), body.ErrorMessage, data, micro.WithHeaders(h)); rerr != nil {
		s.cfg.Logger.Warn("natsapi: respond", "subject", req.Subject(), "err", rerr)
	}
}
