package apply

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/command"
)

// WhatIf asks the server what the plan's commands would change in
// effective permissions (POST /v1/whatif: the commands decided as the
// caller, nothing appended), every page of it. An empty plan changes
// nothing and asks nothing.
func (p *Plan) WhatIf(ctx context.Context, cl *client.Client, st *State) (client.WhatIfResult, error) {
	if p.Empty() {
		return client.WhatIfResult{Revision: p.Revision}, nil
	}
	r := &runner{roleIDs: map[string]string{}}
	for k, v := range st.RoleIDs {
		r.roleIDs[k] = v
	}
	for _, s := range p.Steps {
		s.run(r)
	}
	if len(r.steps) > command.MaxTxSteps {
		return client.WhatIfResult{}, fmt.Errorf("the plan makes %d commands; a what-if takes at most %d", len(r.steps), command.MaxTxSteps)
	}
	cmds := make([]client.WhatIfCommand, len(r.steps))
	for i, s := range r.steps {
		cmds[i] = client.WhatIfCommand{Name: s.Op, Request: s.Request}
	}
	return cl.WhatIfAll(ctx, cmds)
}

// PrintWhatIf writes a what-if's answer under a plan: each subject's
// gains and losses, then the commands the server would refuse.
func PrintWhatIf(w io.Writer, res client.WhatIfResult) {
	if len(res.Changes) == 0 && len(res.Errors) == 0 {
		fmt.Fprintf(w, "Effective permissions: no subject gains or loses anything (revision %d).\n", res.Revision)
		return
	}
	fmt.Fprintf(w, "Effective permissions (what-if at revision %d):\n", res.Revision)
	for _, c := range res.Changes {
		who := c.Subject.Type + " " + c.Subject.ID
		if c.Subject.ID == "*" {
			who = "every user"
		}
		fmt.Fprintf(w, "  %s in %s:", who, c.Namespace)
		for _, g := range c.Gained {
			fmt.Fprintf(w, " +%s %s", g.Resource, Action(g.Action).Letters())
		}
		for _, l := range c.Lost {
			fmt.Fprintf(w, " -%s %s", l.Resource, Action(l.Action).Letters())
		}
		fmt.Fprintln(w)
	}
	if res.Withheld {
		fmt.Fprintln(w, "  (changes in namespaces you may not check are left out)")
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "  refused: command %d: %s: %s\n", e.Index, e.Code, strings.TrimSpace(e.Message))
	}
}
