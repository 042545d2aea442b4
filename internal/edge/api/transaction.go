package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/grantlog/grantlog/command"
)

type (
	// Transaction is the request of the transaction operation: commands
	// applied all or none, at one revision.
	Transaction struct {
		// Steps are the commands, in order: each names an operation of
		// TxOps and carries the request that operation takes (its path,
		// query and body fields as one JSON object, as over NATS).
		Steps []TxStep `json:"steps"`
		Reason
	}
	// TxStep is one command of a transaction.
	TxStep struct {
		Op      string          `json:"op"`
		Request json.RawMessage `json:"request"`
	}
	// TransactionResult answers a transaction: the revision of its last
	// event, which every step's change is visible at (and none before).
	TransactionResult struct {
		Revision uint64 `json:"revision"`
		Steps    int    `json:"steps"`
	}
)

// txStep runs one operation's command inside a transaction.
type txStep func(ctx context.Context, s *command.Service, m command.Meta, in any) error

func stepOf[Req any](f func(ctx context.Context, s *command.Service, m command.Meta, in *Req) error) txStep {
	return func(ctx context.Context, s *command.Service, m command.Meta, in any) error {
		req, ok := in.(*Req)
		if !ok {
			return fmt.Errorf("api: transaction step: request is a %T, want %T", in, req)
		}
		return f(ctx, s, m, req)
	}
}

// reason is the step's own reason, else the transaction's.
func reason(m command.Meta, r Reason) command.Meta {
	if r.Reason != "" {
		m.Reason = r.Reason
	}
	return m
}

// txSteps are the operations a transaction may hold: the commands that
// define roles, namespaces, scopes, endpoints and assignments (what
// grantlog apply changes). Commands that make secrets, and the batch and
// catalog loads, are not steps.
var txSteps = map[string]txStep{
	"role.create": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *roleCreate) error {
		_, _, err := s.CreateRole(ctx, reason(m, in.Reason), in.CreateRole)
		return err
	}),
	"role.update": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *roleUpdate) error {
		_, err := s.UpdateRole(ctx, reason(m, in.Reason), in.RoleID, in.UpdateRole)
		return err
	}),
	"role.delete": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *roleDelete) error {
		_, err := s.DeleteRole(ctx, reason(m, in.Reason), in.RoleID)
		return err
	}),
	"role.permissions.add":     rolePermsStep(command.AddPermissions),
	"role.permissions.replace": rolePermsStep(command.ReplacePermissions),
	"role.permissions.remove":  rolePermsStep(command.RemovePermissions),
	"assign": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *assign) error {
		_, err := s.AssignRole(ctx, reason(m, in.Reason), in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces,
			command.AssignOptions{NotBefore: in.NotBefore, NotAfter: in.NotAfter})
		return err
	}),
	"unassign": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *unassign) error {
		_, err := s.UnassignRole(ctx, reason(m, in.Reason), in.Namespace, in.UserID, in.RoleID)
		return err
	}),
	"namespace.create": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *namespaceCreate) error {
		_, _, err := s.CreateNamespace(ctx, reason(m, in.Reason), in.CreateNamespace)
		return err
	}),
	"namespace.delete": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *namespaceDelete) error {
		_, err := s.DeleteNamespace(ctx, reason(m, in.Reason), in.Namespace)
		return err
	}),
	"scope.define": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *scopeDefine) error {
		_, err := s.DefineScope(ctx, reason(m, in.Reason), in.Name, in.DefineScope)
		return err
	}),
	"scope.delete": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *scopeDelete) error {
		_, err := s.DeleteScope(ctx, reason(m, in.Reason), in.Name)
		return err
	}),
	"endpoint.register": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *endpointRegister) error {
		_, err := s.RegisterEndpoint(ctx, reason(m, in.Reason), in.Service, in.Endpoint, in.RegisterEndpoint)
		return err
	}),
	"endpoint.delete": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *endpointDelete) error {
		_, err := s.DeleteEndpoint(ctx, reason(m, in.Reason), in.Service, in.Endpoint)
		return err
	}),
}

func rolePermsStep(op command.PermissionOp) txStep {
	return stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *rolePermissions) error {
		_, err := s.ChangePermissions(ctx, reason(m, in.Reason), in.RoleID, op, in.Permissions.Permissions)
		return err
	})
}

// TxOps lists the operations a transaction step may name, sorted.
func TxOps() []string {
	names := make([]string, 0, len(txSteps))
	for n := range txSteps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// runTransaction decodes every step (refusing the whole request at the
// first bad one, before anything runs) and runs them as one transaction.
func runTransaction(ctx context.Context, d *Deps, c *Call, in *Transaction) (TransactionResult, error) {
	if len(in.Steps) == 0 || len(in.Steps) > command.MaxTxSteps {
		return TransactionResult{}, Bad("invalidTransaction", "give 1 to %d steps (got %d); split larger changes", command.MaxTxSteps, len(in.Steps))
	}
	steps := make([]command.Step, len(in.Steps))
	for i, st := range in.Steps {
		run, ok := txSteps[st.Op]
		o, known := ByName(st.Op)
		if !ok || !known {
			return TransactionResult{}, Bad("invalidStep", "steps[%d]: %q cannot be a step; a step is one of %s", i, st.Op, strings.Join(TxOps(), ", "))
		}
		req := o.NewRequest()
		if err := Decode(st.Request, req, o.MaxBytes); err != nil {
			return TransactionResult{}, stepErr(i, st.Op, err)
		}
		steps[i] = func(ctx context.Context, s *command.Service, m command.Meta) error { return run(ctx, s, m, req) }
	}
	rev, err := d.Commands.Transaction(ctx, c.Meta(in.Reason.Reason), in.Steps, steps)
	var se *command.StepError
	if errors.As(err, &se) {
		// The step's own error, saying which step and that nothing changed.
		if e, internal := ErrorOf(se.Err); !internal {
			e.Message = fmt.Sprintf("steps[%d] (%s, of %d): %s; nothing was changed", se.Index, in.Steps[se.Index].Op, se.Count, e.Message)
			return TransactionResult{}, e
		}
	}
	return TransactionResult{Revision: rev, Steps: len(steps)}, err
}

// stepErr names the step in a decoding error.
func stepErr(i int, op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Status: e.Status, Code: e.Code, Message: fmt.Sprintf("steps[%d] (%s): %s", i, op, e.Message)}
	}
	return fmt.Errorf("steps[%d] (%s): %w", i, op, err)
}
