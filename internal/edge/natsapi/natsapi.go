package natsapi

import (
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

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/internal/edge/ratelimit"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/query"
)

// Version is the micro service's version (semver, as micro requires). Set
// it at build time with -ldflags "-X github.com/grantlog/grantlog/internal/edge/natsapi.Version=...".
var Version = "0.1.0"

// Service identity and subjects.
const (
	ServiceName   = "grantlog"
	SubjectPrefix = api.SubjectPrefix
	CheckSubject  = SubjectPrefix + ".check"
	ChecksSubject = SubjectPrefix + ".checks"
	// CommandSubjectPrefix prefixes the command subjects:
	// grantlog.v1.cmd.<name>, e.g. grantlog.v1.cmd.role.create.
	CommandSubjectPrefix = api.CommandSubjectPrefix
	// ReadSubjectPrefix prefixes the read subjects:
	// grantlog.v1.read.<name>, e.g. grantlog.v1.read.role.get.
	ReadSubjectPrefix = api.ReadSubjectPrefix
	// StatusSubjectPrefix is where nodes publish their status each second:
	// grantlog.status.<node>.
	StatusSubjectPrefix = "grantlog.status"
	// ErrorCodeHeader carries the API's errorCode on an error reply.
	ErrorCodeHeader = "Grantlog-Error-Code"
	// AuthorizationHeader carries the caller's credential on a request.
	AuthorizationHeader = api.AuthorizationHeader
	// IdempotencyKeyHeader makes a retried command one command, as over HTTP.
	IdempotencyKeyHeader = api.IdempotencyKeyHeader
	// RequestIDHeader ties the request to its log lines and audit record;
	// made up when absent. Replies echo it.
	RequestIDHeader = api.RequestIDHeader
)

// MaxRequestBytes bounds a request's payload (as HTTP bodies are bounded).
const MaxRequestBytes = api.MaxRequestBytes

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
	// Serve lists the kinds of operation of the table (api.Table) to
	// serve: api.Check and api.Read where API clients import checks from
	// (the readers' account), api.Command in the command account.
	Serve []api.Kind
	// Deps runs the operations. Required.
	Deps *api.Deps
	// Checks answers the checks (their fast path); default Deps.Query.
	Checks Checker
	// Auth authenticates callers. Required.
	Auth Authenticator
	// Node and NodeRole (the node's deployment role) go into the
	// service's metadata (shown by discovery).
	Node, NodeRole string
	// Timeout bounds one request; default 30s.
	Timeout time.Duration
	// MaxWaiting bounds the requests waiting for a revision at once; more
	// wait for a slot (back-pressure on the subscription); default 256.
	MaxWaiting int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Limiter limits each authenticated caller's requests (a 429 micro
	// error, errorCode rateLimited, with a Retry-After header); nil: no
	// limit. Requests without a valid credential are refused (401)
	// before it.
	Limiter *ratelimit.Limiter
	// Metrics, when set, records checks (transport nats) and commands
	// (observe.go).
	Metrics *metrics.Metrics
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
	if c.Checks == nil && c.Deps != nil && c.Deps.Query != nil {
		c.Checks = c.Deps.Query
	}
}

func (c *Config) serves(k api.Kind) bool {
	for _, s := range c.Serve {
		if s == k {
			return true
		}
	}
	return false
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("natsapi: Config.Conn is required"))
	}
	if len(c.Serve) == 0 {
		errs = append(errs, errors.New("natsapi: Config.Serve is required: the kinds of operation to serve"))
	}
	if c.Deps == nil {
		errs = append(errs, errors.New("natsapi: Config.Deps is required"))
	} else {
		if c.serves(api.Command) && c.Deps.Commands == nil {
			errs = append(errs, errors.New("natsapi: Config.Deps.Commands is required to serve commands"))
		}
		if (c.serves(api.Command) || c.serves(api.Read)) && c.Deps.Query == nil {
			errs = append(errs, errors.New("natsapi: Config.Deps.Query is required to serve commands and reads"))
		}
	}
	if c.serves(api.Check) && c.Checks == nil && (c.Deps == nil || c.Deps.Query == nil) {
		errs = append(errs, errors.New("natsapi: Config.Checks (or Deps.Query) is required to serve checks"))
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
	// slots bounds the checks waiting for a revision; opSlots the other
	// operations answered off the subscription's goroutine (reads waiting
	// for a revision or reading JetStream, commands): neither can starve
	// the other.
	slots   chan struct{}
	opSlots chan struct{}
	// batchSlots bounds the batches answered at once, one per core: the
	// subscription hands a batch to a goroutine and reads the next
	// request, so that batches from several clients use every core.
	batchSlots chan struct{}
	// cmdOps are the command metrics by operation name (observe.go).
	cmdOps map[string]*metrics.CommandOp
	mu     struct {
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
	s := &Service{cfg: cfg, slots: make(chan struct{}, cfg.MaxWaiting), opSlots: make(chan struct{}, cfg.MaxWaiting), batchSlots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cmdOps = s.commandOps()
	meta := map[string]string{}
	if cfg.Node != "" {
		meta["node"] = cfg.Node
	}
	if cfg.NodeRole != "" {
		meta["role"] = cfg.NodeRole
	}
	var what []string
	for _, k := range cfg.Serve {
		what = append(what, k.String()+"s")
	}
	svc, err := micro.AddService(cfg.Conn, micro.Config{
		Name:        ServiceName,
		Version:     Version,
		Description: "Grantlog permission " + strings.Join(what, ", "),
		Metadata:    meta,
	})
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("natsapi: add service: %w", err)
	}
	s.svc = svc
	jsonMeta := micro.WithEndpointMetadata(map[string]string{"format": "application/json"})
	// Every node serving an endpoint joins micro's default queue group:
	// any of them may take any request (commands serialize on the stream).
	for _, o := range api.Table() {
		if o.Subject == "" || !cfg.serves(o.Kind) {
			continue
		}
		h := s.handler(o)
		switch {
		case o.Fast && o.Name == "check":
			h = func(req micro.Request) { s.check(o, req) }
		case o.Fast && o.Name == "checks":
			h = func(req micro.Request) { s.checks(o, req) }
		case o.Fast:
			panic("natsapi: no handler for the fast operation " + o.Name)
		}
		if err := svc.AddEndpoint(EndpointName(o), h, micro.WithEndpointSubject(o.Subject), jsonMeta); err != nil {
			_ = svc.Stop()
			s.cancel()
			return nil, fmt.Errorf("natsapi: add endpoint %s: %w", o.Name, err)
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
func (s *Service) serve(req micro.Request, hdr micro.Headers, rev uint64, fn func(ctx context.Context) (any, error)) {
	if rev <= s.cfg.Checks.Revision() {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		defer cancel()
		v, err := fn(ctx)
		s.reply(req, v, err, hdr)
		return
	}
	s.async(req, hdr, fn)
}

// requestID is the request's X-Request-Id (made up when absent), as the
// headers of its reply.
func requestID(req micro.Request) micro.Headers {
	if h := checkRequestID(req); h != nil {
		return h
	}
	return micro.Headers{RequestIDHeader: []string{uuid.NewString()}}
}

// checkRequestID is requestID for the check hot path: the request's
// X-Request-Id echoed on the reply, but none made up (a reply without
// headers is cheaper to send and to read).
func checkRequestID(req micro.Request) micro.Headers {
	id := req.Headers().Get(RequestIDHeader)
	if id == "" || len(id) > 128 {
		return nil
	}
	return micro.Headers{RequestIDHeader: []string{id}}
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
	if rec := recorderOf(req); rec != nil {
		rec.finish(rec.okStatus, "")
	}
}

func (s *Service) authenticate(req micro.Request) (events.Caller, error) {
	c, err := s.cfg.Auth.Authenticate(req.Headers().Get(AuthorizationHeader))
	if err != nil {
		return events.Caller{}, api.Errorf(http.StatusUnauthorized, "unauthorized", "%s", err.Error())
	}
	if s.cfg.Limiter != nil {
		if err := s.cfg.Limiter.Check(ratelimit.CallerKey(c)); err != nil {
			return events.Caller{}, err
		}
	}
	return c, nil
}

func (s *Service) check(o *api.Op, req micro.Request) {
	start := time.Now()
	hdr := checkRequestID(req)
	if rec := s.record(o, req, hdr.Get(RequestIDHeader), start); rec != nil {
		req = rec
	}
	cm := s.checkMetrics()
	caller, err := s.authenticate(req)
	if err != nil {
		cm.Check(metrics.NATS, metrics.Error, start)
		s.failWith(req, err, hdr)
		return
	}
	noteCaller(req, caller)
	var cr query.CheckRequest
	if err := api.Decode(req.Data(), &cr, MaxRequestBytes); err != nil {
		cm.Check(metrics.NATS, metrics.Error, start)
		s.failWith(req, err, hdr)
		return
	}
	fn := func(ctx context.Context) (any, error) {
		res, err := s.cfg.Checks.CheckAs(ctx, caller, &cr)
		cm.Check(metrics.NATS, metrics.DecisionOf(res.Allowed, err), start)
		return res, err
	}
	if cr.AtRevision != 0 || cr.AsOf != nil {
		// A check about the past may replay the stream: never on the
		// subscription's goroutine.
		s.async(req, hdr, fn)
		return
	}
	s.serve(req, hdr, cr.AtLeastRevision, fn)
}

func (s *Service) checks(o *api.Op, req micro.Request) {
	start := time.Now()
	hdr := checkRequestID(req)
	if rec := s.record(o, req, hdr.Get(RequestIDHeader), start); rec != nil {
		req = rec
	}
	cm := s.checkMetrics()
	caller, err := s.authenticate(req)
	if err != nil {
		cm.Batch(metrics.NATS, 0, 0, 0, true, start)
		s.failWith(req, err, hdr)
		return
	}
	noteCaller(req, caller)
	// The request is decoded with checkjson's fast path into pooled
	// memory (the generic decoder, with its errors, for anything else).
	bb := checkjson.GetBuffers()
	br := &bb.Req
	if len(req.Data()) > MaxRequestBytes || !checkjson.DecodeBatchRequest(req.Data(), br) {
		br = &query.BatchRequest{}
		if err := api.Decode(req.Data(), br, MaxRequestBytes); err != nil {
			bb.Release()
			cm.Batch(metrics.NATS, 0, 0, 0, true, start)
			s.failWith(req, err, hdr)
			return
		}
	}
	rev := br.AtLeastRevision
	past := false
	for i := range br.Checks {
		rev = max(rev, br.Checks[i].AtLeastRevision)
		past = past || br.Checks[i].AtRevision != 0 || br.Checks[i].AsOf != nil
	}
	// The answer owns bb from here: reply returns it to the pool once the
	// answer is sent (or refused).
	fn := func(ctx context.Context) (any, error) {
		err := s.cfg.Checks.CheckBatchAsInto(ctx, caller, br, &bb.Res)
		if cm != nil {
			allowed, denied, errored := checkjson.Decisions(&bb.Res)
			cm.Batch(metrics.NATS, allowed, denied, errored, err != nil, start)
		}
		return batchAnswer{bb}, err
	}
	if rev > s.cfg.Checks.Revision() || past {
		s.async(req, hdr, fn) // waits for the revision, or may replay the stream
		return
	}
	s.spawn(s.batchSlots, req, hdr, fn)
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

// failWith answers req with err's micro error, adding hdr (a command's
// X-Request-Id, also put in the body as requestId).
func (s *Service) failWith(req micro.Request, err error, hdr micro.Headers) {
	body, internal := api.ErrorOf(err)
	h := micro.Headers{ErrorCodeHeader: []string{body.Code}}
	for k, v := range hdr {
		h[k] = v
	}
	if secs, ok := ratelimit.RetryAfter(err); ok {
		h[ratelimit.RetryAfterHeader] = []string{secs}
	}
	body.RequestID = hdr.Get(RequestIDHeader)
	if internal {
		s.cfg.Logger.Error("natsapi: request failed", "subject", req.Subject(), "requestId", body.RequestID, "err", err)
		body.Message = "internal error; the server log has details"
		if body.RequestID != "" {
			body.Message += " under requestId " + body.RequestID
		}
	}
	data, _ := json.Marshal(body)
	if rerr := req.Error(strconv.Itoa(body.Status), body.Message, data, micro.WithHeaders(h)); rerr != nil {
		s.cfg.Logger.Warn("natsapi: respond", "subject", req.Subject(), "err", rerr)
	}
	if rec := recorderOf(req); rec != nil {
		rec.finish(body.Status, body.Code)
	}
}
