// Package httpapi serves Grantlog's HTTP/JSON API under /v1, with /healthz
// and /readyz. Every error is JSON {errorCode, errorMessage}; every command
// answer carries the revision of its event.
package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/query"
)

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 1 << 20

// Authenticator maps an Authorization header to a caller; its errors say
// how to fix the request.
type Authenticator interface {
	Authenticate(header string) (events.Caller, error)
}

// Config wires the API.
type Config struct {
	Commands *command.Service
	Query    *query.Engine
	Auth     Authenticator
	// Ready reports readiness for /readyz, with the applied and head revisions.
	Ready func() (ready bool, applied, head uint64)
	// Status, when set, serves GET /v1/status and adds the node's role,
	// head and lag to /readyz.
	Status func() NodeStatus
	// Role is the node's role ("", RoleAll, RoleCommand or RoleReplica):
	// replicas refuse commands, command nodes refuse checks (404, errorCode
	// notACommandNode or notACheckNode). Default RoleAll: everything.
	Role   string
	Logger *slog.Logger
	// Audit serves /v1/audit and /v1/audit/stream; when nil they answer 501.
	Audit *audit.Service
	// Snapshots serves POST /v1/admin/snapshots (see snapshot.go); when nil
	// it answers 501.
	Snapshots Snapshotter
	// BodyReadTimeout bounds the time a request body may take to arrive
	// (408 after it); default DefaultBodyReadTimeout, negative for none.
	BodyReadTimeout time.Duration
}

type api struct {
	Config
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &api{cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	if cfg.Status != nil {
		mux.HandleFunc("GET /v1/status", a.status)
	}

	v1 := func(pattern string, h func(http.ResponseWriter, *http.Request, events.Caller)) {
		mux.HandleFunc(pattern, a.authenticated(h))
	}
	v1("POST /v1/roles", a.createRole)
	v1("GET /v1/roles", a.listRoles)
	v1("GET /v1/roles/{roleId}", a.getRole)
	v1("PATCH /v1/roles/{roleId}", a.updateRole)
	v1("DELETE /v1/roles/{roleId}", a.deleteRole)
	v1("POST /v1/roles/{roleId}/permissions", a.changePermissions(command.AddPermissions))
	v1("PUT /v1/roles/{roleId}/permissions", a.changePermissions(command.ReplacePermissions))
	v1("DELETE /v1/roles/{roleId}/permissions", a.changePermissions(command.RemovePermissions))
	v1("GET /v1/roles/{roleId}/members", a.roleMembers)
	v1("POST /v1/namespaces/{namespace}/users/{userId}/roles", a.assignRole)
	v1("GET /v1/namespaces/{namespace}/users/{userId}/roles", a.userRoles)
	v1("DELETE /v1/namespaces/{namespace}/users/{userId}/roles/{roleId}", a.unassignRole)
	v1("POST /v1/check", a.check)
	v1("POST /v1/checks", a.checkBatch)
	v1("POST /v1/namespaces/{namespace}/assignments:batch", a.assignBatch)
	a.routesModel(v1)
	a.routesAudit(v1)
	v1("POST /v1/admin/snapshots", a.takeSnapshot)
	a.routesBootstrap(v1)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, http.StatusMethodNotAllowed, "methodNotAllowed",
				fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
			return
		}
		writeError(w, r, http.StatusNotFound, "notFound",
			fmt.Sprintf("no endpoint %s %s; see the README for the API", r.Method, r.URL.Path))
	})
	return a.withRequestID(a.guard(a.roleGuard(mux)))
}

// allowedMethods lists the methods some route serves r's path with.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

type ctxKey int

const requestIDKey ctxKey = 0

// withRequestID takes X-Request-Id from the request or makes one, and echoes it.
func (a *api) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

func (a *api) authenticated(h func(http.ResponseWriter, *http.Request, events.Caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller, err := a.Auth.Authenticate(r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="grantlog"`)
			writeError(w, r, http.StatusUnauthorized, "unauthorized", err.Error())
			return
		}
		h(w, r, caller)
	}
}

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, applied, head := a.Ready()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"ready": ready, "revision": applied, "headAtStart": head}
	if a.Status != nil {
		st := a.Status()
		body["role"], body["node"], body["head"], body["lag"] = st.Role, st.Node, st.Head, st.Lag
		if st.Halted != "" {
			body["reason"] = st.Halted
		}
		if st.Refused != nil {
			body["refused"] = st.Refused
		}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = gojson.NewEncoder(w).Encode(v)
}

type errorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	Revision     uint64 `json:"revision,omitempty"`
	RequestID    string `json:"requestId,omitempty"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, errorBody{ErrorCode: code, ErrorMessage: msg, RequestID: requestID(r)})
}

// fail translates an error of any Grantlog package into its HTTP answer.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ce *command.Error
		qe *query.Error
		ae *auth.Error
	)
	switch {
	case errors.As(err, &ae):
		status := http.StatusForbidden
		if errors.Is(ae.Kind, auth.ErrUnauthorized) {
			status = http.StatusUnauthorized
		}
		writeError(w, r, status, ae.Code, ae.Message)
	case errors.As(err, &ce):
		writeError(w, r, statusOf(ce.Kind), ce.Code, ce.Message)
	case errors.As(err, &qe):
		body := errorBody{ErrorCode: qe.Code, ErrorMessage: qe.Message, RequestID: requestID(r)}
		status := statusOf(qe.Kind)
		if status == http.StatusServiceUnavailable {
			body.Revision = qe.Revision
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, status, body)
	case errors.Is(err, context.Canceled):
		writeError(w, r, 499, "canceled", "the request was canceled")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, r, http.StatusServiceUnavailable, "timeout",
			"the request timed out and its outcome is unknown: a command may still be applied (for example once NATS is reachable again); "+
				"retry it with the same Idempotency-Key header so that it is applied at most once")
	default:
		a.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "requestId", requestID(r), "err", err)
		writeError(w, r, http.StatusInternalServerError, "internal", "internal error; the server log has details under requestId "+requestID(r))
	}
}

func statusOf(kind error) int {
	switch {
	case errors.Is(kind, command.ErrInvalid), errors.Is(kind, query.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(kind, command.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(kind, command.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(kind, command.ErrNotFound), errors.Is(kind, query.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, command.ErrConflict):
		return http.StatusConflict
	case errors.Is(kind, query.ErrNotYet):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// decode reads a JSON body into v strictly: unknown fields, trailing data,
// invalid UTF-8 and oversized bodies are errors. It writes the error answer
// itself and returns false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, MaxBodyBytes)
}

// decodeLimit is decode with a body limit of its own. Bodies are decoded
// (and answers encoded) with goccy/go-json: a batch of 1,000 checks spends
// most of its time in JSON.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	var buf []byte
	data, ok := readBody(w, r, &buf, limit)
	if !ok {
		return false
	}
	return decodeFrom(w, r, data, v, limit)
}

// decodeFrom is decodeLimit decoding data, a body readBody read. The raw
// body must be valid UTF-8: decoding would silently replace invalid bytes
// with U+FFFD.
func decodeFrom(w http.ResponseWriter, r *http.Request, data []byte, v any, limit int64) bool {
	if !utf8.Valid(data) {
		at := 0
		for at < len(data) {
			_, size := utf8.DecodeRune(data[at:])
			if size == 1 && data[at] >= utf8.RuneSelf {
				break
			}
			at += size
		}
		writeError(w, r, http.StatusBadRequest, "invalidUtf8",
			fmt.Sprintf("request body is not valid UTF-8 (byte %d); send JSON encoded in UTF-8", at))
		return false
	}
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, "requestTooLarge",
			fmt.Sprintf("request body exceeds %d bytes; split the request", limit))
	case errors.Is(err, io.EOF):
		writeError(w, r, http.StatusBadRequest, "malformedJson", "request body is empty; send a JSON object")
	default:
		writeError(w, r, http.StatusBadRequest, "malformedJson", "request body is not valid JSON for this endpoint: "+err.Error())
	}
	return false
}

// readBody reads the body (at most limit bytes) into *buf, reusing its
// capacity. It answers as decodeLimit does when the body is too large or
// cannot be read, and returns false then.
func readBody(w http.ResponseWriter, r *http.Request, buf *[]byte, limit int64) ([]byte, bool) {
	body := http.MaxBytesReader(w, r.Body, limit)
	b := (*buf)[:0]
	if n := r.ContentLength; n > 0 && n <= limit && int64(cap(b)) <= n {
		b = make([]byte, 0, n+1) // +1: room to see the end of the body
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			*buf = b
			var (
				mbe *http.MaxBytesError
				ne  net.Error
			)
			if errors.As(err, &mbe) {
				writeError(w, r, http.StatusRequestEntityTooLarge, "requestTooLarge",
					fmt.Sprintf("request body exceeds %d bytes; split the request", limit))
			} else if errors.As(err, &ne) && ne.Timeout() {
				w.Header().Set("Connection", "close")
				writeError(w, r, http.StatusRequestTimeout, "requestTimeout",
					"the request body did not arrive in time; send it at once")
			} else {
				writeError(w, r, http.StatusBadRequest, "malformedJson", "request body is not valid JSON for this endpoint: "+err.Error())
			}
			return nil, false
		}
	}
	*buf = b
	return b, true
}

// meta builds a command's metadata from the request.
func meta(r *http.Request, c events.Caller, reason string) command.Meta {
	return command.Meta{
		Caller:        c,
		CommandID:     r.Header.Get("Idempotency-Key"),
		CorrelationID: requestID(r),
		Reason:        reason,
		Source:        source(r),
	}
}

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

// readOptions parses common read parameters.
func readOptions(w http.ResponseWriter, r *http.Request, c events.Caller) (query.ReadOptions, bool) {
	o := query.ReadOptions{Caller: c}
	if s := r.URL.Query().Get("atLeastRevision"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "invalidRevision", "atLeastRevision must be a non-negative integer")
			return o, false
		}
		o.AtLeastRevision = n
	}
	return o, true
}

func limitParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > query.MaxLimit {
		writeError(w, r, http.StatusBadRequest, "invalidLimit", fmt.Sprintf("limit must be an integer from 1 to %d", query.MaxLimit))
		return 0, false
	}
	return n, true
}
