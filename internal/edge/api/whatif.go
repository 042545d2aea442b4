package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/query"
)

type (
	// WhatIfRequest is the request of the whatif operation: proposed
	// commands, evaluated in order as the caller, of which nothing is
	// appended.
	WhatIfRequest struct {
		// Commands are the proposed commands: each names a NATS command
		// (WhatIfOps) and carries the request that command takes (its
		// path, query and body fields as one JSON object, as over NATS).
		Commands []WhatIfCommand `json:"commands"`
		Paging
		// Reason is each command's reason unless it gives its own (as
		// in a transaction); nothing is recorded.
		Reason
	}
	// WhatIfCommand is one proposed command.
	WhatIfCommand struct {
		Name    string          `json:"name"`
		Request json.RawMessage `json:"request"`
	}
	// WhatIfError is a proposed command refused as the real command would
	// be: its index in commands, errorCode and errorMessage.
	WhatIfError struct {
		Index   int    `json:"index"`
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	// WhatIfResult answers whatif: the diff of effective permissions the
	// accepted commands would make (one page), and the refused commands.
	WhatIfResult struct {
		Revision uint64               `json:"revision"`
		Changes  []query.WhatIfChange `json:"changes"`
		Errors   []WhatIfError        `json:"errors"`
		Paging   struct {
			// Next, when set, is the cursor of the next page (after=).
			Next string `json:"next,omitempty"`
		} `json:"paging"`
		// Withheld says changes in namespaces the caller may not check
		// may be left out.
		Withheld bool `json:"withheld,omitempty"`
	}
)

// whatIfSteps are the commands a what-if may propose: a transaction's
// (txSteps), and those that change or end clients, tokens and many
// assignments without making a secret.
var whatIfSteps = func() map[string]txStep {
	m := map[string]txStep{
		"assign.batch": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *assignBatch) error {
			_, err := s.AssignBatch(ctx, reason(m, in.Reason), in.Namespace, in.Assignments)
			return err
		}),
		"client.update": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *clientUpdate) error {
			_, err := s.UpdateClient(ctx, reason(m, in.Reason), in.Namespace, in.ClientID, in.UpdateClient)
			return err
		}),
		"client.delete": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *clientDelete) error {
			_, err := s.DeleteClient(ctx, reason(m, in.Reason), in.Namespace, in.ClientID)
			return err
		}),
		"client.permissions.add":     clientPermsStep(command.AddPermissions),
		"client.permissions.replace": clientPermsStep(command.ReplacePermissions),
		"client.permissions.remove":  clientPermsStep(command.RemovePermissions),
		"token.revoke": stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *tokenRevoke) error {
			_, err := s.RevokeToken(ctx, reason(m, in.Reason), in.Namespace, in.TokenID)
			return err
		}),
	}
	for name, st := range txSteps {
		m[name] = st
	}
	return m
}()

func clientPermsStep(op command.PermissionOp) txStep {
	return stepOf(func(ctx context.Context, s *command.Service, m command.Meta, in *clientPermissions) error {
		_, err := s.ChangeClientPermissions(ctx, reason(m, in.Reason), in.Namespace, in.ClientID, op, in.Permissions.Permissions)
		return err
	})
}

// WhatIfOps lists the commands a what-if may propose, sorted.
func WhatIfOps() []string {
	names := make([]string, 0, len(whatIfSteps))
	for n := range whatIfSteps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// runWhatIf decodes every proposed command (a bad one is reported in
// errors with its index, as a refused one is), decides them in order
// without appending anything (command.Service.WhatIf) and answers the
// diff of effective permissions of the accepted ones (query.Engine.WhatIf).
func runWhatIf(ctx context.Context, d *Deps, c *Call, in *WhatIfRequest) (WhatIfResult, error) {
	if d.Commands == nil {
		return WhatIfResult{}, unavailable("what-if (a command node does)", "whatIfUnavailable")
	}
	if len(in.Commands) == 0 || len(in.Commands) > command.MaxTxSteps {
		return WhatIfResult{}, Bad("invalidWhatIf", "give 1 to %d commands (got %d); split larger changes", command.MaxTxSteps, len(in.Commands))
	}
	out := WhatIfResult{Changes: []query.WhatIfChange{}, Errors: []WhatIfError{}}
	var steps []command.Step
	var stepIndex []int // the command each step is
	for i, cmd := range in.Commands {
		run, ok := whatIfSteps[cmd.Name]
		o, known := ByName(cmd.Name)
		if !ok || !known {
			out.Errors = append(out.Errors, WhatIfError{Index: i, Code: "invalidCommand",
				Message: fmt.Sprintf("commands[%d]: %q cannot be proposed; a command is one of %s", i, cmd.Name, strings.Join(WhatIfOps(), ", "))})
			continue
		}
		req := o.NewRequest()
		err := Decode(cmd.Request, req, o.MaxBytes)
		if err == nil {
			err = o.Validate(req)
		}
		if err != nil {
			e, internal := ErrorOf(err)
			if internal {
				return WhatIfResult{}, err
			}
			out.Errors = append(out.Errors, WhatIfError{Index: i, Code: e.Code, Message: fmt.Sprintf("commands[%d] (%s): %s", i, cmd.Name, e.Message)})
			continue
		}
		steps = append(steps, func(ctx context.Context, s *command.Service, m command.Meta) error { return run(ctx, s, m, req) })
		stepIndex = append(stepIndex, i)
	}
	var prop command.Proposal
	if len(steps) > 0 {
		var err error
		prop, err = d.Commands.WhatIf(ctx, c.Meta(in.Reason.Reason), steps)
		if err != nil {
			return WhatIfResult{}, err
		}
	}
	for _, se := range prop.Refused {
		e, internal := ErrorOf(se.Err)
		if internal {
			return WhatIfResult{}, fmt.Errorf("api: whatif commands[%d]: %w", stepIndex[se.Index], se.Err)
		}
		i := stepIndex[se.Index]
		out.Errors = append(out.Errors, WhatIfError{Index: i, Code: e.Code, Message: fmt.Sprintf("commands[%d] (%s): %s", i, in.Commands[i].Name, e.Message)})
	}
	slices.SortStableFunc(out.Errors, func(a, b WhatIfError) int { return a.Index - b.Index })
	p, err := d.Query.WhatIf(ctx, c.ReadAt(0), prop.Events, in.After, limit(in.Limit))
	if err != nil {
		return WhatIfResult{}, err
	}
	out.Revision, out.Changes, out.Withheld = p.Revision, p.Changes, p.Withheld
	out.Paging.Next = p.Next
	return out, nil
}
