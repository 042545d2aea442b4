package natsapi

import (
	"bytes"
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/principal"
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
// payload strictly (every field, path parameters included; an empty
// payload is {} for operations without an HTTP body), validate, and run
// it off the subscription's goroutine. Replies carry X-Request-Id.
func (s *Service) handler(o *api.Op) micro.HandlerFunc {
	return func(req micro.Request) {
		id := req.Headers().Get(RequestIDHeader)
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		hdr := micro.Headers{RequestIDHeader: []string{id}}
		var caller principal.Caller
		if !o.Public {
			c, err := s.authenticate(req)
			if err != nil {
				s.failWith(req, err, hdr)
				return
			}
			caller = c
		}
		in := o.NewRequest()
		data := req.Data()
		if !o.Body && len(data) <= o.MaxBytes && len(bytes.TrimSpace(data)) == 0 {
			data = []byte("{}")
		}
		if err := api.Decode(data, in, o.MaxBytes); err != nil {
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
		s.async(req, hdr, func(ctx context.Context) (any, error) { return o.Run(ctx, s.cfg.Deps, call, in) })
	}
}
