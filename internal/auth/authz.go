package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// Errors returned by Authorize, wrapped in *Error.
var (
	ErrUnauthorized = errors.New("auth: unauthorized")
	ErrForbidden    = errors.New("auth: forbidden")
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

// Checker answers whether a caller holds a permission. *query.Engine satisfies it.
type Checker interface {
	Allows(caller events.Caller, ns, resource string, action perm.Action) (bool, error)
	Holds(caller events.Caller, ns string, p perm.Permission, bind perm.RequiredBinding) (bool, error)
}

// Authorizer implements command.Authorizer and query.Authorizer.
type Authorizer struct {
	checker Checker
}

// NewAuthorizer returns an Authorizer asking checker.
func NewAuthorizer(checker Checker) *Authorizer { return &Authorizer{checker: checker} }

// Authorize returns nil when caller holds required (with {namespace} bound
// to ns), else an *Error.
func (a *Authorizer) Authorize(_ context.Context, caller events.Caller, required perm.Permission, ns string) error {
	if caller.Root {
		return nil
	}
	if caller.ID == "" {
		return &Error{Kind: ErrUnauthorized, Code: "unauthorized", Message: "no credential: send Authorization: Bearer <token>"}
	}
	ok, err := a.checker.Allows(caller, ns, required.Resource, required.Action)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if !ok {
		return &Error{Kind: ErrForbidden, Code: "forbidden", Message: fmt.Sprintf(
			"%s %s lacks permission %s [%s]%s; ask an administrator for a role that grants it",
			caller.Type, caller.ID, required.Resource, required.Action, inNS(ns))}
	}
	return nil
}

func inNS(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + ns
}

// HoldsAll returns nil when caller holds every permission of ps, each
// bound by bind (see query.Engine.Holds), else a 403 *Error naming the
// first permission that exceeds what the caller holds. what says what is
// being granted ("role GameAdmin", "the token").
func (a *Authorizer) HoldsAll(_ context.Context, caller events.Caller, ns string, ps []perm.Permission, bind perm.RequiredBinding, what string) error {
	if caller.Root {
		return nil
	}
	for _, p := range ps {
		ok, err := a.checker.Holds(caller, ns, p, bind)
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		if !ok {
			scope := ""
			if bind.Unbound {
				scope = " in every namespace and for every user"
			} else if bind.Namespace != "" {
				scope = " in namespace " + bind.Namespace
			}
			return &Error{Kind: ErrForbidden, Code: "exceedsCallerPermissions", Message: fmt.Sprintf(
				"%s would grant %s [%s]%s, which %s %s does not hold itself; nobody can grant more than they hold",
				what, p.Resource, p.Action|p.SchedAction, scope, caller.Type, caller.ID)}
		}
	}
	return nil
}
