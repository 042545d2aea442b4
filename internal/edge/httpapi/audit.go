package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/query"
)

// AuditHeartbeat is how often an idle audit stream sends a comment line so
// proxies and clients know it is alive.
var AuditHeartbeat = 15 * time.Second

func (a *api) routesAudit(v1 func(string, func(http.ResponseWriter, *http.Request, events.Caller))) {
	v1("GET /v1/audit", a.auditPage)
	v1("GET /v1/audit/stream", a.auditStream)
	v1("GET /v1/audit/effects", a.auditEffects)
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
func (a *api) auditPage(w http.ResponseWriter, r *http.Request, c events.Caller) {
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
func (a *api) auditStream(w http.ResponseWriter, r *http.Request, c events.Caller) {
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
	sub, err := a.Audit.Subscribe(r.Context(), c, f)
	if err != nil {
		a.auditFail(w, r, err)
		return
	}
	defer sub.Stop()
	a.serveEvents(w, r, "audit stream", func(ctx context.Context) (string, any, error) {
		rec, err := sub.Next(ctx)
		return strconv.FormatUint(rec.Revision, 10), rec, err
	})
}

// serveEvents writes server-sent events from next until the client goes,
// the server shuts down or next fails: "id: <revision>" and "data: <JSON>",
// with a heartbeat comment when nothing came for AuditHeartbeat.
func (a *api) serveEvents(w http.ResponseWriter, r *http.Request, what string, next func(context.Context) (string, any, error)) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, ": grantlog %s\nretry: 1000\n\n", what); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	for {
		hctx, cancel := context.WithTimeout(ctx, AuditHeartbeat)
		id, v, err := next(hctx)
		cancel()
		switch {
		case err == nil:
			raw, merr := json.Marshal(v)
			if merr != nil {
				a.Logger.Error(what+": encode", "revision", id, "err", merr)
				return
			}
			if _, err := fmt.Fprintf(w, "id: %s\ndata: %s\n\n", id, raw); err != nil {
				return
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
		default:
			if ctx.Err() == nil && !errors.Is(err, audit.ErrClosed) {
				a.Logger.Warn(what+" ended", "requestId", requestID(r), "err", err)
			}
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// auditEffects serves the permission-change feed (GET /v1/audit/effects).
func (a *api) auditEffects(w http.ResponseWriter, r *http.Request, c events.Caller) {
	if a.auditMissing(w, r) {
		return
	}
	f, ok := auditFilter(w, r)
	if !ok {
		return
	}
	// An effect's event id is "<revision>.<index>": a revision may have
	// several. Resume at that revision, skipping the effects already sent.
	skipRev, skip := uint64(0), -1
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		revS, idxS, _ := strings.Cut(s, ".")
		n, err := strconv.ParseUint(revS, 10, 64)
		k, kerr := strconv.Atoi(idxS)
		if err != nil || kerr != nil || k < 0 {
			writeError(w, r, http.StatusBadRequest, "invalidLastEventId", "Last-Event-ID must be <revision>.<index> as sent in the feed's id lines")
			return
		}
		f.FromRevision, skipRev, skip = n, n, k
	}
	expand := r.URL.Query().Get("expand")
	if expand != "" && expand != "members" {
		writeError(w, r, http.StatusBadRequest, "invalidFilter", `expand may only be "members"`)
		return
	}
	sub, err := a.Audit.SubscribeEffects(r.Context(), c, audit.EffectsFilter{
		Namespaces: f.Namespaces, FromRevision: f.FromRevision, ExpandMembers: expand == "members"})
	if err != nil {
		a.auditFail(w, r, err)
		return
	}
	defer sub.Stop()
	var rev uint64
	idx := 0
	a.serveEvents(w, r, "permission-change feed", func(ctx context.Context) (string, any, error) {
		for {
			e, err := sub.Next(ctx)
			if err != nil {
				return "", nil, err
			}
			if e.Revision != rev {
				rev, idx = e.Revision, 0
			} else {
				idx++
			}
			if e.Revision == skipRev && idx <= skip {
				continue
			}
			return fmt.Sprintf("%d.%d", rev, idx), e, nil
		}
	})
}
