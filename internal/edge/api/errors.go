package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/query"
)

// Error is a refused request as every edge answers it: an HTTP status (over
// NATS: the status the same request gets over HTTP, in the reply's
// Nats-Service-Error-Code header), a stable errorCode and a message that
// says how to fix the request. Its JSON is the error body of both edges.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"errorCode"`
	Message string `json:"errorMessage"`
	// Revision is the answering node's applied revision, set with
	// revisionNotYetApplied (503).
	Revision uint64 `json:"revision,omitempty"`
	// OldestRevision is the oldest revision the node can still answer,
	// set with revisionCompacted (410).
	OldestRevision uint64 `json:"oldestRevision,omitempty"`
	// RequestID is the id the request was logged under.
	RequestID string `json:"requestId,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Bad is a 400 *Error.
func Bad(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// StatusClientClosed is not a status anyone reads: the client is gone.
// Canceled requests are answered 503 on both edges (see ErrorOf).

// ErrorOf is the one translation of an error of any Grantlog package into
// the answer every edge (HTTP, NATS), the SDK and the follower give it.
// internal reports an error nobody translated: the caller logs it (the
// answer's message points to the log).
func ErrorOf(err error) (e *Error, internal bool) {
	var (
		ae *Error
		ze *auth.Error
		ce *command.Error
		qe *query.Error
	)
	switch {
	case errors.As(err, &ae):
		cp := *ae
		return &cp, false
	case errors.As(err, &ze):
		status := http.StatusForbidden
		if errors.Is(ze.Kind, auth.ErrUnauthorized) {
			status = http.StatusUnauthorized
		}
		return &Error{Status: status, Code: ze.Code, Message: ze.Message}, false
	case errors.As(err, &ce):
		e := &Error{Status: commandStatus(ce.Kind), Code: ce.Code, Message: ce.Message}
		return e, e.Status == http.StatusInternalServerError
	case errors.As(err, &qe):
		e := &Error{Status: queryStatus(qe.Kind), Code: qe.Code, Message: qe.Message}
		if e.Status == http.StatusServiceUnavailable {
			e.Revision = qe.Revision
		}
		if e.Status == http.StatusGone {
			e.OldestRevision = qe.Oldest
		}
		return e, e.Status == http.StatusInternalServerError
	case errors.Is(err, audit.ErrInvalid):
		return Bad("invalidFilter", "%s", err.Error()), false
	case errors.Is(err, audit.ErrClosed):
		return Errorf(http.StatusServiceUnavailable, "shuttingDown", "the node is shutting down; retry on another node or later"), false
	case errors.Is(err, context.Canceled):
		return Errorf(http.StatusServiceUnavailable, "canceled",
			"the request was canceled (the client went away or the node is stopping) and its outcome is unknown; "+
				"retry it with the same Idempotency-Key so that a command is applied at most once"), false
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionDraining):
		return Errorf(http.StatusServiceUnavailable, "eventLogUnavailable",
			"the event log did not answer (NATS is unreachable, or its cluster is electing a new leader) and the outcome is unknown; "+
				"retry in a moment with the same Idempotency-Key so that a command is applied at most once"), false
	case errors.Is(err, context.DeadlineExceeded):
		return Errorf(http.StatusServiceUnavailable, "timeout",
			"the request timed out and its outcome is unknown: a command may still be applied (for example once NATS is reachable again); "+
				"retry it with the same Idempotency-Key so that it is applied at most once"), false
	}
	return Errorf(http.StatusInternalServerError, "internal", "internal error; the server log has details"), true
}

func commandStatus(kind error) int {
	switch {
	case errors.Is(kind, command.ErrKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(kind, command.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(kind, command.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(kind, command.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(kind, command.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, command.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func queryStatus(kind error) int {
	switch {
	case errors.Is(kind, query.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(kind, query.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, query.ErrNotYet):
		return http.StatusServiceUnavailable
	case errors.Is(kind, query.ErrGone):
		return http.StatusGone
	case errors.Is(kind, query.ErrUnavailable):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}
