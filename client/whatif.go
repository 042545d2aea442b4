package client

import (
	"context"

	"github.com/grantlog/grantlog/query"
)

// What-if answers.
type (
	// WhatIfCommand is one proposed command: a NATS command name
	// (role.permissions.remove, assign, …) and the fields its request
	// takes, path and query fields included (as over NATS).
	WhatIfCommand struct {
		Name    string `json:"name"`
		Request any    `json:"request"`
	}
	// WhatIfChange is what one subject, signed into a namespace, would
	// gain and lose (Subject.ID query.EveryUser: every user of the
	// namespace, through its default roles).
	WhatIfChange = query.WhatIfChange
	// WhatIfPermission is a resource and the actions gained or lost on it.
	WhatIfPermission = query.WhatIfPermission
	// WhatIfError is a proposed command refused as the real command
	// would be: its index, errorCode and errorMessage.
	WhatIfError struct {
		Index   int    `json:"index"`
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	// WhatIfResult is one page of a what-if (Next: the After of the next
	// page; Errors are the same on every page).
	WhatIfResult struct {
		Revision uint64         `json:"revision"`
		Changes  []WhatIfChange `json:"changes"`
		Errors   []WhatIfError  `json:"errors"`
		Next     string         `json:"-"`
		// Withheld says changes in namespaces the caller may not check
		// are left out.
		Withheld bool `json:"withheld,omitempty"`
	}
)

// WhatIf evaluates commands in order as the caller, without appending
// anything (POST /v1/whatif), and answers one page of the effective
// permissions each subject would gain or lose, and the commands refused
// (each as the real command would refuse it; the later ones are
// evaluated without it). Ask again with l.After = Next for the next page.
func (c *Client) WhatIf(ctx context.Context, commands []WhatIfCommand, l ListOptions, opts ...CallOption) (WhatIfResult, error) {
	var out struct {
		WhatIfResult
		lookupPaging
	}
	f := l.fields(map[string]any{"commands": commands})
	if err := c.call(ctx, "whatif", f, &out, opts); err != nil {
		return WhatIfResult{}, err
	}
	p := out.WhatIfResult
	p.Next = out.Paging.Next
	return p, nil
}

// WhatIfAll is WhatIf reading every page: all the changes, in order.
func (c *Client) WhatIfAll(ctx context.Context, commands []WhatIfCommand, opts ...CallOption) (WhatIfResult, error) {
	var all WhatIfResult
	l := ListOptions{Limit: query.MaxLimit}
	for {
		p, err := c.WhatIf(ctx, commands, l, opts...)
		if err != nil {
			return WhatIfResult{}, err
		}
		if l.After == "" {
			all = p
		} else {
			all.Changes = append(all.Changes, p.Changes...)
			all.Withheld = all.Withheld || p.Withheld
		}
		if p.Next == "" {
			all.Next = ""
			return all, nil
		}
		l.After = p.Next
	}
}
