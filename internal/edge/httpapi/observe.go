package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/metrics"
)

// The access log: one line per request ("request", at info; checks at
// debug, see accessLevel), with the request id, the caller (actor type and
// id, never a credential), the operation, the status and errorCode, and
// the duration. Metrics: checks by decision (check, checkBatch), commands
// by outcome (route).

// accessLevel is the level of an operation's access log line. A check's
// line is at debug: logging every check at info would cost the check fast
// path a recorder and a log record per request (the whole API answers
// checks at hundreds of thousands a second); their counts and latencies are
// in the metrics instead.
func accessLevel(o *api.Op) slog.Level {
	if o.Fast {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// recorder remembers what a request was answered, for the access log and
// the command metrics.
type recorder struct {
	http.ResponseWriter
	status  int
	code    string // the answer's errorCode
	caller  events.Caller
	retries metrics.Retries
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteCode records an error answer's errorCode on w's recorder, if any.
func noteCode(w http.ResponseWriter, code string) {
	if rec, ok := w.(*recorder); ok {
		rec.code = code
	}
}

// noteCaller records the authenticated caller on w's recorder, if any.
func noteCaller(w http.ResponseWriter, c events.Caller) {
	if rec, ok := w.(*recorder); ok {
		rec.caller = c
	}
}

// commandContext is the context a command runs in: with the recorder's
// retry count, when there is one.
func commandContext(w http.ResponseWriter, r *http.Request) context.Context {
	if rec, ok := w.(*recorder); ok {
		return metrics.WithRetries(r.Context(), &rec.retries)
	}
	return r.Context()
}

// instrument serves o with serve, recording its command outcome and
// writing its access log line. A check with its line below the logger's
// level is served as it is: no recorder, nothing allocated.
func (a *server) instrument(o *api.Op, serve func(w http.ResponseWriter, r *http.Request)) http.Handler {
	level := accessLevel(o)
	var cmd *metrics.CommandOp
	if a.Metrics != nil && o.Kind == api.Command {
		cmd = a.Metrics.Commands.Op(o.Name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cmd == nil && !a.Logger.Enabled(r.Context(), level) {
			serve(w, r)
			return
		}
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		serve(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK // nothing written: net/http answers 200
		}
		cmd.Observe(metrics.OutcomeOf(rec.status, rec.retries.Load()), start)
		a.logAccess(r.Context(), level, requestID(r), o.Name, r, rec, start)
	})
}

// logAccess writes a request's access log line.
func (a *server) logAccess(ctx context.Context, level slog.Level, id, op string, r *http.Request, rec *recorder, start time.Time) {
	if !a.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs, slog.String("transport", "http"), slog.String("requestId", id),
		slog.String("operation", op), slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)),
		slog.Int("status", rec.status))
	if rec.code != "" {
		attrs = append(attrs, slog.String("errorCode", rec.code))
	}
	attrs = append(attrs, callerAttrs(rec.caller)...)
	attrs = append(attrs, slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	a.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// callerAttrs names a caller in a log line: its actor type and id (and the
// owner a token acts for), never its credential.
func callerAttrs(c events.Caller) []slog.Attr {
	if c.Type == "" {
		return nil
	}
	attrs := []slog.Attr{slog.String("actorType", c.Type), slog.String("actorId", c.ID)}
	if c.OnBehalfOf != nil {
		attrs = append(attrs, slog.String("onBehalfOf", c.OnBehalfOf.Type+":"+c.OnBehalfOf.ID))
	}
	return attrs
}

// accessLogged wraps a handler outside the operation table (health,
// readiness, metrics, unknown paths) with the access log, under the
// operation name op.
func (a *server) accessLogged(op string, level slog.Level, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.Logger.Enabled(r.Context(), level) {
			h(w, r)
			return
		}
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		h(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		a.logAccess(r.Context(), level, requestID(r), op, r, rec, start)
	}
}

// checkTransport is the metrics' transport of this edge.
const checkTransport = metrics.HTTP

// checks are the check metrics, nil without metrics.
func (a *server) checks() *metrics.Checks {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics.Checks
}

// fastRefused records a check or batch refused before it was decoded
// (the node does not serve it, or the caller is not authenticated).
func (a *server) fastRefused(o *api.Op, start time.Time) {
	switch o.Name {
	case "check":
		a.checks().Check(checkTransport, metrics.Error, start)
	case "checks":
		a.checks().Batch(checkTransport, 0, 0, 0, true, start)
	}
}

// maxLoggedPath bounds the path an access log line holds (an unknown path
// of 64 KiB would otherwise make a line as long).
const maxLoggedPath = 256

func logPath(p string) string {
	if len(p) <= maxLoggedPath {
		return p
	}
	return p[:maxLoggedPath] + "…"
}
