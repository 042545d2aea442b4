package natsapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/metrics"
)

// The access log: one line per request ("request", at info; checks at
// debug, as over HTTP), written when the reply is sent (reply, failWith),
// with the request id, the caller (actor type and id, never a credential),
// the operation, the status and errorCode, and the duration. Metrics:
// checks by decision, commands by outcome.

// recorded is a request whose answer is logged and counted.
type recorded struct {
	micro.Request
	s        *Service
	op       string
	level    slog.Level
	okStatus int
	start    time.Time
	id       string
	caller   events.Caller
	cmd      *metrics.CommandOp
	retries  metrics.Retries
}

// record wraps req for the access log and the command metrics of o, or
// returns nil when neither wants it (a check with the logger above debug).
func (s *Service) record(o *api.Op, req micro.Request, id string, start time.Time) *recorded {
	level := slog.LevelInfo
	if o.Fast {
		level = slog.LevelDebug
	}
	cmd := s.cmdOps[o.Name]
	if cmd == nil && !s.cfg.Logger.Enabled(context.Background(), level) {
		return nil
	}
	return &recorded{Request: req, s: s, op: o.Name, level: level, okStatus: o.Status, start: start, id: id, cmd: cmd}
}

// recorderOf is req's recorder, if any (detached by spawn or not).
func recorderOf(req micro.Request) *recorded {
	if d, ok := req.(detached); ok {
		req = d.Request
	}
	r, _ := req.(*recorded)
	return r
}

// noteCaller records the authenticated caller on req's recorder, if any.
func noteCaller(req micro.Request, c events.Caller) {
	if r := recorderOf(req); r != nil {
		r.caller = c
	}
}

// finish counts and logs the answer: status (code: its errorCode).
func (r *recorded) finish(status int, code string) {
	r.cmd.Observe(metrics.OutcomeOf(status, r.retries.Load()), r.start)
	ctx := context.Background()
	if !r.s.cfg.Logger.Enabled(ctx, r.level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("transport", "nats"), slog.String("requestId", r.id),
		slog.String("operation", r.op), slog.String("subject", r.Subject()), slog.Int("status", status))
	if code != "" {
		attrs = append(attrs, slog.String("errorCode", code))
	}
	if r.caller.Type != "" {
		attrs = append(attrs, slog.String("actorType", r.caller.Type), slog.String("actorId", r.caller.ID))
		if r.caller.OnBehalfOf != nil {
			attrs = append(attrs, slog.String("onBehalfOf", r.caller.OnBehalfOf.Type+":"+r.caller.OnBehalfOf.ID))
		}
	}
	attrs = append(attrs, slog.Float64("durationMs", float64(time.Since(r.start).Microseconds())/1000))
	r.s.cfg.Logger.LogAttrs(ctx, r.level, "request", attrs...)
}

// commandOps resolves the command metrics of every command the service
// serves (nil without metrics).
func (s *Service) commandOps() map[string]*metrics.CommandOp {
	if s.cfg.Metrics == nil {
		return nil
	}
	ops := map[string]*metrics.CommandOp{}
	for _, o := range api.Table() {
		if o.Kind == api.Command && o.Subject != "" && s.cfg.serves(o.Kind) {
			ops[o.Name] = s.cfg.Metrics.Commands.Op(o.Name)
		}
	}
	return ops
}

// checks are the check metrics, nil without metrics.
func (s *Service) checkMetrics() *metrics.Checks {
	if s.cfg.Metrics == nil {
		return nil
	}
	return s.cfg.Metrics.Checks
}
