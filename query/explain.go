package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// seeRule is the read that shows a part of an explanation: the caller must
// hold resource Read in namespace ns, as the read listing that part needs.
type seeRule struct{ resource, ns string }

// Rules of the reads that list what explanations show.
func seeAssignment(ns string) seeRule  { return seeRule{auth.PermAssignment(ns), ns} }
func seeDefaultRole(ns string) seeRule { return seeRule{auth.PermNamespace(ns), ns} }
func seeClient(ns string) seeRule      { return seeRule{auth.PermClient(ns), ns} }
func seeToken(t *index.Token) seeRule {
	return seeRule{auth.PermToken(t.Namespace, t.Owner.ID), t.Namespace}
}

// readable returns whether caller may read what a rule guards, asking the
// authorizer once per rule (fail closed: any error hides).
func (e *Engine) readable(ctx context.Context, caller events.Caller) func(seeRule) bool {
	seen := map[seeRule]bool{}
	return func(r seeRule) bool {
		ok, done := seen[r]
		if !done {
			ok = e.authorize(ctx, ReadOptions{Caller: caller}, r.resource, perm.Read, r.ns) == nil
			seen[r] = ok
		}
		return ok
	}
}

type explainer struct {
	grants []GrantReason
	see    []seeRule // what shows grants[i]
	// considered has what shows each assignment, default role and client
	// role looked at.
	considered []seeRule
	next       time.Time
	notes      []explainNote

	// Set when the evaluation ends.
	required                    perm.Permission
	now                         time.Time
	allowed                     bool
	unknownClient, unknownToken bool
	// Set by redact.
	redacted, withheld bool
}

// explainNote is a note of a denial; plain replaces text for a caller who
// may not read what see guards.
type explainNote struct {
	text, plain string
	see         seeRule
}

func (x *explainer) grant(g GrantReason, see seeRule) {
	x.grants = append(x.grants, g)
	x.see = append(x.see, see)
}

// redact drops the grants, considered items and note details the caller
// may not read (visible says what it may). The answer is unchanged.
func (x *explainer) redact(visible func(seeRule) bool) {
	x.redacted = true
	kept := x.grants[:0]
	for i := range x.grants {
		if visible(x.see[i]) {
			kept = append(kept, x.grants[i])
		} else {
			x.withheld = true
		}
	}
	x.grants, x.see = kept, nil
	n := 0
	for _, r := range x.considered {
		if visible(r) {
			x.considered[n] = r
			n++
		}
	}
	x.considered = x.considered[:n]
	for i := range x.notes {
		if !visible(x.notes[i].see) {
			x.notes[i].text = x.notes[i].plain
		}
	}
}

func (x *explainer) at(t time.Time, now time.Time) {
	if t.After(now) && (x.next.IsZero() || t.Before(x.next)) {
		x.next = t
	}
}

// finish builds the explanation of req.
func (x *explainer) finish(req *CheckRequest) *Explanation {
	ex := &Explanation{
		Required:    x.required,
		Considered:  len(x.considered),
		EvaluatedAt: x.now,
		Withheld:    x.withheld,
	}
	if x.allowed {
		ex.Grants = x.grants
	}
	if !x.next.IsZero() {
		t := x.next
		ex.ChangesAt = &t
	}
	withheld := ""
	if x.withheld {
		withheld = " (and grants the caller may not read)"
	}
	switch {
	case x.unknownClient:
		ex.Summary = "denied: no client " + req.Subject.ID
	case x.unknownToken:
		ex.Summary = "denied: the token is unknown or revoked"
	case x.allowed && len(x.grants) == 0:
		ex.Summary = "allowed: by grants the caller may not read"
	case x.allowed && x.grants[len(x.grants)-1].Source == SourceToken:
		ex.Summary = "allowed: the token's permission " + x.grants[0].Permission.Resource + " allows it" + withheld
	case x.allowed:
		g := x.grants[len(x.grants)-1]
		var where string
		switch {
		case g.Source == SourceAssignment && g.IsWildcard:
			where = ", assigned in namespace " + g.AssignmentNamespace + " to apply in every namespace ({namespace} = " + req.Namespace + ")"
		case g.Source == SourceAssignment:
			where = ", assigned in namespace " + g.AssignmentNamespace + " to apply in namespaces " + strings.Join(g.AssignedNamespaces, ", ")
		case g.Source == SourceDefaultRole:
			where = ", a default role of namespace " + req.Namespace
		}
		who := "role " + g.RoleName + where
		if g.RoleName == "" {
			who = "the client's own permission"
		}
		ex.Summary = fmt.Sprintf("allowed: %s grants %s with action %s", who, g.Permission.Resource, g.Permission.Action)
		if len(x.grants) > 1 && x.grants[0].Source == SourceToken {
			ex.Summary += " (and the token's permission " + x.grants[0].Permission.Resource + " allows it)"
		} else if x.withheld {
			ex.Summary += withheld
		}
	case len(x.notes) > 0:
		texts := make([]string, len(x.notes))
		for i, n := range x.notes {
			texts[i] = n.text
		}
		ex.Summary = "denied: " + strings.Join(texts, "; ")
	case len(x.considered) == 0 && x.redacted:
		ex.Summary = "denied: the subject has no roles the caller may read"
	case len(x.considered) == 0:
		ex.Summary = "denied: the subject has no roles"
	default:
		ex.Summary = "denied: no permission of the subject's roles covers " + ex.Required.Resource + " with action " + x.required.Action.String()
	}
	return ex
}
