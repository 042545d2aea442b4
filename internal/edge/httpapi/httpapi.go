package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/ratelimit"
	"github.com/grantlog/grantlog/internal/metrics"
)

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = api.MaxRequestBytes

// Authenticator maps an Authorization header to a caller; its errors say
// how to fix the request.
type Authenticator interface {
	Authenticate(header string) (events.Caller, error)
}

// Config wires the API.
type Config struct {
	// Deps are what the operations run against (the command service,
	// the query engine, audit, snapshots, the node's status): the same
	// the NATS edge runs them against. Deps.Status also adds the node's
	// deployment role, head and lag to /readyz.
	Deps *api.Deps
	Auth Authenticator
	// Ready reports readiness for /readyz, with the applied and head revisions.
	Ready func() (ready bool, applied, head uint64)
	// NodeRole is the node's deployment role ("", api.NodeAll,
	// api.NodeCommand or api.NodeReplica): replicas refuse commands,
	// command nodes refuse checks (404, errorCode notACommandNode or
	// notACheckNode). Default all: everything.
	NodeRole string
	Logger   *slog.Logger
	// BodyReadTimeout bounds the time a request body may take to arrive
	// (408 after it); default DefaultBodyReadTimeout, negative for none.
	BodyReadTimeout time.Duration
	// Limiter limits each caller's requests (429 with Retry-After);
	// nil: no limit (ratelimit.go).
	Limiter *ratelimit.Limiter
	// Metrics, when set, records checks (transport http) and commands
	// (observe.go); MetricsHandler, when set, is served at GET /metrics
	// without a credential.
	Metrics        *metrics.Metrics
	MetricsHandler http.Handler
	// Console, when set, is served at GET /console/ (and /console
	// redirects there) without a credential: the admin console's static
	// page (internal/edge/console), which then calls /v1 with the
	// admin's credential. Its requests are limited by address.
	Console http.Handler
}

type server struct {
	Config
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Deps == nil {
		cfg.Deps = &api.Deps{}
	}
	a := &server{Config: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.accessLogged("healthz", slog.LevelDebug, a.healthz))
	mux.HandleFunc("GET /readyz", a.accessLogged("readyz", slog.LevelDebug, a.readyz))
	if cfg.MetricsHandler != nil {
		mux.HandleFunc("GET /metrics", a.accessLogged("metrics", slog.LevelDebug, cfg.MetricsHandler.ServeHTTP))
	}
	for _, o := range api.Table() {
		mux.Handle(o.Method+" "+o.Path, a.route(o))
	}
	if cfg.Console != nil {
		mux.HandleFunc("GET /console/", a.accessLogged("console", slog.LevelDebug, func(w http.ResponseWriter, r *http.Request) {
			if a.Limiter != nil && !a.limit(w, r, ratelimit.AddrKey(r.RemoteAddr)) {
				return
			}
			cfg.Console.ServeHTTP(w, r)
		}))
		mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
		})
	}
	mux.HandleFunc("/", a.accessLogged("", slog.LevelDebug, func(w http.ResponseWriter, r *http.Request) {
		// Unknown paths are limited too (by address): they cost a log
		// line and an answer each.
		if a.Limiter != nil && !a.limit(w, r, ratelimit.AddrKey(r.RemoteAddr)) {
			return
		}
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, http.StatusMethodNotAllowed, "methodNotAllowed",
				fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
			return
		}
		writeError(w, r, http.StatusNotFound, "notFound",
			fmt.Sprintf("no endpoint %s %s; see GET /v1/openapi.json for the API", r.Method, r.URL.Path))
	}))
	return a.withRequestID(a.guard(mux))
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
func (a *server) withRequestID(next http.Handler) http.Handler {
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

func (a *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, applied, head := a.Ready()
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"ready": ready, "revision": applied, "headAtStart": head}
	if a.Deps.Status != nil {
		st := a.Deps.Status()
		body["role"], body["node"], body["head"], body["lag"] = st.Role, st.Node, st.Head, st.Lag
		body["region"], body["stale"], body["staleSeconds"] = st.Region, st.Stale, st.StaleSeconds
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

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	noteCode(w, code)
	writeJSON(w, status, &api.Error{Code: code, Message: msg, RequestID: requestID(r)})
}

// fail answers err, translated by api.ErrorOf (logged when nobody
// translated it).
func (a *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := api.ErrorOf(err)
	e.RequestID = requestID(r)
	noteCode(w, e.Code)
	if internal {
		a.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "requestId", e.RequestID, "err", err)
		e.Message = "internal error; the server log has details under requestId " + e.RequestID
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="grantlog"`)
	}
	writeJSON(w, e.Status, e)
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
