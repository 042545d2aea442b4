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
	"github.com/grantlog/grantlog/internal/edge/api"
)

// AuditHeartbeat is how often an idle audit stream sends a comment line so
// proxies and clients know it is alive.
var AuditHeartbeat = 15 * time.Second

// auditStream serves GET /v1/audit/stream as server-sent events: one event
// per record, "id: <revision>" and "data: <record JSON>". A Last-Event-ID
// header resumes after that revision (it overrides fromRevision and since).
// An idle stream sends a comment every AuditHeartbeat. The stream ends when
// the client goes away or the server shuts down.
func (a *server) auditStream(w http.ResponseWriter, r *http.Request, c events.Caller, in any) {
	if a.Deps.Audit == nil {
		a.fail(w, r, api.Errorf(http.StatusNotImplemented, "auditUnavailable", "this node does not serve the audit stream"))
		return
	}
	af, ok := in.(*api.AuditFilter)
	if !ok {
		a.fail(w, r, fmt.Errorf("httpapi: audit stream: request is a %T", in))
		return
	}
	f, err := af.Filter(time.Now())
	if err != nil {
		a.fail(w, r, err)
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
	sub, err := a.Deps.Audit.Subscribe(r.Context(), c, f)
	if err != nil {
		a.fail(w, r, err)
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
func (a *server) serveEvents(w http.ResponseWriter, r *http.Request, what string, next func(context.Context) (string, any, error)) {
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
func (a *server) auditEffects(w http.ResponseWriter, r *http.Request, c events.Caller, in any) {
	if a.Deps.Audit == nil {
		a.fail(w, r, api.Errorf(http.StatusNotImplemented, "auditUnavailable", "this node does not serve the audit stream"))
		return
	}
	req, ok := in.(*api.EffectsRequest)
	if !ok {
		a.fail(w, r, fmt.Errorf("httpapi: permission-change feed: request is a %T", in))
		return
	}
	f := audit.Filter{Namespaces: req.Namespace, FromRevision: req.FromRevision}
	expand := req.Expand
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
	sub, err := a.Deps.Audit.SubscribeEffects(r.Context(), c, audit.EffectsFilter{
		Namespaces: f.Namespaces, FromRevision: f.FromRevision, ExpandMembers: expand == "members"})
	if err != nil {
		a.fail(w, r, err)
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
