package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error kinds. An *APIError matches (errors.Is) the one its status and
// errorCode say; a network failure matches none of them.
var (
	// ErrInvalid: the request is malformed (400, or 413 for a request over
	// the size limit).
	ErrInvalid = errors.New("client: invalid request")
	// ErrUnauthorized: no credential, or one the server does not accept (401).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrForbidden: the caller lacks the permission the request needs (403).
	ErrForbidden = errors.New("client: forbidden")
	// ErrNotFound: the request names something that does not exist (404).
	ErrNotFound = errors.New("client: not found")
	// ErrConflict: a duplicate name, or a race lost (409).
	ErrConflict = errors.New("client: conflict")
	// ErrKeyReused: the Idempotency-Key was used before for another
	// request (422 idempotencyKeyReused): use a new key.
	ErrKeyReused = errors.New("client: idempotency key reused")
	// ErrNotYet: the node has not applied the revision the request asked
	// for within its wait bound (503 revisionNotYetApplied). The
	// APIError's Revision is the node's applied revision: retry, or ask
	// another node.
	ErrNotYet = errors.New("client: revision not yet applied")
	// ErrWrongNode: the node's role does not serve the request (404
	// notACommandNode: a replica asked a command; notACheckNode: a command
	// node asked a check).
	ErrWrongNode = errors.New("client: wrong node for this request")
	// ErrClosed: the Follower is closed.
	ErrClosed = errors.New("client: follower closed")
	// ErrCompacted: the past revision asked (CheckRequest.AtRevision,
	// AsOf) is no longer answerable (410 revisionCompacted); the
	// APIError's OldestRevision is the oldest the node can answer.
	ErrCompacted = errors.New("client: revision compacted")
	// ErrNoHistory: whoever answered does not answer questions about the
	// past (501 historyUnavailable): a Follower, for one; ask a node.
	ErrNoHistory = errors.New("client: history unavailable")
)

// Error codes with a meaning of their own to the SDK.
const (
	codeNotYet          = "revisionNotYetApplied"
	codeNotACommandNode = "notACommandNode"
	codeNotACheckNode   = "notACheckNode"
)

// APIError is an error answer of Grantlog: {errorCode, errorMessage,
// revision?}, with the HTTP status it came with (over NATS: the status the
// same error gets over HTTP). Test it with errors.Is against the Err*
// sentinels, or errors.As for the details.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"errorCode"`
	Message string `json:"errorMessage"`
	// Revision is the answering node's applied revision, set with
	// ErrNotYet.
	Revision uint64 `json:"revision,omitempty"`
	// OldestRevision is the oldest revision the node can still answer,
	// set with ErrCompacted.
	OldestRevision uint64 `json:"oldestRevision,omitempty"`
	// RequestID is the request id the server logged the request under
	// (HTTP only).
	RequestID string `json:"requestId,omitempty"`
}

func (e *APIError) Error() string {
	if e.Revision > 0 {
		return fmt.Sprintf("grantlog: %d %s: %s (revision %d)", e.Status, e.Code, e.Message, e.Revision)
	}
	return fmt.Sprintf("grantlog: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is reports whether target is the error kind of e's status and code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound && !wrongNode(e.Code)
	case ErrWrongNode:
		return e.Status == http.StatusNotFound && wrongNode(e.Code)
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrKeyReused:
		return e.Status == http.StatusUnprocessableEntity
	case ErrNotYet:
		return e.Status == http.StatusServiceUnavailable && e.Code == codeNotYet
	case ErrCompacted:
		return e.Status == http.StatusGone
	case ErrNoHistory:
		return e.Status == http.StatusNotImplemented
	}
	return false
}

func wrongNode(code string) bool { return code == codeNotACommandNode || code == codeNotACheckNode }

// apiError reads an error answer.
func apiError(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(raw, e) != nil || e.Code == "" {
		e.Code, e.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(raw))
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-Id")
	}
	return e
}
