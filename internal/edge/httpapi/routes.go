package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/internal/edge/ratelimit"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/query"
)

// SourceHeader lets a client say it is the grantlog CLI (value "cli"): the
// audit record then says the change came through the CLI (over HTTP).
const SourceHeader = "Grantlog-Source"

// source is what the audit record says a command came through.
func source(r *http.Request) *events.Source {
	via := events.ViaHTTP
	if r.Header.Get(SourceHeader) == events.ViaCLI {
		via = events.ViaCLI
	}
	return &events.Source{Via: via, RequestID: requestID(r), RemoteAddr: r.RemoteAddr}
}

// route is the handler of one operation: refuse what this node's
// deployment role does not serve, authenticate, bind the request (body,
// path, query), validate it, run it and answer its JSON with the
// operation's status. The check paths and the audit streams have
// handlers of their own.
func (a *server) route(o *api.Op) http.Handler {
	var serve func(w http.ResponseWriter, r *http.Request, c events.Caller, in any, start time.Time)
	switch {
	case o.Fast && o.Name == "check":
		serve = a.check
	case o.Fast && o.Name == "checks":
		serve = a.checkBatch
	case o.Stream && o.Name == "audit.stream":
		serve = func(w http.ResponseWriter, r *http.Request, c events.Caller, in any, _ time.Time) {
			a.auditStream(w, r, c, in)
		}
	case o.Stream && o.Name == "audit.effects":
		serve = func(w http.ResponseWriter, r *http.Request, c events.Caller, in any, _ time.Time) {
			a.auditEffects(w, r, c, in)
		}
	case o.Fast || o.Stream:
		panic(fmt.Sprintf("httpapi: no handler for the special operation %s", o.Name))
	default:
		serve = func(w http.ResponseWriter, r *http.Request, c events.Caller, in any, _ time.Time) {
			call := &api.Call{Caller: c, IdempotencyKey: r.Header.Get(api.IdempotencyKeyHeader), RequestID: requestID(r), Source: source(r)}
			out, err := o.Run(commandContext(w, r), a.Deps, call, in)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			if o.NoStore {
				w.Header().Set("Cache-Control", "no-store")
			}
			if o.Status == http.StatusNoContent { // 204 carries no body
				w.WriteHeader(o.Status)
				return
			}
			writeJSON(w, o.Status, out)
		}
	}
	return a.instrument(o, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if e := o.Refusal(a.NodeRole); e != nil {
			a.fastRefused(o, start)
			a.fail(w, r, e)
			return
		}
		var caller events.Caller
		if !o.Public {
			c, err := a.Auth.Authenticate(r.Header.Get(api.AuthorizationHeader))
			if err != nil {
				if a.Limiter != nil && !a.limit(w, r, ratelimit.AddrKey(r.RemoteAddr)) {
					return
				}
				a.fastRefused(o, start)
				a.fail(w, r, api.Errorf(http.StatusUnauthorized, "unauthorized", "%s", err.Error()))
				return
			}
			caller = c
			noteCaller(w, c)
			if a.Limiter != nil && !a.limit(w, r, ratelimit.CallerKey(c)) {
				return
			}
		} else if a.Limiter != nil && !a.limit(w, r, ratelimit.AddrKey(r.RemoteAddr)) {
			return
		}
		if o.Fast { // reads its own body
			serve(w, r, caller, nil, start)
			return
		}
		in := o.NewRequest()
		if !o.Body && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			// A body the operation does not read would be dropped
			// silently (a reason with it): refuse it.
			var buf []byte
			data, ok := readBody(w, r, &buf, int64(o.MaxBytes))
			if !ok {
				return
			}
			if len(bytes.TrimSpace(data)) > 0 {
				a.fail(w, r, api.Bad("unexpectedBody", "%s %s takes no body: send its parameters in the path and query string", o.Method, o.Path))
				return
			}
		}
		if o.Body {
			var buf []byte
			data, ok := readBody(w, r, &buf, int64(o.MaxBytes))
			if !ok {
				return
			}
			if err := api.Decode(data, in, o.MaxBytes); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		if err := o.BindHTTP(in, r.PathValue, r.URL.Query()); err != nil {
			a.fail(w, r, err)
			return
		}
		if err := o.Validate(in); err != nil {
			a.fail(w, r, err)
			return
		}
		serve(w, r, caller, in, start)
	})
}

// check answers one check (POST /v1/check).
func (a *server) check(w http.ResponseWriter, r *http.Request, c events.Caller, _ any, start time.Time) {
	bb := checkjson.GetBuffers()
	defer bb.Release()
	data, ok := readBody(w, r, &bb.In, MaxBodyBytes)
	if !ok {
		a.checks().Check(checkTransport, metrics.Error, start)
		return
	}
	var req query.CheckRequest
	if err := api.Decode(data, &req, MaxBodyBytes); err != nil {
		a.checks().Check(checkTransport, metrics.Error, start)
		a.fail(w, r, err)
		return
	}
	res, err := a.Deps.Query.CheckAs(r.Context(), c, &req)
	a.checks().Check(checkTransport, metrics.DecisionOf(res.Allowed, err), start)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// checkBatch answers many checks at one revision (POST /v1/checks). It
// reads the body into a pooled buffer, decodes it with checkjson's fast
// path (the generic decoder, with its errors, for anything else) and
// writes the answer with checkjson's encoder: the same JSON as writeJSON.
func (a *server) checkBatch(w http.ResponseWriter, r *http.Request, c events.Caller, _ any, start time.Time) {
	bb := checkjson.GetBuffers()
	defer bb.Release()
	data, ok := readBody(w, r, &bb.In, MaxBodyBytes)
	if !ok {
		a.checks().Batch(checkTransport, 0, 0, 0, true, start)
		return
	}
	req := &bb.Req
	if !checkjson.DecodeBatchRequest(data, req) {
		req = &query.BatchRequest{}
		if err := api.Decode(data, req, MaxBodyBytes); err != nil {
			a.checks().Batch(checkTransport, 0, 0, 0, true, start)
			a.fail(w, r, err)
			return
		}
	}
	if err := a.Deps.Query.CheckBatchAsInto(r.Context(), c, req, &bb.Res); err != nil {
		a.checks().Batch(checkTransport, 0, 0, 0, true, start)
		a.fail(w, r, err)
		return
	}
	if cs := a.checks(); cs != nil {
		allowed, denied, errored := checkjson.Decisions(&bb.Res)
		cs.Batch(checkTransport, allowed, denied, errored, false, start)
	}
	out, err := checkjson.AppendBatchResult(bb.Out[:0], &bb.Res)
	if err != nil {
		a.fail(w, r, fmt.Errorf("httpapi: encode batch answer: %w", err))
		return
	}
	out = append(out, '\n') // as json.Encoder writes it
	bb.Out = out
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
