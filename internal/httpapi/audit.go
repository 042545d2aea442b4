package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/internal/principal"
	"github.com/grantlog/grantlog/query"
)

// AuditHeartbeat is how often an idle audit stream sends a comment line so
// proxies and clients know it is alive.
var AuditHeartbeat = 15 * time.Second

func (a *api) routesAudit(v1 func(string, func(http.ResponseWriter, *http.Request, principal.Caller))) {
	v1("GET /v1/audit", a.auditPage)
	v1("GET /v1/audit/stream", a.auditStream)
}

// auditFilter parses namespace (repeatable), type (repeatable),
// fromRevision and since (RFC 3339, or a Go duration such as "1h" meaning
// that long ago). It writes the error answer itself.
func auditFilter(w http.ResponseWriter, r *http.Request) (audit.Filter, bool) {
	q := r.URL.Query()
	f := audit.Filter{Namespaces: q["namespace"], Types: q["type"]}
	if s := q.Get("fromRevision"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "invalidRevision", "fromRevision must be a non-negative integer")
			return f, false
		}
		f.FromRevision = n
	}
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "invalidSince", err.Error())
			return f, false
		}
		f.Since = t
	}
	return f, true
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (1h, 30m)", s)
}

func (a *api) auditFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, audit.ErrInvalid):
		writeError(w, r, http.StatusBadRequest, "invalidFilter", err.Error())
	case errors.Is(err, audit.ErrClosed):
		writeError(w, r, http.StatusServiceUnavailable, "shuttingDown", "the server is shutting down; retry on another replica or later")
	default:
		a.fail(w, r, err)
	}
}

func (a *api) auditMissing(w http.ResponseWriter, r *http.Request) bool {
	if a.Audit != nil {
		return false
	}
	writeError(w, r, http.StatusNotImplemented, "auditUnavailable", "this server does not serve the audit stream")
	return true
}

// auditPage serves GET /v1/audit: {data: [records], paging: {next}, revision}.
// paging.next, when set, is the fromRevision of the next page.
func (a *api) auditPage(w http.ResponseWriter, r *http.Request, c principal.Caller) {
	if a.auditMissing(w, r) {
		return
	}
	f, ok := auditFilter(w, r)
	if !ok {
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	if limit == 0 {
		limit = query.DefaultLimit
	}
	p, err := a.Audit.Page(r.Context(), c, f, limit)
	if err != nil {
		a.auditFail(w, r, err)
		return
	}
	var pg paging
	if p.Next > 0 {
		pg.Next = strconv.FormatUint(p.Next, 10)
	}
	writeJSON(w, http.StatusOK, pageResponse[audit.Record]{Data: p.Data, Paging: pg, Revision: p.Revision})
}

// auditStream serves GET /v1/audit/stream as server-sent events: one event
// per record, "id: <revision>" and "data: <record JSON>". A Last-Event-ID
// header resumes after that revision (it overrides fromRevision and since).
// An idle stream sends a comment every AuditHeartbeat. The stream ends when
// the client goes away or the server shuts down.
func (a *api) auditStream(w http.ResponseWriter, r *http.Request, c principal.Caller) {
	if a.auditMissing(w, r) {
		return
	}
	f, ok := auditFilter(w, r)
	if !ok {
		return
	}
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "invalidLastEventId", "Last-Event-ID must be a revision (a non-negative integer)")
			return
		}
		f.FromRevision, f.Since = n+1, time.Time{}
	}
	ctx := r.Context()
	sub, err := a.Audit.Subscribe(ctx, c, f)
	if err != nil {
		a.auditFail(w, r, err)
		return
	}
	defer sub.Stop()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": grantlog audit stream\nretry: 1000\n\n"); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	for {
		hctx, cancel := context.WithTimeout(ctx, AuditHeartbeat)
		rec, err := sub.Next(hctx)
		cancel()
		switch {
		case err == nil:
			raw, merr := json.Marshal(rec)
			if merr != nil {
				a.Logger.Error("audit stream: encode record", "revision", rec.Revision, "err", merr)
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", rec.Revision, raw); err != nil {
				return
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
		default:
			if ctx.Err() == nil && !errors.Is(err, audit.ErrClosed) {
				a.Logger.Warn("audit stream ended", "requestId", requestID(r), "err", err)
			}
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
