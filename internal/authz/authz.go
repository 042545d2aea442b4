// Package authz guards Grantlog's own API with Grantlog's own permission
// model: a caller may run a command or query only if the index says the
// caller holds the meta-permission it needs (ADMIN:ROLE, ...). The bootstrap
// Super Admin credential holds everything.
package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/grantlog/grantlog/internal/principal"
	"github.com/grantlog/grantlog/perm"
)

// Errors returned by Authorize, wrapped in *Error.
var (
	ErrUnauthorized = errors.New("authz: unauthorized")
	ErrForbidden    = errors.New("authz: forbidden")
)

// Error is a refusal with a stable code.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Checker answers whether a user holds a permission. *query.Engine satisfies it.
type Checker interface {
	Allows(userID, ns, resource string, action perm.Action) (bool, uint64, error)
}

// Authorizer implements command.Authorizer and query.Authorizer.
type Authorizer struct {
	checker Checker
}

// New returns an Authorizer asking checker.
func New(checker Checker) *Authorizer { return &Authorizer{checker: checker} }

// Authorize returns nil when caller holds required (with {namespace} bound
// to ns), else an *Error.
func (a *Authorizer) Authorize(_ context.Context, caller principal.Caller, required perm.Permission, ns string) error {
	if caller.Root {
		return nil
	}
	if caller.ID == "" {
		return &Error{Kind: ErrUnauthorized, Code: "unauthorized", Message: "no credential: send Authorization: Bearer <token>"}
	}
	ok, _, err := a.checker.Allows(caller.ID, ns, required.Resource, required.Action)
	if err != nil {
		return fmt.Errorf("authz: %w", err)
	}
	if !ok {
		return &Error{Kind: ErrForbidden, Code: "forbidden", Message: fmt.Sprintf(
			"%s %s lacks permission %s [%s]; ask an administrator for a role that grants it",
			caller.Type, caller.ID, required.Resource, required.Action)}
	}
	return nil
}
