package natsapi

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/metrics"
)

// EndpointName is an operation's micro endpoint name (micro names allow no
// dots): "check", "cmd-role-create", "read-role-get".
func EndpointName(o *api.Op) string {
	switch o.Kind {
	case api.Command:
		return "cmd-" + strings.ReplaceAll(o.Name, ".", "-")
	case api.Read:
		return "read-" + strings.ReplaceAll(o.Name, ".", "-")
	}
	return strings.ReplaceAll(o.Name, ".", "-")
}

// CommandSubjects lists every command subject (grantlog.v1.cmd.<name>).
func CommandSubjects() []string { return subjects(api.Command) }

// ReadSubjects lists every read subject (grantlog.v1.read.<name>).
func ReadSubjects() []string { return subjects(api.Read) }

func subjects(k api.Kind) []string {
	var out []string
	for _, o := range api.Table() {
		if o.Kind == k && o.Subject != "" {
			out = append(out, o.Subject)
		}
	}
	return out
}

// handler serves an operation of the table: authenticate, decode the JSON
// payload strictly (every field, path parameters included; for operations
// without an HTTP body, with the rules of the HTTP query string, and an
// empty payload is {}), validate, and run it off the subscription's
// goroutine. Replies carry X-Request-Id.
func (s *Service) handler(o *api.Op) micro.HandlerFunc {
	return func(req micro.Request) {
		start := time.Now()
		hdr := requestID(req)
		id := hdr.Get(RequestIDHeader)
		rec := s.record(o, req, id, start)
		if rec != nil {
			req = rec
		}
		var caller events.Caller
		if !o.Public {
			c, err := s.authenticate(req)
			if err != nil {
				s.failWith(req, err, hdr)
				return
			}
			caller = c
			noteCaller(req, c)
		}
		in := o.NewRequest()
		var err error
		if o.Body {
			err = api.Decode(req.Data(), in, o.MaxBytes)
		} else {
			err = o.BindFields(in, req.Data())
		}
		if err != nil {
			s.failWith(req, err, hdr)
			return
		}
		if err := o.Validate(in); err != nil {
			s.failWith(req, err, hdr)
			return
		}
		call := &api.Call{
			Caller:         caller,
			IdempotencyKey: req.Headers().Get(IdempotencyKeyHeader),
			RequestID:      id,
			Source:         &events.Source{Via: events.ViaNATS, RequestID: id},
		}
		run := func(ctx context.Context) (any, error) {
			if rec != nil {
				ctx = metrics.WithRetries(ctx, &rec.retries)
			}
			return o.Run(ctx, s.cfg.Deps, call, in)
		}
		// A read of the index the node has already reached is answered on
		// the subscription's goroutine, as a check is: it waits for
		// nothing, so requests that wait (for a revision, or for JetStream)
		// cannot hold it up.
		if w, ok := in.(interface{ MinRevision() uint64 }); ok && o.Kind == api.Read &&
			s.cfg.Checks != nil && w.MinRevision() <= s.cfg.Checks.Revision() {
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
			defer cancel()
			v, err := run(ctx)
			s.reply(req, v, err, hdr)
			return
		}
		s.spawn(s.opSlots, req, hdr, run)
	}
}
