package query

import (
	"errors"
	"fmt"
)

// Error kinds. Errors the Engine returns for a refused request wrap one of
// them inside an *Error carrying a stable code.
var (
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("query: invalid")
	// ErrNotFound: the request names something that does not exist.
	ErrNotFound = errors.New("query: not found")
	// ErrNotYet: the index has not reached the requested revision within the
	// wait bound. The *Error's Revision says where it is.
	ErrNotYet = errors.New("query: revision not yet applied")
)

// Error is a refused query.
type Error struct {
	Kind    error
	Code    string
	Message string
	// Revision is the index's applied revision (set with ErrNotYet).
	Revision uint64
	// Oldest is the oldest revision still answerable (set with ErrGone).
	Oldest uint64
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}
