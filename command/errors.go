package command

import (
	"errors"
	"fmt"
)

// Error kinds. Every error a Service returns for a refused command wraps one
// of them (test with errors.Is) inside an *Error carrying a stable code.
var (
	// ErrInvalid: the command is malformed or breaks a validation rule.
	ErrInvalid = errors.New("command: invalid")
	// ErrUnauthorized: no caller identity.
	ErrUnauthorized = errors.New("command: unauthorized")
	// ErrForbidden: the caller lacks the permission the command needs.
	ErrForbidden = errors.New("command: forbidden")
	// ErrNotFound: the command names something that does not exist.
	ErrNotFound = errors.New("command: not found")
	// ErrConflict: the command conflicts with the current state (duplicate
	// name) or lost a race it could not resolve by retrying.
	ErrConflict = errors.New("command: conflict")
	// ErrKeyReused: the Idempotency-Key was used before for another
	// request (code idempotencyKeyReused; 422 over HTTP).
	ErrKeyReused = errors.New("command: idempotency key reused")
)

// Error is a refused command: a kind (one of the Err* sentinels), a stable
// machine-readable code and a message that says how to fix the request.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, code, format string, args ...any) error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}
