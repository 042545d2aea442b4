package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
	"github.com/grantlog/grantlog/perm"
)

// Errors of the package.
var (
	// ErrInvalid: a filter is not valid (an unknown event type, a bad
	// namespace); the message says which.
	ErrInvalid = errors.New("audit: invalid request")
	// ErrClosed: the Service was closed (the server is shutting down).
	ErrClosed = errors.New("audit: closed")
)

// Authorizer decides whether a caller holds a permission ({namespace} bound
// to namespace); nil means allowed, an *auth.Error a refusal, any other
// error a failure. *auth.Authorizer satisfies it.
type Authorizer interface {
	Authorize(ctx context.Context, caller events.Caller, required perm.Permission, namespace string) error
}

// Filter selects records.
type Filter struct {
	// Namespaces, when set, limits records to these namespaces ("_platform"
	// for platform-level objects). Every one must be readable by the caller.
	// When empty, records of every namespace the caller may read.
	Namespaces []string
	// Types, when set, limits records to these event types.
	Types []string
	// FromRevision is the first revision to return (0: from the start).
	FromRevision uint64
	// Since, when FromRevision is 0, starts at the first event stored at or
	// after this time.
	Since time.Time
}

// Config configures a Service.
type Config struct {
	// Stream is the event stream's name. Required.
	Stream string
	// SubjectPrefix of event subjects; default events.DefaultSubjectPrefix.
	SubjectPrefix string
	// AccessTTL is how long a subscription trusts a decision that the caller
	// may (or may not) read a namespace before asking again, so a revoked
	// permission ends delivery within it; default 5s.
	AccessTTL time.Duration
	// MaxScan bounds how many events one Page call reads looking for
	// matches (the page then ends early with a next cursor); default 10000.
	MaxScan int
	// Members, when set, lists a role's holders for the permission-change
	// feed's expanded role effects.
	Members func(roleID string) []index.Member
}

// Service serves audit records. It is safe for concurrent use. Close ends
// every open subscription.
type Service struct {
	cfg   Config
	js    jetstream.JetStream
	authz Authorizer
	reg   *events.Registry
	types map[string]bool

	done      chan struct{}
	closeOnce sync.Once
	// subscribers counts the open subscriptions (metrics).
	subscribers atomic.Int64
}

// New returns a Service reading cfg.Stream through js and authorizing with az.
func New(cfg Config, js jetstream.JetStream, az Authorizer) *Service {
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = events.DefaultSubjectPrefix
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 5 * time.Second
	}
	if cfg.MaxScan <= 0 {
		cfg.MaxScan = 10000
	}
	reg := events.NewRegistry()
	types := map[string]bool{}
	for _, t := range reg.Types() {
		types[t] = true
	}
	return &Service{cfg: cfg, js: js, authz: az, reg: reg, types: types, done: make(chan struct{})}
}

// Close ends every open subscription (their Next returns ErrClosed) and
// refuses new ones. It is idempotent; the HTTP server calls it when it
// starts shutting down, so open streams do not hold shutdown up.
func (s *Service) Close() { s.closeOnce.Do(func() { close(s.done) }) }

// Subscribers counts the open subscriptions (Subscribe and
// SubscribeEffects): those whose Stop, context or Service has not ended
// them.
func (s *Service) Subscribers() int { return int(s.subscribers.Load()) }

// Done is closed by Close.
func (s *Service) Done() <-chan struct{} { return s.done }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// RequiredPermission is what reading namespace ns's records needs (Read).
func RequiredPermission(ns string) string {
	if ns == events.PlatformNamespace {
		return auth.PermPlatformAudit
	}
	return auth.PermAudit(ns)
}

// access decides, with a short-lived cache, which namespaces a caller may read.
type access struct {
	s      *Service
	caller events.Caller
	cache  map[string]accessEntry
}

type accessEntry struct {
	ok bool
	at time.Time
}

// check returns nil when the caller may read ns, an *auth.Error when not.
func (a *access) check(ctx context.Context, ns string) error {
	if a.caller.Root {
		return nil
	}
	if a.s.authz == nil {
		return &auth.Error{Kind: auth.ErrForbidden, Code: "forbidden", Message: "no authorizer configured"}
	}
	return a.s.authz.Authorize(ctx, a.caller, perm.Permission{Resource: RequiredPermission(ns), Action: perm.Read}, ns)
}

// allowed reports whether the caller may read ns (cached for AccessTTL).
func (a *access) allowed(ctx context.Context, ns string) (bool, error) {
	if a.caller.Root {
		return true, nil
	}
	if e, ok := a.cache[ns]; ok && time.Since(e.at) < a.s.cfg.AccessTTL {
		return e.ok, nil
	}
	err := a.check(ctx, ns)
	var ae *auth.Error
	switch {
	case err == nil:
	case errors.As(err, &ae):
	default:
		return false, err
	}
	if len(a.cache) > 10000 {
		clear(a.cache)
	}
	a.cache[ns] = accessEntry{ok: err == nil, at: time.Now()}
	return err == nil, nil
}

// prepare validates f and authorizes its namespaces; it returns the access
// checker and the consumer configuration.
func (s *Service) prepare(ctx context.Context, caller events.Caller, f Filter) (*access, jetstream.OrderedConsumerConfig, error) {
	var cc jetstream.OrderedConsumerConfig
	select {
	case <-s.done:
		return nil, cc, ErrClosed
	default:
	}
	a := &access{s: s, caller: caller, cache: map[string]accessEntry{}}
	nss := slices.Clone(f.Namespaces)
	slices.Sort(nss)
	nss = slices.Compact(nss)
	for _, ns := range nss {
		if ns != events.PlatformNamespace && !events.ValidNamespace(ns) {
			return nil, cc, invalid("namespace %q is not valid: use a namespace name or %s", ns, events.PlatformNamespace)
		}
		if err := a.check(ctx, ns); err != nil {
			return nil, cc, err
		}
		cc.FilterSubjects = append(cc.FilterSubjects, events.NamespaceFilter(s.cfg.SubjectPrefix, ns))
	}
	for _, t := range f.Types {
		if !s.types[t] {
			return nil, cc, invalid("unknown event type %q; known types: %v", t, s.reg.Types())
		}
	}
	switch {
	case f.FromRevision > 0:
		cc.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cc.OptStartSeq = f.FromRevision
	case !f.Since.IsZero():
		cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		since := f.Since
		cc.OptStartTime = &since
	default:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	return a, cc, nil
}

// Subscription delivers records in revision order. It is not safe for
// concurrent use; Stop it when done.
type Subscription struct {
	s      *Service
	access *access
	types  map[string]bool
	it     jetstream.MessagesContext
	ctx    context.Context // ends on Stop, on the Service's Close, or with the parent
	cancel context.CancelFunc
	last   uint64
}

// Subscribe authorizes f for caller (an *auth.Error when a namespace of f
// may not be read; an error wrapping ErrInvalid for a bad filter) and
// starts a subscription that follows the stream until ctx ends, Stop, or
// the Service's Close.
func (s *Service) Subscribe(ctx context.Context, caller events.Caller, f Filter) (*Subscription, error) {
	a, cc, err := s.prepare(ctx, caller, f)
	if err != nil {
		return nil, err
	}
	stream, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", s.cfg.Stream, err)
	}
	cons, err := stream.OrderedConsumer(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("audit: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(500))
	if err != nil {
		return nil, fmt.Errorf("audit: messages: %w", err)
	}
	sub := &Subscription{s: s, access: a, it: it}
	if len(f.Types) > 0 {
		sub.types = map[string]bool{}
		for _, t := range f.Types {
			sub.types[t] = true
		}
	}
	sub.ctx, sub.cancel = context.WithCancel(ctx)
	s.subscribers.Add(1)
	go func() {
		defer s.subscribers.Add(-1)
		select {
		case <-s.done:
			sub.cancel()
		case <-sub.ctx.Done():
		}
	}()
	return sub, nil
}

// Stop ends the subscription. It is idempotent.
func (sub *Subscription) Stop() {
	sub.cancel()
	sub.it.Stop()
}

// Next returns the next record the caller may read that matches the
// filter. It blocks until there is one, ctx ends (returning ctx's error:
// a subscription survives a Next whose ctx timed out), or the subscription
// ends (ErrClosed when the Service was closed).
func (sub *Subscription) Next(ctx context.Context) (Record, error) {
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sub.ctx, cancel)
	defer stop()
	for {
		msg, err := sub.it.Next(jetstream.NextContext(nctx))
		if err != nil {
			select {
			case <-sub.s.done:
				return Record{}, ErrClosed
			default:
			}
			if ctx.Err() != nil {
				return Record{}, ctx.Err()
			}
			if sub.ctx.Err() != nil {
				return Record{}, sub.ctx.Err()
			}
			return Record{}, fmt.Errorf("audit: next: %w", err)
		}
		rec, ok, err := sub.s.visible(nctx, sub.access, sub.types, msg)
		if err != nil {
			return Record{}, err
		}
		sub.last = rec.Revision
		if ok {
			return rec, nil
		}
	}
}

// LastRevision is the revision of the last event the subscription read
// (delivered or filtered out).
func (sub *Subscription) LastRevision() uint64 { return sub.last }

// visible decodes msg and reports whether it passes the type filter and
// the caller may read it.
func (s *Service) visible(ctx context.Context, a *access, types map[string]bool, msg jetstream.Msg) (Record, bool, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return Record{}, false, fmt.Errorf("audit: metadata: %w", err)
	}
	ns := namespaceOf(s.cfg.SubjectPrefix, msg.Subject())
	ok, err := a.allowed(ctx, ns)
	if err != nil || !ok {
		return Record{Revision: meta.Sequence.Stream}, false, err
	}
	rec := Decode(s.reg, s.cfg.SubjectPrefix, meta.Sequence.Stream, msg.Subject(), msg.Data())
	if h := msg.Headers(); h != nil {
		rec.Signature = h.Get(logsig.Header)
	}
	if rec.Namespace != ns {
		// The envelope claims another namespace than its subject: show it
		// only to callers who may read both.
		if ok, err := a.allowed(ctx, rec.Namespace); err != nil || !ok {
			return rec, false, err
		}
	}
	return rec, types == nil || types[rec.Type], nil
}

// Page is one page of records.
type Page struct {
	Data []Record `json:"data"`
	// Next is the revision to continue from (as FromRevision); 0 when the
	// page reached the end of the stream.
	Next uint64 `json:"next,omitempty"`
	// Revision is the last revision of the stream when the page was read.
	Revision uint64 `json:"revision"`
}

// Page returns up to limit records matching f from f's start, reading at
// most Config.MaxScan events.
func (s *Service) Page(ctx context.Context, caller events.Caller, f Filter, limit int) (Page, error) {
	a, cc, err := s.prepare(ctx, caller, f)
	if err != nil {
		return Page{}, err
	}
	stream, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return Page{}, fmt.Errorf("audit: stream %s: %w", s.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return Page{}, fmt.Errorf("audit: stream info: %w", err)
	}
	page := Page{Data: []Record{}, Revision: info.State.LastSeq}
	if info.State.LastSeq == 0 || f.FromRevision > info.State.LastSeq {
		return page, nil
	}
	cons, err := stream.OrderedConsumer(ctx, cc)
	if err != nil {
		return Page{}, fmt.Errorf("audit: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(min(limit+1, 1000)))
	if err != nil {
		return Page{}, fmt.Errorf("audit: messages: %w", err)
	}
	defer it.Stop()
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return page, nil
	}
	var types map[string]bool
	if len(f.Types) > 0 {
		types = map[string]bool{}
		for _, t := range f.Types {
			types[t] = true
		}
	}
	for scanned := 0; ; scanned++ {
		if len(page.Data) >= limit || scanned >= s.cfg.MaxScan {
			return page, nil
		}
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return Page{}, fmt.Errorf("audit: next: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return Page{}, fmt.Errorf("audit: metadata: %w", err)
		}
		rec, ok, err := s.visible(ctx, a, types, msg)
		if err != nil {
			return Page{}, err
		}
		if ok {
			page.Data = append(page.Data, rec)
		}
		page.Next = meta.Sequence.Stream + 1
		if meta.NumPending == 0 || meta.Sequence.Stream >= info.State.LastSeq {
			page.Next = 0
			return page, nil
		}
	}
}
